"""Kiosk printing: queue tickets and material checklists on ESC/POS thermal printers.

Typical use by the kiosk UI::

    printer = TicketPrinter(settings.printer, on_health=hub.report_printer_health)
    outcome = printer.print_ticket(content)
    if not outcome.printed:
        show_ticket_on_screen(content, outcome.visitor_message)
"""

from __future__ import annotations

from kiosk.printing.checklist import ChecklistContent, MaterialItem, render_checklist
from kiosk.printing.printer import PrinterConnectionError, create_printer, open_printer
from kiosk.printing.privacy import mask_personal_identifiers
from kiosk.printing.service import PrintOutcome, TicketPrinter
from kiosk.printing.settings import (
    FileConnection,
    NetworkConnection,
    PrinterSettings,
    SerialConnection,
    UsbConnection,
)
from kiosk.printing.status import (
    PrinterHealth,
    check_printer_status,
    staff_message,
    visitor_message,
)
from kiosk.printing.ticket import TicketContent, render_ticket

__all__ = [
    "ChecklistContent",
    "FileConnection",
    "MaterialItem",
    "NetworkConnection",
    "PrintOutcome",
    "PrinterConnectionError",
    "PrinterHealth",
    "PrinterSettings",
    "SerialConnection",
    "TicketContent",
    "TicketPrinter",
    "UsbConnection",
    "check_printer_status",
    "create_printer",
    "mask_personal_identifiers",
    "open_printer",
    "render_checklist",
    "render_ticket",
    "staff_message",
    "visitor_message",
]
