"""Take a ticket: by department or by matter, priority channel, appointment check-in, print."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from hallbus.errors import ErrorCode
from hallbus.messages import TakeTicket, TicketIssued
from kiosk.gateway import error_code
from kiosk.identity import MOBILE_LENGTH, IdCardRead, mask_mobile, mobile_valid
from kiosk.print_content import ticket_content, where_text
from kiosk.printing import PrinterHealth, PrintOutcome, visitor_message
from kiosk.viewmodels.search import SearchFlow
from kiosk.viewmodels.session import Screen, Session

logger = logging.getLogger(__name__)

PriorityKind = Literal["elderly", "disabled", "military", "pregnant"]
PRIORITY_KINDS: tuple[PriorityKind, ...] = ("elderly", "disabled", "military", "pregnant")
APPOINTMENT_CODE_MAX = 12


@dataclass(frozen=True)
class TicketTarget:
    category: str | None  # exactly one of category / matter_code
    matter_code: str | None
    title: str


class PhoneEntry:
    """The optional 到号提醒 number: typed on the digit keypad, kept only until the ticket.

    The number is never logged and never printed; once accepted the screen shows it
    masked (138****8000).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.number: str | None = None  # accepted, sent as TakeTicket.notify_phone
        self.digits = ""  # being typed on the keypad
        self.editing = False
        self.error_key: str | None = None

    def open(self) -> None:
        self.digits = self.number or ""
        self.editing = True
        self.error_key = None

    def press(self, key: str) -> None:
        if not self.editing:
            return
        self.error_key = None
        if key == "backspace":
            self.digits = self.digits[:-1]
        elif key == "clear":
            self.digits = ""
        elif len(key) == 1 and key.isdigit() and len(self.digits) < MOBILE_LENGTH:
            self.digits += key

    def accept(self) -> bool:
        if not mobile_valid(self.digits):
            self.error_key = "ticket.phone.invalid"
            return False
        self.number, self.digits, self.editing, self.error_key = self.digits, "", False, None
        return True

    def cancel(self) -> None:
        self.digits, self.editing, self.error_key = "", False, None

    def remove(self) -> None:
        self.reset()

    def typed_text(self) -> str:
        # Grouped 3-4-4 while typing so the visitor can check it against their phone.
        d = self.digits
        return " ".join(part for part in (d[:3], d[3:7], d[7:]) if part)


class TicketFlow:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.search = SearchFlow(session)
        self.phone = PhoneEntry()  # one object: the kiosk's actions are bound to its methods
        self.reset()

    def reset(self) -> None:
        self.mode: Literal["department", "matter"] = "department"
        self.priority_on = False
        self.priority_kind: PriorityKind | None = None
        self.id_card: IdCardRead | None = None
        self.target: TicketTarget | None = None
        self.ticket: TicketIssued | None = None
        self.print_outcome: PrintOutcome | None = None
        self.printing = False
        self.appointment_code = ""
        self.phone.reset()
        self.search.reset()

    # ----------------------------------------------------------------- choosing

    def open(self) -> None:
        self.reset()
        self.session.go(Screen.TICKET)

    def set_mode(self, mode: Literal["department", "matter"]) -> None:
        self.mode = mode

    def toggle_priority(self) -> None:
        self.priority_on = not self.priority_on
        if not self.priority_on:
            self.priority_kind = None

    def choose_priority(self, kind: str) -> None:
        if kind in PRIORITY_KINDS:
            self.priority_kind = kind
            self.priority_on = True

    def choose_category(self, prefix: str) -> None:
        category = self.session.category(prefix)
        if category is None or not category.enabled:
            return
        if self.priority_on and category.priority_allowed is False:
            self.session.alert_key = "priority.not_allowed"
            return
        self.target = TicketTarget(category=prefix, matter_code=None, title=category.name)
        self.session.go(Screen.TICKET_CONFIRM)

    def choose_matter(self, matter_code: str) -> None:
        item = next((i for i in self.search.results if i.matter_code == matter_code), None)
        item = item or self.session.cache.item(matter_code)
        if item is None:
            return
        self.target = TicketTarget(category=None, matter_code=matter_code, title=item.name)
        self.session.go(Screen.TICKET_CONFIRM)

    def ticket_for_matter(self, matter_code: str, name: str) -> None:
        """From the guide's matter page straight to confirming a ticket for it."""
        self.reset()
        self.target = TicketTarget(category=None, matter_code=matter_code, title=name)
        self.session.go(Screen.TICKET_CONFIRM)

    def id_card_read(self, read: IdCardRead) -> None:
        screen = self.session.screen
        if screen is Screen.APPOINTMENT:
            self.id_card = read
            self._take(TakeTicket(id_lookup_hash=read.lookup_hash))
        elif screen in (Screen.TICKET, Screen.TICKET_CONFIRM):
            self.id_card = read  # real-name ticket

    # -------------------------------------------------------------- appointment

    def open_appointment(self) -> None:
        self.appointment_code = ""
        self.session.go(Screen.APPOINTMENT)

    def appointment_key(self, key: str) -> None:
        if key == "backspace":
            self.appointment_code = self.appointment_code[:-1]
        elif key == "clear":
            self.appointment_code = ""
        elif len(key) == 1 and key.isalnum() and len(self.appointment_code) < APPOINTMENT_CODE_MAX:
            self.appointment_code += key.upper()

    def submit_appointment(self) -> None:
        if len(self.appointment_code) < 4:
            return
        # No category or matter: a check-in; the hub finds the appointment by its code.
        body = TakeTicket(
            appointment_code=self.appointment_code,
            id_lookup_hash=self.id_card.lookup_hash if self.id_card else None,
        )
        self._take(body)

    # ------------------------------------------------------ 到号提醒 (optional)

    def phone_offered(self) -> bool:
        """No hub flag says whether SMS reminders are on, so the kiosk always offers them
        while the backend is reachable. Offline or degraded the hub issues from its reserved
        block, which carries no number (docs/protocol.md), so the offer is hidden then."""
        return not self.session.offline and not self.session.degraded

    def open_phone(self) -> None:
        if self.phone_offered():
            self.phone.open()

    def accept_phone(self) -> None:
        self.phone.accept()

    # ----------------------------------------------------------------- confirm

    def confirm(self) -> None:
        target = self.target
        if target is None:
            return
        if self.session.offline:
            self.session.alert_key = "offline.unavailable"
            return
        category = self.session.category(target.category) if target.category else None
        if self.phone.editing:
            return  # the keypad covers the confirm button; finish or cancel the number first
        if self.priority_on and self.priority_kind is None:
            self.priority_kind = "elderly"
        priority = self.priority_kind if self.priority_on else None
        if category is not None and priority is not None and category.priority_allowed is False:
            self.session.alert_key = "priority.not_allowed"
            return
        body = TakeTicket(
            category=target.category,
            matter_code=target.matter_code,
            priority_kind=priority,
            id_lookup_hash=self.id_card.lookup_hash if self.id_card else None,
            notify_phone=self.phone.number if self.phone_offered() else None,
        )
        self._take(body)

    def _take(self, body: TakeTicket) -> None:
        session = self.session
        appointment = body.is_check_in

        def done(ticket: TicketIssued) -> None:
            self.phone.reset()  # the hub has it now; the kiosk forgets it
            self.ticket = ticket
            self.print_outcome = None
            self.printing = True
            session.go(Screen.TICKET_DONE)
            self._print(ticket)

        def failed(error: BaseException) -> None:
            code = error_code(error)
            if appointment and code in (ErrorCode.NOT_FOUND, ErrorCode.BAD_SCHEMA):
                session.alert_key = "error.appointment_not_found"
            else:
                session.alert_key = session.alert_for(error, not_found_key="error.closed")

        session.run("ticket.working", lambda: session.gateway.take_ticket(body), done, failed)

    def _print(self, ticket: TicketIssued) -> None:
        """Print off the UI thread; the ticket is already on screen whatever happens."""
        session = self.session
        content = ticket_content(session.hall_name, ticket, session.language, session.zone)

        def job() -> None:
            try:
                outcome = session.printer.print_ticket(content)
            except Exception:  # the printing service should not raise; never lose the ticket
                logger.exception("printing the ticket failed")
                outcome = PrintOutcome(
                    False,
                    PrinterHealth.OFFLINE,
                    visitor_message(
                        PrinterHealth.OFFLINE, printed=False, language=content.language
                    ),
                )
            with session.lock:
                if self.ticket is ticket:
                    self.print_outcome = outcome
                    self.printing = False
            session.changed()

        session.runner.submit(job)

    # ------------------------------------------------------------------ render

    def category_rows(self) -> list[dict[str, Any]]:
        session = self.session
        rows = []
        for category in session.categories():
            # priority_allowed None: the hub does not know; the backend decides.
            refused = self.priority_on and category.priority_allowed is False
            allowed = category.enabled and not refused
            if not category.enabled:
                detail = session.t("ticket.closed")
            elif refused:
                detail = session.t("priority.not_allowed")
            elif category.waiting is None:
                detail = session.t("ticket.waiting_unknown")
            else:
                detail = session.t("ticket.waiting", waiting=category.waiting)
                if category.estimated_wait_minutes is not None:
                    minutes = session.t(
                        "ticket.wait_minutes", minutes=category.estimated_wait_minutes
                    )
                    detail += " · " + minutes
            rows.append(
                {
                    "key": category.prefix,
                    "title": category.name,
                    "detail": detail,
                    "enabled": allowed,
                }
            )
        return rows

    def _target_category(self) -> Any:
        target = self.target
        if target is None:
            return None
        if target.category is not None:
            return self.session.category(target.category)
        item = self.session.cache.item(target.matter_code or "")
        return self.session.category(item.category) if item else None

    def render(self) -> dict[str, Any]:
        session = self.session
        t = session.t
        category = self._target_category()
        confirm_waiting = t("ticket.waiting_unknown")
        confirm_wait = ""
        confirm_where = ""
        if category is not None:
            if category.waiting is not None:
                confirm_waiting = t("ticket.confirm.ahead", waiting=category.waiting)
            if category.estimated_wait_minutes is not None:
                confirm_wait = t("ticket.confirm.wait", minutes=category.estimated_wait_minutes)
            confirm_where = where_text(category.floor, category.window_area, session.language)
        priority_allowed = category is None or category.priority_allowed is not False
        values: dict[str, Any] = {
            "ticket_mode": self.mode,
            "ticket_priority_on": self.priority_on,
            "ticket_category_rows": self.category_rows(),
            "ticket_search_query": self.search.query,
            "ticket_search_rows": self.search.rows(),
            "ticket_search_note": self.search.note(),
            "ticket_id_card_text": t("ticket.id_card.read") if self.id_card else "",
            "confirm_title": self.target.title if self.target else "",
            "confirm_waiting": confirm_waiting,
            "confirm_wait": confirm_wait,
            "confirm_where": confirm_where,
            "confirm_priority_allowed": priority_allowed,
            "confirm_priority_rows": [
                {
                    "key": kind,
                    "title": t(f"priority.{kind}"),
                    "selected": self.priority_on and self.priority_kind == kind,
                }
                for kind in PRIORITY_KINDS
            ],
            "appointment_code": self.appointment_code,
        }
        values.update(self._render_phone())
        values.update(self._render_ticket())
        return values

    def _render_phone(self) -> dict[str, Any]:
        phone = self.phone
        offered = self.phone_offered()
        masked = mask_mobile(phone.number) if phone.number else ""
        return {
            "phone_offered": offered,
            "phone_editing": offered and phone.editing,
            "phone_typed": phone.typed_text() if phone.editing else "",
            "phone_masked": masked,
            "phone_set_text": self.session.t("ticket.phone.set", phone=masked) if masked else "",
            "phone_error": self.session.t(phone.error_key) if phone.error_key else "",
        }

    def _render_ticket(self) -> dict[str, Any]:
        session = self.session
        t = session.t
        ticket = self.ticket
        if ticket is None:
            return {
                "ticket_number": "",
                "ticket_category": "",
                "ticket_ahead": "",
                "ticket_wait": "",
                "ticket_where": "",
                "ticket_time": "",
                "ticket_print_message": "",
                "ticket_print_failed": False,
                "ticket_degraded": "",
            }
        if self.printing:
            message, failed = t("ticket.done.printing"), False
        elif self.print_outcome is not None:
            message, failed = self.print_outcome.visitor_message, not self.print_outcome.printed
        else:
            message, failed = "", False
        return {
            "ticket_number": ticket.number,
            "ticket_category": ticket.category_name,
            "ticket_ahead": t("ticket.done.ahead", ahead=ticket.ahead),
            "ticket_wait": t("ticket.done.wait", minutes=ticket.estimated_wait_minutes),
            "ticket_where": t(
                "ticket.done.where",
                where=where_text(ticket.floor, ticket.window_area, session.language),
            ),
            "ticket_time": t(
                "ticket.done.time", time=session.local(ticket.issued_at).strftime("%H:%M")
            ),
            "ticket_print_message": message,
            "ticket_print_failed": failed,
            "ticket_degraded": t("ticket.done.degraded") if ticket.degraded else "",
        }
