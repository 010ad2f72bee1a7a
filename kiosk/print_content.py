"""From hub replies and device config to what kiosk.printing prints."""

from __future__ import annotations

from datetime import datetime, tzinfo

from hallbus.config import KioskConfig
from hallbus.localtime import to_local
from hallbus.messages import MatterDetail, TicketIssued
from kiosk.i18n import Language, text
from kiosk.printing import (
    ChecklistContent,
    FileConnection,
    MaterialItem,
    PrinterSettings,
    SerialConnection,
    TicketContent,
    UsbConnection,
)
from kiosk.printing.settings import NetworkConnection


def printer_settings(config: KioskConfig) -> PrinterSettings:
    """The device config's flat printer section as the printing package's settings."""
    printer = config.printer
    qr, width = printer.qr, printer.paper_width_mm
    if printer.kind == "usb":
        usb = UsbConnection(vendor_id=printer.vendor_id, product_id=printer.product_id)
        return PrinterSettings(kind="usb", usb=usb, qr=qr, paper_width_mm=width)
    if printer.kind == "serial":
        baudrate = printer.baudrate
        if baudrate not in (9600, 19200, 38400, 57600, 115200):
            raise ValueError(f"printer baudrate {baudrate} is not supported by the printer driver")
        serial = SerialConnection(port=printer.port, baudrate=baudrate)
        return PrinterSettings(kind="serial", serial=serial, qr=qr, paper_width_mm=width)
    if printer.kind == "network":
        network = NetworkConnection(host=printer.host, port=printer.port)
        return PrinterSettings(kind="network", network=network, qr=qr, paper_width_mm=width)
    if printer.kind == "file":
        path = printer.path
        if not path.is_absolute() and config.source_file is not None:
            path = config.source_file.parent / path
        file = FileConnection(path=str(path))
        return PrinterSettings(kind="file", file=file, qr=qr, paper_width_mm=width)
    return PrinterSettings(kind="dummy", qr=qr, paper_width_mm=width)


def where_text(floor: int | None, area: str | None, language: Language) -> str:
    if area and floor is not None:
        return text("ticket.where", language, floor=floor, area=area)
    return area or ""


def ticket_content(
    hall_name: str, ticket: TicketIssued, language: Language, zone: tzinfo
) -> TicketContent:
    # The QR opens the phone page following this ticket. Without a URL from the hub the
    # QR carries the ticket id, which the hall's phone page can also look up.
    follow = ticket.follow_url if ticket.follow_url and ticket.follow_url.isascii() else None
    return TicketContent(
        hall_name=hall_name,
        number=ticket.number,
        category_name=ticket.category_name,
        ahead=ticket.ahead,
        estimated_wait_minutes=ticket.estimated_wait_minutes,
        # The hub stamps UTC; the ticket shows the hall's wall-clock time.
        issued_at=to_local(ticket.issued_at, zone),
        window_area=where_text(ticket.floor, ticket.window_area, language),
        follow_url=follow or ticket.ticket_id.encode("ascii", "ignore").decode() or ticket.number,
        language=language,
    )


def checklist_content(
    hall_name: str, detail: MatterDetail, printed_at: datetime, language: Language
) -> ChecklistContent:
    materials = []
    for material in detail.materials:
        originals = material.count if "原件" in material.form else 0
        copies = material.count if "复印件" in material.form else 0
        materials.append(
            MaterialItem(
                name=material.name,
                original_count=originals,
                copy_count=copies,
                note=material.note,
            )
        )
    fee = None if detail.fee.strip() in ("", "不收费", "免费") else detail.fee
    return ChecklistContent(
        hall_name=hall_name,
        matter_name=detail.name,
        materials=tuple(materials),
        promised_days=detail.promised_days,
        fee=fee,
        window_area=where_text(detail.floor, detail.window_area, language),
        printed_at=printed_at,
        language=language,
    )
