"""The kiosk's printing service: check the printer, print, and never fail the visitor.

The ticket already exists in the backend before anything is printed, so a printer fault only
changes *where* the visitor sees the number: :meth:`TicketPrinter.print_ticket` never raises to
the UI; it returns ``printed=False`` with a plain-words message and the kiosk keeps the ticket
on screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from escpos.escpos import Escpos
from escpos.printer import Dummy

from kiosk.printing.checklist import ChecklistContent, render_checklist
from kiosk.printing.printer import open_printer, paper_profile
from kiosk.printing.settings import PrinterSettings
from kiosk.printing.status import (
    DocumentKind,
    Language,
    PrinterHealth,
    check_printer_status,
    visitor_message,
)
from kiosk.printing.ticket import TicketContent, render_ticket

logger = logging.getLogger(__name__)

HealthListener = Callable[[PrinterHealth], None]
PrinterFactory = Callable[[PrinterSettings], Escpos]


@dataclass(frozen=True)
class PrintOutcome:
    """``printed`` means every byte reached the connection; with ``health`` UNKNOWN nothing
    confirms that paper came out, and ``visitor_message`` says so."""

    printed: bool
    health: PrinterHealth
    visitor_message: str


class TicketPrinter:
    """Prints tickets and checklists on the configured printer; safe to call from any thread.

    The connection is opened on first use and reopened after a failure, so a printer that is
    switched back on or refilled works again without restarting the kiosk.
    """

    def __init__(
        self,
        settings: PrinterSettings,
        *,
        on_health: HealthListener | None = None,
        printer_factory: PrinterFactory = open_printer,
        print_when_status_unknown: bool = True,
    ) -> None:
        """``print_when_status_unknown``: whether to print on connections that cannot report
        status (file, some network boxes). True by default: a ticket that may print beats one
        that never does, and the visitor message covers the case that nothing came out."""
        self._settings = settings
        self._on_health = on_health
        self._printer_factory = printer_factory
        self._print_when_status_unknown = print_when_status_unknown
        self._printer: Escpos | None = None
        self._last_reported: PrinterHealth | None = None
        self._lock = threading.Lock()

    @property
    def last_health(self) -> PrinterHealth | None:
        return self._last_reported

    def check_health(self) -> PrinterHealth:
        """Query the printer now (e.g. on the hub's heartbeat); reports changes."""
        with self._lock:
            return self._check_health_locked()

    def print_ticket(self, content: TicketContent) -> PrintOutcome:
        def render(printer: Escpos) -> None:
            render_ticket(
                printer,
                content,
                self._settings.qr,
                chars_per_line=self._settings.chars_per_line,
                paper_width_mm=self._settings.paper_width_mm,
                cut=self._settings.cut,
            )

        return self._print("ticket", content.language, render)

    def print_checklist(self, content: ChecklistContent) -> PrintOutcome:
        def render(printer: Escpos) -> None:
            render_checklist(
                printer,
                content,
                chars_per_line=self._settings.chars_per_line,
                cut=self._settings.cut,
            )

        return self._print("checklist", content.language, render)

    def close(self) -> None:
        with self._lock:
            self._drop_printer()

    def _print(
        self, document: DocumentKind, language: Language, render: Callable[[Escpos], None]
    ) -> PrintOutcome:
        # Render into memory first: a bad field then fails before a single byte is on paper,
        # and the job goes out in one write so a fault cannot leave half a ticket behind
        # unnoticed.
        try:
            job = self._render_job(render)
        except Exception:
            logger.exception("could not lay out the %s", document)
            health = self._last_reported or PrinterHealth.UNKNOWN
            return PrintOutcome(False, health, _not_printed(health, document, language))

        with self._lock:
            health = self._check_health_locked()
            if not health.can_print or (
                health is PrinterHealth.UNKNOWN and not self._print_when_status_unknown
            ):
                return PrintOutcome(False, health, _not_printed(health, document, language))
            try:
                self._send(job)
            except Exception as error:
                logger.warning("printing the %s failed: %s", document, error)
                self._drop_printer()
                health = PrinterHealth.OFFLINE
                self._report(health)
                return PrintOutcome(False, health, _not_printed(health, document, language))
        message = visitor_message(health, printed=True, document=document, language=language)
        return PrintOutcome(True, health, message)

    def _render_job(self, render: Callable[[Escpos], None]) -> bytes:
        buffer = Dummy(profile=paper_profile(self._settings))
        render(buffer)
        job: bytes = buffer.output
        return job

    def _send(self, job: bytes) -> None:
        printer = self._connected_printer()
        printer._raw(job)
        flush = getattr(printer, "flush", None)
        if callable(flush):  # file printers buffer writes
            flush()

    def _check_health_locked(self) -> PrinterHealth:
        try:
            printer = self._connected_printer()
        except Exception as error:
            logger.warning("printer cannot be opened: %s", error)
            health = PrinterHealth.OFFLINE
        else:
            health = check_printer_status(printer)
            if health is PrinterHealth.OFFLINE:
                # The connection itself failed; reopen it next time.
                self._drop_printer()
        self._report(health)
        return health

    def _connected_printer(self) -> Escpos:
        if self._printer is None:
            self._printer = self._printer_factory(self._settings)
        return self._printer

    def _drop_printer(self) -> None:
        if self._printer is None:
            return
        printer, self._printer = self._printer, None
        try:
            printer.close()
        except Exception as error:  # closing a dead connection may fail; it is gone either way
            logger.debug("closing printer failed: %s", error)

    def _report(self, health: PrinterHealth) -> None:
        if health is self._last_reported:
            return
        self._last_reported = health
        if self._on_health is None:
            return
        try:
            self._on_health(health)
        except Exception:
            # A broken hub link must not stop the visitor's ticket.
            logger.exception("health listener failed")


def _not_printed(health: PrinterHealth, document: DocumentKind, language: Language) -> str:
    return visitor_message(health, printed=False, document=document, language=language)
