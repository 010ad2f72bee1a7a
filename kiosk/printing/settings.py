"""Printer section of the kiosk device configuration.

The device-config loader embeds :class:`PrinterSettings`; this module imports nothing from the
rest of hallkit so the model stays usable on its own (tests, a config linter, the hub).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PrinterKind = Literal["usb", "serial", "network", "file", "dummy"]
QrMode = Literal["native", "image"]
PaperWidthMm = Literal[58, 80]

# Printable width of the common 203 dpi thermal mechanisms: 58 mm paper prints 48 mm (384 dots),
# 80 mm paper prints 72 mm (576 dots). Font A is 12 dots wide, hence 32 and 48 characters.
_PRINTABLE_DOTS: dict[int, int] = {58: 384, 80: 576}
_FONT_A_DOTS = 12


class _StrictModel(BaseModel):
    # A misspelt key in a hand-edited device config must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsbConnection(_StrictModel):
    vendor_id: int = Field(ge=0, le=0xFFFF)
    product_id: int = Field(ge=0, le=0xFFFF)
    # Endpoints differ between printer makes; these are python-escpos's defaults (Epson style).
    in_endpoint: int = Field(default=0x82, ge=0, le=0xFF)
    out_endpoint: int = Field(default=0x01, ge=0, le=0xFF)


class SerialConnection(_StrictModel):
    port: str = Field(min_length=1)
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 9600


class NetworkConnection(_StrictModel):
    host: str = Field(min_length=1)
    port: int = Field(default=9100, ge=1, le=65535)


class FileConnection(_StrictModel):
    path: str = Field(min_length=1)


class PrinterSettings(_StrictModel):
    """Which printer the kiosk talks to and how tickets are laid out on it."""

    kind: PrinterKind
    usb: UsbConnection | None = None
    serial: SerialConnection | None = None
    network: NetworkConnection | None = None
    file: FileConnection | None = None
    qr: QrMode = "native"
    paper_width_mm: PaperWidthMm = 80
    cut: bool = True

    @model_validator(mode="after")
    def _connection_matches_kind(self) -> PrinterSettings:
        sections = {
            "usb": self.usb,
            "serial": self.serial,
            "network": self.network,
            "file": self.file,
        }
        if self.kind != "dummy" and sections[self.kind] is None:
            raise ValueError(
                f"printer kind is {self.kind!r} but the {self.kind!r} section is missing"
            )
        # A leftover section for another kind usually means the config was half edited; refusing
        # it avoids a kiosk silently printing to a different device than the one documented.
        stray = sorted(name for name, section in sections.items() if section and name != self.kind)
        if stray:
            raise ValueError(f"printer kind is {self.kind!r} but sections {stray} are also given")
        return self

    @property
    def printable_dots(self) -> int:
        return _PRINTABLE_DOTS[self.paper_width_mm]

    @property
    def chars_per_line(self) -> int:
        """Columns of the normal font (font A): 32 on 58 mm paper, 48 on 80 mm paper."""
        return self.printable_dots // _FONT_A_DOTS
