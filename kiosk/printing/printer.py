"""Opens the escpos printer object that the device configuration names."""

from __future__ import annotations

import copy
from typing import Any

from escpos import printer as escpos_printers
from escpos.capabilities import Profile, get_profile
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError

from kiosk.printing.settings import PrinterSettings

# python-escpos's defaults would let a stalled printer block the kiosk forever (USB: no
# timeout; network: 60 s; serial: no write timeout). A ticket job is at most ~10 KB, which
# takes about 11 s at 9600 baud, so writes get 30 s; connecting gets a few seconds.
USB_TIMEOUT_MS = 30_000
NETWORK_TIMEOUT_S = 5.0
SERIAL_READ_TIMEOUT_S = 1.0
SERIAL_WRITE_TIMEOUT_S = 30.0


class PrinterConnectionError(RuntimeError):
    """The configured printer could not be opened (unplugged, wrong port, powered off)."""


def paper_profile(settings: PrinterSettings) -> Any:
    """A python-escpos profile that knows the paper width.

    The stock "default" profile has an unknown media width, which makes ``image()`` print a
    warning to stdout on every call and disables its width check. The profile data is copied
    so the module-level profile shared by every printer object is left untouched.
    """
    base = get_profile("default")
    profile = Profile(columns=settings.chars_per_line, features=dict(base.features))
    data = copy.deepcopy(base.profile_data)
    data["media"] = {
        "dpi": 203,
        "width": {"mm": settings.paper_width_mm, "pixels": settings.printable_dots},
    }
    profile.profile_data = data
    return profile


def create_printer(settings: PrinterSettings) -> Escpos:
    """The escpos printer object for ``settings``, not yet connected."""
    profile = paper_profile(settings)
    if settings.kind == "usb":
        assert settings.usb is not None  # guaranteed by PrinterSettings validation
        return escpos_printers.Usb(
            idVendor=settings.usb.vendor_id,
            idProduct=settings.usb.product_id,
            timeout=USB_TIMEOUT_MS,
            in_ep=settings.usb.in_endpoint,
            out_ep=settings.usb.out_endpoint,
            profile=profile,
        )
    if settings.kind == "serial":
        assert settings.serial is not None
        return escpos_printers.Serial(
            devfile=settings.serial.port,
            baudrate=settings.serial.baudrate,
            timeout=SERIAL_READ_TIMEOUT_S,
            profile=profile,
        )
    if settings.kind == "network":
        assert settings.network is not None
        return escpos_printers.Network(
            host=settings.network.host,
            port=settings.network.port,
            timeout=NETWORK_TIMEOUT_S,
            profile=profile,
        )
    if settings.kind == "file":
        assert settings.file is not None
        return escpos_printers.File(devfile=settings.file.path, profile=profile)
    return escpos_printers.Dummy(profile=profile)


def open_printer(settings: PrinterSettings) -> Escpos:
    """Create and connect the configured printer.

    Raises :class:`PrinterConnectionError` when the device cannot be opened, so callers need
    not know python-escpos's exception types.
    """
    printer = create_printer(settings)
    try:
        printer.open()
    except (EscposError, OSError, ValueError) as error:  # pyusb: NoBackendError is a ValueError
        raise PrinterConnectionError(f"cannot open {settings.kind} printer: {error}") from error
    if settings.kind == "serial" and printer.device is not None:
        printer.device.write_timeout = SERIAL_WRITE_TIMEOUT_S
    return printer
