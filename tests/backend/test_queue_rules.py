"""Queue rules: call order policy, numbering, limits, recalls, no-shows, transfers.

These run against the services with an explicit clock, on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from backend.db import Database
from backend.errors import BadInput, InvalidTransition, QueueUnavailable
from backend.models import (
    Appointment,
    Channel,
    Hall,
    QueueCategory,
    RatingRequest,
    Ticket,
    TicketState,
    Window,
    WindowState,
)
from backend.services import eventlog, queue
from hallbus.forecast import wait_minutes

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in the hall


def hall_id(db: Database) -> int:
    with db.reading() as session:
        return session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()


def set_policy(db: Database, **policy: object) -> None:
    with db.writing() as session:
        session.execute(update(Hall).where(Hall.code == "BH").values(call_policy=policy))


def open_window(db: Database, number: str) -> int:
    with db.writing() as session:
        window = session.execute(
            select(Window).where(Window.number == number, Window.hall_id == hall_id(db))
        ).scalar_one()
        window.state = WindowState.OPEN
        return window.id


def book_appointment(db: Database, code: str, slot_start: time, slot_end: time) -> None:
    """A booking in category A for today (the booking page's rules are tested elsewhere)."""
    with db.writing() as session:
        category = queue.category_by_prefix(session, hall_id(db), "A")
        session.add(
            Appointment(
                hall_id=category.hall_id,
                category_id=category.id,
                day=T0.date(),
                slot_start=slot_start,
                slot_end=slot_end,
                code=code,
                name_masked="张*",
                phone_last4="1234",
            )
        )


def issue(db: Database, category: str, at: datetime, **kw: object) -> str:
    with db.writing() as session:
        view = queue.issue_ticket(
            session, hall_id=hall_id(db), category_prefix=category, now=at, actor="test", **kw
        )
        return view.number


def call(db: Database, window_id: int, at: datetime) -> str | None:
    with db.writing() as session:
        result = queue.call_next(session, window_id=window_id, staff_id=None, now=at, actor="test")
        return result.ticket.number if result.ticket else None


def drain(db: Database, window_id: int, at: datetime) -> list[str]:
    called = []
    while (number := call(db, window_id, at)) is not None:
        called.append(number)
        at += timedelta(seconds=1)
    return called


def test_first_come_first_served_within_equal_standing(db: Database) -> None:
    window = open_window(db, "3")  # serves category A only
    numbers = [issue(db, "A", T0 + timedelta(seconds=i)) for i in range(5)]
    assert drain(db, window, T0 + timedelta(minutes=1)) == numbers


def test_priority_then_appointment_then_ordinary_when_strict(db: Database) -> None:
    set_policy(db, ordinary_per_preferred=None)
    window = open_window(db, "3")
    ordinary = issue(db, "A", T0)
    book_appointment(db, "APPT0001", time(9, 30), time(10, 30))
    with db.writing() as session:
        appointment = queue.check_in_appointment(
            session,
            hall_id=hall_id(db),
            code="APPT0001",
            now=T0 + timedelta(seconds=1),
            actor="test",
        ).number
    priority = issue(db, "A", T0 + timedelta(seconds=2), priority_kind="elderly")
    assert drain(db, window, T0 + timedelta(minutes=1)) == [priority, appointment, ordinary]


def test_ratio_two_ordinary_per_priority_prevents_starvation(db: Database) -> None:
    set_policy(db, ordinary_per_preferred=2)
    window = open_window(db, "3")
    ordinary = [issue(db, "A", T0 + timedelta(seconds=i)) for i in range(5)]
    priority = [
        issue(db, "A", T0 + timedelta(seconds=10 + i), priority_kind="disabled") for i in range(3)
    ]
    expected = [
        priority[0],
        ordinary[0],
        ordinary[1],
        priority[1],
        ordinary[2],
        ordinary[3],
        priority[2],
        ordinary[4],
    ]
    assert drain(db, window, T0 + timedelta(minutes=1)) == expected


def test_early_appointment_waits_as_ordinary_until_its_slot(db: Database) -> None:
    set_policy(db, ordinary_per_preferred=None)
    window = open_window(db, "3")
    book_appointment(db, "APPT0002", time(11, 0), time(11, 30))
    first = issue(db, "A", T0)
    with db.writing() as session:  # checks in at 10:00 for an 11:00 slot
        early = queue.check_in_appointment(
            session,
            hall_id=hall_id(db),
            code="APPT0002",
            now=T0 + timedelta(seconds=5),
            actor="test",
        ).number
    later = issue(db, "A", T0 + timedelta(minutes=10))
    # At 10:20 the slot has not started: the appointment's place is 11:00, after both.
    assert call(db, window, T0 + timedelta(minutes=20)) == first
    assert call(db, window, T0 + timedelta(minutes=21)) == later
    assert call(db, window, T0 + timedelta(minutes=22)) == early


def test_window_weight_serves_main_category_before_secondary(db: Database) -> None:
    window = open_window(db, "1")  # A weight 2, Z weight 1
    older_consultation = issue(db, "Z", T0)
    newer_registration = issue(db, "A", T0 + timedelta(minutes=1))
    assert drain(db, window, T0 + timedelta(minutes=2)) == [newer_registration, older_consultation]


def test_transfer_keeps_issue_time_and_targets_the_window(db: Database) -> None:
    first_window = open_window(db, "3")
    second_window = open_window(db, "1")
    transferred = issue(db, "A", T0)
    later = issue(db, "A", T0 + timedelta(minutes=5))
    assert call(db, first_window, T0 + timedelta(minutes=6)) == transferred
    with db.writing() as session:
        ticket_id = session.execute(
            select(Ticket.id).where(Ticket.display == transferred)
        ).scalar_one()
        queue.transfer(
            session,
            hall_id=hall_id(db),
            ticket_id=ticket_id,
            to_category=None,
            to_window="1",
            now=T0 + timedelta(minutes=7),
            actor="test",
        )
    # Window 3 no longer sees it; window 1 calls it before the later ticket.
    assert call(db, first_window, T0 + timedelta(minutes=8)) == later
    issue(db, "A", T0 + timedelta(minutes=9))
    assert call(db, second_window, T0 + timedelta(minutes=10)) == transferred


def test_transfer_to_category_keeps_number_and_place(db: Database) -> None:
    window_b = open_window(db, "5")  # serves B only
    b_ticket_later = issue(db, "B", T0 + timedelta(minutes=3))
    a_ticket = issue(db, "A", T0)
    with db.writing() as session:
        ticket_id = session.execute(
            select(Ticket.id).where(Ticket.display == a_ticket)
        ).scalar_one()
        view = queue.transfer(
            session,
            hall_id=hall_id(db),
            ticket_id=ticket_id,
            to_category="B",
            to_window=None,
            now=T0 + timedelta(minutes=4),
            actor="test",
        )
    assert view.number == a_ticket and view.category == "B"
    assert drain(db, window_b, T0 + timedelta(minutes=5)) == [a_ticket, b_ticket_later]


def test_numbers_run_per_category_and_restart_each_day(db: Database) -> None:
    assert [issue(db, "A", T0), issue(db, "A", T0), issue(db, "B", T0)] == ["A001", "A002", "B001"]
    assert issue(db, "A", T0 + timedelta(days=1)) == "A001"


def test_issue_is_idempotent_on_request_id(db: Database) -> None:
    first = issue(db, "A", T0, client_request_id="kiosk-1:abc")
    again = issue(db, "A", T0 + timedelta(seconds=3), client_request_id="kiosk-1:abc")
    assert first == again
    with db.reading() as session:
        assert session.execute(select(Ticket.id)).all().__len__() == 1


def test_daily_cap_and_issuing_hours(db: Database) -> None:
    with db.writing() as session:
        session.execute(
            update(QueueCategory)
            .where(QueueCategory.prefix == "C", QueueCategory.hall_id == hall_id(db))
            .values(daily_cap=2)
        )
    issue(db, "C", T0)
    issue(db, "C", T0)
    with pytest.raises(QueueUnavailable):
        issue(db, "C", T0)
    with db.reading() as session:
        count = len(session.execute(select(Ticket.id).where(Ticket.display.like("C%"))).all())
    assert count == 2  # the refused request left nothing behind
    evening = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 18:00 in the hall
    with pytest.raises(QueueUnavailable):
        issue(db, "A", evening)


def test_recall_limit_and_no_show_requeue_at_the_back(db: Database) -> None:
    set_policy(db, recall_limit=2, no_show_requeue="back", requeue_limit=1)
    window = open_window(db, "3")
    absent = issue(db, "A", T0)
    present = issue(db, "A", T0 + timedelta(seconds=1))
    assert call(db, window, T0 + timedelta(minutes=1)) == absent
    for _ in range(2):
        with db.writing() as session:
            queue.recall(session, window_id=window, now=T0 + timedelta(minutes=2), actor="test")
    with db.writing() as session, pytest.raises(InvalidTransition):
        queue.recall(session, window_id=window, now=T0 + timedelta(minutes=3), actor="test")
    with db.writing() as session:
        view = queue.no_show(session, window_id=window, now=T0 + timedelta(minutes=4), actor="test")
    assert view.state == "waiting"
    # Back of the line: the one who waited is called first.
    assert drain(db, window, T0 + timedelta(minutes=5)) == [present, absent]


def test_no_show_without_requeue_ends_the_ticket(db: Database) -> None:
    set_policy(db, no_show_requeue="none")
    window = open_window(db, "3")
    absent = issue(db, "A", T0)
    call(db, window, T0 + timedelta(minutes=1))
    with db.writing() as session:
        assert (
            queue.no_show(
                session, window_id=window, now=T0 + timedelta(minutes=2), actor="test"
            ).state
            == "no_show"
        )
    assert call(db, window, T0 + timedelta(minutes=3)) is None
    with db.writing() as session:
        assert (
            queue.requeue_no_show(
                session,
                hall_id=hall_id(db),
                number=absent,
                now=T0 + timedelta(minutes=4),
                actor="test",
            ).state
            == "waiting"
        )


def test_call_next_finishes_the_current_ticket(db: Database) -> None:
    window = open_window(db, "3")
    first = issue(db, "A", T0)
    second = issue(db, "A", T0)
    with db.reading() as session:
        before = eventlog.latest_seq(session, hall_id(db))
    assert call(db, window, T0 + timedelta(minutes=1)) == first
    assert call(db, window, T0 + timedelta(minutes=6)) == second
    assert call(db, window, T0 + timedelta(minutes=9)) is None  # nobody waits: just finish
    with db.reading() as session:
        states = {
            row.display: row.state for row in session.execute(select(Ticket.display, Ticket.state))
        }
        current = session.get(Window, window)
        assert current is not None and current.current_ticket_id is None
        invited = session.execute(
            select(Ticket.display)
            .join(RatingRequest, RatingRequest.ticket_id == Ticket.id)
            .order_by(RatingRequest.id)
        ).scalars()
        assert list(invited) == [first, second]
        events = eventlog.read_events(session, hall_id(db), before)
    assert states[first] is TicketState.DONE and states[second] is TicketState.DONE
    # Each press: the current ticket finished and its rating invited, then the next called.
    assert [(e.kind, e.payload.get("ticket")) for e in events] == [
        ("ticket_called", first),
        ("ticket_finished", first),
        ("rating_requested", first),
        ("ticket_called", second),
        ("ticket_finished", second),
        ("rating_requested", second),
    ]


def test_paused_window_cannot_call_and_pause_needs_a_reason(db: Database) -> None:
    window = open_window(db, "3")
    issue(db, "A", T0)
    with db.writing() as session, pytest.raises(BadInput):
        queue.set_window_state(
            session, window_id=window, state=WindowState.PAUSED, now=T0, actor="test"
        )
    with db.writing() as session:
        queue.set_window_state(
            session,
            window_id=window,
            state=WindowState.PAUSED,
            now=T0,
            actor="test",
            reason="系统故障",
        )
    with pytest.raises(InvalidTransition):
        call(db, window, T0)
    with db.writing() as session:
        queue.set_window_state(
            session, window_id=window, state=WindowState.OPEN, now=T0, actor="test"
        )
    assert call(db, window, T0) == "A001"


def test_call_specific_ticket_out_of_order_needs_reason(db: Database) -> None:
    window = open_window(db, "3")
    issue(db, "A", T0)
    second = issue(db, "A", T0 + timedelta(seconds=1))
    with db.writing() as session, pytest.raises(BadInput):
        queue.call_specific(
            session,
            window_id=window,
            number=second,
            reason=" ",
            staff_id=None,
            now=T0,
            actor="test",
        )
    with db.writing() as session:
        result = queue.call_specific(
            session,
            window_id=window,
            number=second,
            reason="老人行动不便",
            staff_id=None,
            now=T0,
            actor="test",
        )
    assert result.ticket is not None and result.ticket.number == second
    with db.reading() as session:
        reason = session.execute(
            select(Ticket.out_of_order_reason).where(Ticket.display == second)
        ).scalar_one()
    assert reason == "老人行动不便"


def test_close_day_archives_open_tickets_of_earlier_days(db: Database) -> None:
    issue(db, "A", T0)
    issue(db, "A", T0)
    next_day = T0 + timedelta(days=1)
    with db.writing() as session:
        closed = queue.close_day(
            session, hall_id=hall_id(db), before=next_day.date(), now=next_day, actor="test"
        )
    assert closed == 2
    with db.reading() as session:
        states = set(session.execute(select(Ticket.state)).scalars())
    assert states == {TicketState.CLOSED}


def test_position_counts_exactly_the_tickets_called_before(db: Database) -> None:
    """ "Ahead" on the kiosk receipt is the number of this category's tickets the
    windows will call first: better standing, then earlier place, then lower id
    for the same instant; other categories and tickets already called do not
    count. Exact when no N:1 ratio is set; with one, the count is by standing
    and a priority ticket may wait behind up to N ordinary calls."""
    set_policy(db, ordinary_per_preferred=None)
    window = open_window(db, "3")
    issued = [
        issue(db, "A", T0),
        issue(db, "A", T0),  # the same instant: the lower id is called first
        issue(db, "B", T0 + timedelta(seconds=1)),
        issue(db, "A", T0 + timedelta(seconds=2), priority_kind="elderly", channel=Channel.STAFF),
        issue(db, "A", T0 + timedelta(seconds=3)),
        issue(db, "A", T0 + timedelta(seconds=3), priority_kind="pregnant", channel=Channel.STAFF),
    ]
    first_called = call(db, window, T0 + timedelta(seconds=4))
    with db.reading() as session:
        ahead = {
            ticket.display: queue.view_of(session, ticket, with_position=True).ahead
            for ticket in session.execute(
                select(Ticket).where(
                    Ticket.display.in_(issued), Ticket.state == TicketState.WAITING
                )
            ).scalars()
        }
    called = [first_called, *drain(db, window, T0 + timedelta(seconds=5))]
    order_in_a = [number for number in called if number in ahead]
    assert [ahead[number] for number in order_in_a] == list(range(len(order_in_a)))
    assert set(order_in_a) == {number for number in issued if number.startswith("A")} - {
        first_called
    }


def test_position_and_estimate_use_rolling_service_time(db: Database) -> None:
    open_window(db, "3")
    for i in range(3):
        issue(db, "A", T0 + timedelta(seconds=i))
    with db.writing() as session:
        view = queue.issue_ticket(
            session,
            hall_id=hall_id(db),
            category_prefix="A",
            now=T0 + timedelta(seconds=5),
            actor="test",
            channel=Channel.KIOSK,
        )
    assert view.ahead == 3
    with db.reading() as session:
        category = session.execute(
            select(QueueCategory).where(
                QueueCategory.prefix == "A", QueueCategory.hall_id == hall_id(db)
            )
        ).scalar_one()
        open_windows = queue.open_windows_serving(session, category.id)
    assert view.estimated_wait_minutes == wait_minutes(
        3, category.avg_service_seconds, open_windows
    )
