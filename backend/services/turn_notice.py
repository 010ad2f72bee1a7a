"""到号提醒: tell a visitor who left the hall that their turn is near.

The rule, in one place:

* A visitor may leave a mobile number for a ticket (at the kiosk or the desk,
  or in the booking the ticket was checked in from). The number is stored
  sealed in ``ticket_contacts``.
* Each queue category has ``turn_near_ahead`` (N, default 3, set on the
  administrator's category page; 0 turns reminders off for the category).
* When a waiting ticket with a number has N or fewer people ahead, one SMS is
  queued -- once: ``sms_messages`` has at most one ``turn_near`` row per ticket
  (a unique constraint), so two dispatchers or a restart never send it twice.
* A number left when the ticket already had N or fewer ahead is not armed:
  that visitor is about to be called and is told so on the ticket itself.
* Nothing is sent for a ticket that is no longer waiting (called, finished,
  cancelled): checked when the reminder is queued and again just before it goes
  out, when it becomes ``cancelled``.
* The text carries the ticket number, the window (the one window serving the
  category, or the ticket's target window; "请留意叫号" when several may call
  it) and the hall's name -- nothing else.

The phone page of a ticket shows the same reminder as a banner (``is_near``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.config import SmsSettings
from backend.db import Database
from backend.models import (
    Appointment,
    Hall,
    QueueCategory,
    Ticket,
    TicketState,
    Window,
    WindowCategory,
)
from backend.models.sms import SmsMessage, TicketContact
from backend.privacy import IdentityProtector
from backend.services import sms
from backend.services.queue import position_of
from backend.services.wakeup import EventWaiter

log = logging.getLogger(__name__)

WINDOW_UNKNOWN = "请留意叫号"
# Alibaba Cloud caps a template variable's length; a hall name is cut to fit.
_PARAM_MAX = 35


def is_near(category: QueueCategory, state: str, ahead: int | None) -> bool:
    """The ticket is waiting with N or fewer people ahead (N > 0)."""
    return (
        state == TicketState.WAITING.value
        and ahead is not None
        and category.turn_near_ahead > 0
        and ahead <= category.turn_near_ahead
    )


def _store_contact(session: Session, ticket: Ticket, cipher: str, last4: str) -> TicketContact:
    category = session.get(QueueCategory, ticket.category_id)
    assert category is not None
    waiting = ticket.state == TicketState.WAITING
    ahead = position_of(session, ticket, category)[0] if waiting else None
    contact = session.get(TicketContact, ticket.id)
    if contact is None:
        contact = TicketContact(ticket_id=ticket.id)
        session.add(contact)
    contact.phone_cipher = cipher
    contact.phone_last4 = last4
    contact.armed = waiting and not is_near(category, ticket.state.value, ahead)
    session.flush()
    return contact


def leave_contact(
    session: Session, *, ticket_id: int, phone: str, protector: IdentityProtector
) -> TicketContact:
    """Store the number a visitor typed for a ticket (BadInput unless a mobile number).
    Armed only when the ticket is further than N from its turn."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise ValueError("no such ticket")
    digits = sms.mobile_number(phone)
    return _store_contact(session, ticket, protector.seal_text(digits), digits[-4:])


def contact_from_booking(session: Session, *, ticket_id: int, appointment: Appointment) -> None:
    """A checked-in booking's number (given, and sealed, when booking) follows its ticket."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not appointment.phone_cipher:
        return
    _store_contact(session, ticket, appointment.phone_cipher, appointment.phone_last4)


def _window_label(session: Session, ticket: Ticket) -> str:
    window_id = ticket.target_window_id
    if window_id is None:
        serving = (
            session.execute(
                select(WindowCategory.window_id).where(
                    WindowCategory.category_id == ticket.category_id
                )
            )
            .scalars()
            .all()
        )
        if len(serving) != 1:
            return WINDOW_UNKNOWN
        window_id = serving[0]
    window = session.get(Window, window_id)
    return f"{window.number}号窗口" if window is not None else WINDOW_UNKNOWN


def message_params(session: Session, ticket: Ticket) -> dict[str, str]:
    """Everything the reminder may say: the ticket number, the window, the hall."""
    hall = session.get(Hall, ticket.hall_id)
    assert hall is not None
    return {
        "ticket": ticket.display,
        "window": _window_label(session, ticket),
        "hall": hall.name[:_PARAM_MAX],
    }


def _due_ticket_ids(session: Session) -> list[int]:
    """Armed, waiting tickets without a reminder that have reached their N."""
    already = exists().where(
        SmsMessage.purpose == sms.TURN_NEAR, SmsMessage.ticket_id == TicketContact.ticket_id
    )
    candidates = (
        session.execute(
            select(Ticket)
            .join(TicketContact, TicketContact.ticket_id == Ticket.id)
            .where(TicketContact.armed.is_(True), Ticket.state == TicketState.WAITING, ~already)
            .order_by(Ticket.id)
        )
        .scalars()
        .all()
    )
    due: list[int] = []
    for ticket in candidates:
        category = session.get(QueueCategory, ticket.category_id)
        assert category is not None
        if is_near(category, ticket.state.value, position_of(session, ticket, category)[0]):
            due.append(ticket.id)
    return due


def queue_due_reminders(
    database: Database,
    *,
    now: datetime,
    protector: IdentityProtector,
    gateway: sms.SmsGateway | None,
) -> int:
    """Queue the reminder of every armed, still waiting ticket that has reached
    its category's N. Returns how many were queued (or recorded off).

    Looked for in a read transaction: on SQLite a write transaction takes the
    database's write lock, and this runs after every hall commit."""
    with database.reading() as session:
        due = _due_ticket_ids(session)
    if not due:
        return 0
    queued = 0
    with database.writing() as session:
        for ticket_id in _due_ticket_ids(session):  # again, under the write transaction
            ticket = session.get(Ticket, ticket_id)
            contact = session.get(TicketContact, ticket_id)
            assert ticket is not None and contact is not None
            # Another process may queue the same ticket at the same moment; the
            # unique (purpose, ticket) lets one of them win and the other skip it.
            try:
                with session.begin_nested():
                    sms.enqueue(
                        session,
                        purpose=sms.TURN_NEAR,
                        hall_id=ticket.hall_id,
                        ticket_id=ticket.id,
                        phone=protector.open_text(contact.phone_cipher),
                        protector=protector,
                        params=message_params(session, ticket),
                        gateway=gateway,
                        now=now,
                    )
            except IntegrityError:
                log.info("turn reminder of ticket %s already queued elsewhere", ticket.id)
                continue
            queued += 1
    return queued


def still_waiting(session: Session, message: SmsMessage) -> bool:
    """Given to sms.dispatch_due: a reminder goes out only for a ticket still waiting."""
    if message.purpose != sms.TURN_NEAR or message.ticket_id is None:
        return True
    ticket = session.get(Ticket, message.ticket_id)
    return ticket is not None and ticket.state == TicketState.WAITING


def run_once(
    database: Database,
    *,
    clock: Callable[[], datetime],
    protector: IdentityProtector,
    gateway: sms.SmsGateway | None,
    settings: SmsSettings | None,
) -> tuple[int, sms.DispatchReport]:
    """One pass: queue the reminders now due, then send what is queued and due."""
    queued = queue_due_reminders(database, now=clock(), protector=protector, gateway=gateway)
    report = sms.DispatchReport()
    if gateway is not None and settings is not None:
        report = sms.dispatch_due(
            database,
            gateway,
            protector,
            clock,
            max_attempts=settings.max_attempts,
            retry_after_seconds=settings.retry_after_seconds,
            still_wanted=still_waiting,
        )
    return queued, report


class ReminderWorker:
    """Runs :func:`run_once` on a daemon thread whenever a hall transaction
    commits (the app's EventWaiter: PostgreSQL NOTIFY / SQLite datagrams), and at
    least every ``idle_seconds`` for retries that have come due. Call-next itself
    does no extra work. One per backend process; several are safe (claims and
    the unique reminder row), only redundant."""

    def __init__(
        self,
        database: Database,
        waiter: EventWaiter,
        *,
        clock: Callable[[], datetime],
        protector: IdentityProtector,
        gateway: sms.SmsGateway | None,
        settings: SmsSettings | None,
        idle_seconds: float = 5.0,
    ) -> None:
        self._database = database
        self._waiter = waiter
        self._clock = clock
        self._protector = protector
        self._gateway = gateway
        self._settings = settings
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.last_error = ""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sms-reminders", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._waiter.announce(0, None)  # wakes the loop now rather than after idle_seconds
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def run_once(self) -> tuple[int, sms.DispatchReport]:
        return run_once(
            self._database,
            clock=self._clock,
            protector=self._protector,
            gateway=self._gateway,
            settings=self._settings,
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            generation = self._waiter.generation()
            try:
                self.run_once()
                self.last_error = ""
            except Exception as error:  # keep the loop alive; the next commit retries
                self.last_error = f"{type(error).__name__}: {error}"[:300]
                log.exception("turn reminders: pass failed")
            self.passes += 1
            self._waiter.wait_for_change(generation, self._idle)
