"""The offline call order (hallbus.callorder) is the backend's call-next order.

(a) Each rule on small hand-made queues. (b) The comparison the issue asks for:
random queues built in a real database (SQLite and PostgreSQL), the backend's
call-next pressed again and again at a window through the API, and before every
press `choose` applied to the same queue read back out of the database; both must
pick the same ticket, and `call_order` must predict the sequence of presses.
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from backend.db import Database
from backend.errors import InvalidTransition
from backend.models import (
    Appointment,
    Hall,
    QueueCategory,
    Ticket,
    TicketState,
    Window,
    WindowCategory,
    WindowState,
)
from backend.services import queue
from backend.services.policy import HallPolicy
from hallbus.callorder import (
    APPOINTMENT,
    ORDINARY,
    PRIORITY,
    QueuedTicket,
    WindowSeat,
    call_order,
    choose,
    next_streak,
    serves,
)
from tests.conftest import Api, FakeClock, clerk_for_window

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in the hall


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def ticket(
    number: str,
    standing: int = ORDINARY,
    minutes: float = -30,
    order: int | None = None,
    target: str | None = None,
) -> QueuedTicket:
    """A ticket of category number[0], in line since `minutes` relative to NOW."""
    return QueuedTicket(
        ticket=number,
        category=number[0],
        standing=standing,
        sort_at=at(minutes),
        order=order if order is not None else int(number[1:]),
        target_window=target,
    )


# Window 1 of the demo hall, with a second category in its main group.
SEAT = WindowSeat(window="1", groups=(("A", "B"), ("Z",)), ordinary_streak=None)


def seat(streak: int | None) -> WindowSeat:
    return WindowSeat(SEAT.window, SEAT.groups, streak)


def pick(
    waiting: list[QueuedTicket], *, streak: int | None = None, ratio: int | None = None
) -> tuple[str | None, bool]:
    chosen, as_ordinary = choose(seat(streak), waiting, ratio=ratio, now=NOW)
    return (chosen.ticket if chosen else None), as_ordinary


# ------------------------------------------------------------------ (a) the rules


def test_nobody_waiting_or_nothing_the_window_serves() -> None:
    assert pick([]) == (None, False)
    # C is not a category of the window; A013 was transferred to window 3.
    assert pick([ticket("C001"), ticket("A013", target="3")]) == (None, False)


def test_transferred_to_this_window_counts_whatever_its_category() -> None:
    transferred = ticket("C002", minutes=-1, target="1")
    assert serves(SEAT, transferred)
    assert not serves(SEAT, ticket("A001", target="3"))
    assert not serves(SEAT, ticket("C001"))
    assert pick([transferred, ticket("C001", minutes=-50)]) == ("C002", True)


def test_transfers_come_first_at_equal_standing_even_when_later() -> None:
    waiting = [ticket("A001", minutes=-50), ticket("Z005", minutes=-1, target="1")]
    assert pick(waiting) == ("Z005", True)


def test_a_later_source_wins_only_with_a_strictly_better_standing() -> None:
    transferred = ticket("A001", minutes=-50, target="1")
    assert pick([transferred, ticket("Z002", PRIORITY, minutes=-1)]) == ("Z002", False)
    assert pick([transferred, ticket("B003", minutes=-90)]) == ("A001", True)


def test_standing_priority_then_due_appointment_then_ordinary() -> None:
    ordinary = ticket("A001", minutes=-50)
    appointment = ticket("A002", APPOINTMENT, minutes=-5)
    priority = ticket("A003", PRIORITY, minutes=-1)
    assert pick([ordinary, appointment, priority]) == ("A003", False)
    assert pick([ordinary, appointment]) == ("A002", False)
    assert pick([ordinary]) == ("A001", True)


def test_better_standing_beats_weight() -> None:
    # A priority ticket of the secondary category before ordinary main-category ones.
    assert pick([ticket("A001", minutes=-50), ticket("Z001", PRIORITY, minutes=-1)]) == (
        "Z001",
        False,
    )


def test_weight_group_first_then_sort_at_across_its_categories_then_id() -> None:
    waiting = [
        ticket("Z001", minutes=-90),  # secondary weight: last despite waiting longest
        ticket("B001", minutes=-20, order=7),
        ticket("A001", minutes=-10, order=3),
        ticket("A002", minutes=-20, order=9),  # same instant as B001: the lower id first
    ]
    assert [t.ticket for t in call_order(SEAT, waiting, ratio=None, now=NOW)] == [
        "B001",
        "A002",
        "A001",
        "Z001",
    ]


def test_appointment_before_its_slot_waits_until_nobody_else_does() -> None:
    early = ticket("A004", APPOINTMENT, minutes=30)  # slot at 10:30
    assert pick([early, ticket("A001", minutes=-5)]) == ("A001", True)
    # Even behind an ordinary ticket of the secondary weight group (the backend's
    # `_early_appointment` is asked only when no source has anyone else).
    assert pick([early, ticket("Z001", minutes=-5)]) == ("Z001", True)
    # Alone, it is called early, and counts as an ordinary call for the ratio.
    assert pick([early]) == ("A004", True)
    assert pick([early], streak=5, ratio=2) == ("A004", True)
    # From its slot it is an appointment.
    due = choose(SEAT, [early, ticket("A001", minutes=-5)], ratio=None, now=at(30))
    assert due == (early, False)


def test_early_appointments_among_themselves_by_source_then_slot() -> None:
    waiting = [
        ticket("Z001", APPOINTMENT, minutes=20),
        ticket("B001", APPOINTMENT, minutes=40),
        ticket("A001", APPOINTMENT, minutes=30),
        ticket("A002", APPOINTMENT, minutes=50, target="1"),
    ]
    assert [t.ticket for t in call_order(SEAT, waiting, ratio=None, now=NOW)] == [
        "A002",
        "A001",
        "B001",
        "Z001",
    ]


def test_ratio_after_opening_a_waiting_priority_ticket_goes_first() -> None:
    waiting = [ticket("A001", minutes=-50), ticket("A002", PRIORITY, minutes=-1)]
    assert pick(waiting, streak=None, ratio=2) == ("A002", False)


def test_ratio_below_n_ordinary_first_from_the_first_source_that_has_one() -> None:
    waiting = [
        ticket("A001", PRIORITY, minutes=-50),
        ticket("A002", APPOINTMENT, minutes=-40),
        ticket("Z001", minutes=-30),
        ticket("B002", minutes=-10),
    ]
    assert pick(waiting, streak=0, ratio=2) == ("B002", True)
    assert pick(waiting, streak=1, ratio=2) == ("B002", True)
    assert pick(waiting, streak=2, ratio=2) == ("A001", False)
    assert pick(waiting, streak=0, ratio=None) == ("A001", False)
    # The transfer source is asked first for an ordinary ticket too.
    transferred = ticket("Z009", minutes=-1, target="1")
    assert pick([*waiting, transferred], streak=0, ratio=1) == ("Z009", True)


def test_ratio_without_ordinary_tickets_calls_the_preferred_one() -> None:
    waiting = [ticket("A001", APPOINTMENT, minutes=-40), ticket("A002", PRIORITY, minutes=-1)]
    assert pick(waiting, streak=0, ratio=2) == ("A002", False)


def test_ratio_does_not_count_an_early_appointment_as_ordinary() -> None:
    # streak 0 < N, but the only "ordinary" waiting is an appointment before its slot:
    # the backend's ordinary-first step asks for standing ORDINARY only.
    waiting = [ticket("A001", APPOINTMENT, minutes=30), ticket("A002", PRIORITY, minutes=-1)]
    assert pick(waiting, streak=0, ratio=2) == ("A002", False)


def test_two_ordinary_per_preferred_sequence_from_opening() -> None:
    """The backend's test_ratio_two_ordinary_per_priority_prevents_starvation."""
    ordinary = [ticket(f"A{i:03}", minutes=-60 + i) for i in range(1, 6)]
    priority = [ticket(f"A{i:03}", PRIORITY, minutes=-30 + i) for i in range(6, 9)]
    order = call_order(SEAT, [*priority, *ordinary], ratio=2, now=NOW, limit=20)
    assert [t.ticket for t in order] == [
        "A006",
        "A001",
        "A002",
        "A007",
        "A003",
        "A004",
        "A008",
        "A005",
    ]
    assert [t.ticket for t in call_order(SEAT, order, ratio=2, now=NOW)] == [
        t.ticket for t in order[:5]
    ]


def test_streak_follows_call_next() -> None:
    assert next_streak(None, True) == 1
    assert next_streak(None, False) == 0
    assert next_streak(4, True) == 5
    assert next_streak(4, False) == 0
    assert next_streak(1000, True) == 1000  # capped like the database column


def test_call_order_limit_and_input_left_alone() -> None:
    waiting = [ticket("A001"), ticket("A002", minutes=-10)]
    copy = list(waiting)
    assert call_order(SEAT, waiting, ratio=2, now=NOW, limit=0) == []
    assert call_order(SEAT, waiting, ratio=2, now=NOW, limit=1) == [waiting[0]]
    assert call_order(SEAT, iter(waiting), ratio=2, now=NOW) == waiting
    assert call_order(SEAT, [], ratio=2, now=NOW) == []
    assert waiting == copy
    twin = ticket("A001")
    assert call_order(SEAT, [twin, twin], ratio=None, now=NOW) == [twin, twin]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ticket("A001", standing=3), "standing"),
        (lambda: QueuedTicket("A001", "A", ORDINARY, datetime(2026, 11, 26, 10), 1), "aware"),
        (lambda: QueuedTicket("", "A", ORDINARY, NOW, 1), "empty"),
        (lambda: QueuedTicket("A001", "", ORDINARY, NOW, 1), "category"),
        (lambda: WindowSeat("1", (("A",),), -1), "negative"),
        (lambda: choose(SEAT, [], ratio=0, now=NOW), "ordinary_per_preferred"),
        (lambda: choose(SEAT, [], ratio=None, now=datetime(2026, 11, 26, 10)), "aware"),
        (lambda: call_order(SEAT, [], ratio=None, now=NOW, limit=-1), "limit"),
    ],
)
def test_bad_input_is_refused_clearly(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


# ------------------------------------------------- (b) the same queue at the backend

WINDOW = "1"  # A and Z in the demo seed; B is added to its main group below
OTHER_WINDOW = "3"
SERVED = ("A", "B", "Z")
NOT_SERVED = ("C",)
PRIORITY_KINDS = ("elderly", "disabled", "military", "pregnant")


def _hall_id(db: Database) -> int:
    with db.reading() as session:
        return int(session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one())


def _window_id(db: Database, number: str) -> int:
    with db.reading() as session:
        return int(
            session.execute(
                select(Window.id).where(Window.hall_id == _hall_id(db), Window.number == number)
            ).scalar_one()
        )


def _prepare_hall(db: Database, ratio: int | None) -> None:
    hall = _hall_id(db)
    with db.writing() as session:
        session.execute(
            update(Hall)
            .where(Hall.id == hall)
            .values(call_policy={"ordinary_per_preferred": ratio})
        )
        window = _window_id(db, WINDOW)
        b = queue.category_by_prefix(session, hall, "B")
        session.add(WindowCategory(window_id=window, category_id=b.id, weight=2))
        for number in (WINDOW, OTHER_WINDOW):
            queue.set_window_state(
                session,
                window_id=_window_id(db, number),
                state=WindowState.OPEN,
                now=NOW,
                actor="test",
            )
    # The backend caches a window's categories for a few seconds per process.
    queue.clear_caches()


def _issue(
    db: Database,
    rng: random.Random,
    when: datetime,
    category: str | None = None,
    priority: str | None = "random",
) -> int:
    """A ticket issued at `when`: of a random category and one time in five a
    priority one, unless told."""
    category = category or rng.choice(SERVED * 3 + NOT_SERVED)
    if priority == "random":
        priority = rng.choice(PRIORITY_KINDS) if rng.random() < 0.2 else None
    with db.writing() as session:
        return queue.issue_ticket(
            session,
            hall_id=_hall_id(db),
            category_prefix=category,
            priority_kind=priority,
            now=when,
            actor="test",
        ).id


def _appointment(
    db: Database, rng: random.Random, code: str, slot: datetime, category: str | None = None
) -> int:
    """Booked for `slot`, checked in up to 40 minutes before it (and not after NOW)."""
    hall = _hall_id(db)
    local = slot.astimezone(queue.zone("Asia/Shanghai"))
    checked_in = min(slot - timedelta(minutes=rng.randint(0, 40)), NOW)
    with db.writing() as session:
        category_row = queue.category_by_prefix(
            session, hall, category or rng.choice(SERVED + NOT_SERVED)
        )
        session.add(
            Appointment(
                hall_id=hall,
                category_id=category_row.id,
                day=local.date(),
                slot_start=local.time(),
                slot_end=(local + timedelta(minutes=30)).time(),
                code=code,
                name_masked="张*",
                phone_last4="1234",
            )
        )
    with db.writing() as session:
        return queue.check_in_appointment(
            session, hall_id=hall, code=code, now=checked_in, actor="test"
        ).id


def _transfer(db: Database, ticket_id: int, when: datetime, window: str) -> None:
    with db.writing() as session:
        queue.transfer(
            session,
            hall_id=_hall_id(db),
            ticket_id=ticket_id,
            to_category=None,
            to_window=window,
            now=when,
            actor="test",
        )


def _transfer_some(
    db: Database, rng: random.Random, when: datetime, count: int, spare: tuple[int, ...] = ()
) -> None:
    """Waiting tickets (but `spare`) sent to this window, to another window, or to
    another category."""
    hall = _hall_id(db)
    with db.writing() as session:
        waiting = list(
            session.execute(
                select(Ticket.id)
                .where(Ticket.state == TicketState.WAITING, Ticket.id.not_in(spare))
                .order_by(Ticket.id)
            ).scalars()
        )
        for ticket_id in rng.sample(waiting, min(count, len(waiting))):
            to_window, to_category = rng.choice(
                [(WINDOW, None), (WINDOW, None), (OTHER_WINDOW, None), (None, "Z"), (None, "C")]
            )
            queue.transfer(
                session,
                hall_id=hall,
                ticket_id=ticket_id,
                to_category=to_category,
                to_window=to_window,
                now=when,
                actor="test",
            )


def _state(db: Database) -> tuple[WindowSeat, list[QueuedTicket], int | None]:
    """The window, the hall's waiting queue and the ratio, read out of the database
    into the fields the offline snapshot carries."""
    target = aliased(Window)
    with db.reading() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        window = session.execute(
            select(Window).where(Window.hall_id == hall.id, Window.number == WINDOW)
        ).scalar_one()
        weights: dict[int, list[str]] = {}
        for prefix, weight in session.execute(
            select(QueueCategory.prefix, WindowCategory.weight)
            .join(QueueCategory, QueueCategory.id == WindowCategory.category_id)
            .where(WindowCategory.window_id == window.id)
        ):
            weights.setdefault(int(weight), []).append(prefix)
        seat = WindowSeat(
            window=window.number,
            groups=tuple(tuple(sorted(weights[w])) for w in sorted(weights, reverse=True)),
            ordinary_streak=window.ordinary_streak,
        )
        today: date = queue.local_day(NOW, hall.timezone)
        rows = session.execute(
            select(
                Ticket.display,
                QueueCategory.prefix,
                Ticket.standing,
                Ticket.sort_at,
                Ticket.id,
                target.number,
            )
            .join(QueueCategory, QueueCategory.id == Ticket.category_id)
            .outerjoin(target, target.id == Ticket.target_window_id)
            .where(
                Ticket.hall_id == hall.id,
                Ticket.service_day == today,
                Ticket.state == TicketState.WAITING,
            )
        ).all()
        waiting = [
            QueuedTicket(
                ticket=row[0],
                category=row[1],
                standing=int(row[2]),
                sort_at=row[3],
                order=int(row[4]),
                target_window=row[5],
            )
            for row in rows
        ]
        ratio = HallPolicy.from_json(hall.call_policy).ordinary_per_preferred
    return seat, waiting, ratio


def _kind(chosen: QueuedTicket, now: datetime) -> str:
    if chosen.target_window == WINDOW:
        return "transfer"
    if chosen.standing == APPOINTMENT:
        return "early appointment" if chosen.sort_at > now else "appointment"
    return "priority" if chosen.standing == PRIORITY else "ordinary"


def _press_call_next(api: Api, token: str) -> str | None:
    status, body = api.post(f"/api/v1/halls/BH/windows/{WINDOW}/call-next", token)
    assert status == 200, body
    return body["ticket"]["number"] if body["ticket"] else None


def _pause_and_reopen(db: Database, when: datetime) -> None:
    """The window's streak starts again (None) after a pause."""
    window = _window_id(db, WINDOW)
    with db.writing() as session, contextlib.suppress(InvalidTransition):  # nothing served
        queue.finish_service(session, window_id=window, now=when, actor="test")
    with db.writing() as session:
        queue.set_window_state(
            session,
            window_id=window,
            state=WindowState.PAUSED,
            now=when,
            actor="test",
            reason="休息",
        )
    with db.writing() as session:
        queue.set_window_state(
            session, window_id=window, state=WindowState.OPEN, now=when, actor="test"
        )


@pytest.mark.parametrize(
    ("seed", "ratio"), [(1, None), (2, 1), (3, 2), (4, 2), (5, 1), (6, None), (7, 2)]
)
def test_choose_picks_what_the_backend_calls(
    db: Database, api: Api, clock: FakeClock, seed: int, ratio: int | None
) -> None:
    rng = random.Random(seed)
    _prepare_hall(db, ratio)
    # The morning so far: tickets since 08:40 (several at the same instant, so the
    # id decides), appointments due and not yet due, transfers.
    instants = [at(-rng.randint(0, 80)) for _ in range(12)]
    for _ in range(rng.randint(22, 30)):
        _issue(db, rng, rng.choice(instants))
    slots = [at(-50), at(-20), at(-5), at(10), at(25), at(40), at(60)]
    for index, slot in enumerate(rng.sample(slots, rng.randint(3, 6))):
        _appointment(db, rng, f"S{seed}A{index:04}", slot)
    _transfer_some(db, rng, at(-1), rng.randint(3, 6))
    # And in every queue at least one of each kind the rules are about: a priority
    # ticket, a due appointment, one checked in hours before its slot (called early
    # once nobody else waits), a ticket of a category the window does not serve
    # transferred to it.
    _issue(db, rng, at(-3), category="A", priority="elderly")
    _appointment(db, rng, f"S{seed}D", at(-15), category="B")
    early = _appointment(db, rng, f"S{seed}E", at(300), category="A")
    _transfer(db, _issue(db, rng, at(-45), category="C", priority=None), at(-2), WINDOW)
    token = api.sign_in(clerk_for_window(db, WINDOW), WINDOW)

    clock.now = NOW
    called: list[str] = []
    kinds: set[str] = set()
    for _round in range(30):
        seat, waiting, hall_ratio = _state(db)
        assert hall_ratio == ratio
        if not any(serves(seat, t) for t in waiting):
            break
        presses = rng.randint(1, 6)
        predicted = call_order(seat, waiting, ratio=ratio, now=clock.now, limit=presses)
        pressed: list[str] = []
        for _press in range(presses):
            seat, waiting, _ = _state(db)
            expected, as_ordinary = choose(seat, waiting, ratio=ratio, now=clock.now)
            number = _press_call_next(api, token)
            assert number == (expected.ticket if expected else None), (seed, called)
            if expected is None or number is None:
                break
            pressed.append(number)
            kinds.add(_kind(expected, clock.now))
            if choose(seat, waiting, ratio=None, now=clock.now)[0] != expected:
                kinds.add("held back by the ratio")
            after, _, _ = _state(db)
            assert after.ordinary_streak == next_streak(seat.ordinary_streak, as_ordinary)
        assert pressed == [t.ticket for t in predicted], (seed, called)
        called += pressed
        # Time passes: slots begin, people arrive, tickets are transferred.
        clock.advance(minutes=rng.randint(2, 12))
        for _ in range(rng.choice((0, 0, 1, 2))):
            _issue(db, rng, clock.now)
        if rng.random() < 0.25:
            _transfer_some(db, rng, clock.now, 1, spare=(early,))
        if rng.random() < 0.15:
            _pause_and_reopen(db, clock.now)
    else:
        pytest.fail("the window's queue did not empty")
    assert len(called) >= 20
    # Every queue called each kind the rules are about, and with a ratio set some
    # call went another way than it would have without one.
    expected_kinds = {"priority", "ordinary", "appointment", "early appointment", "transfer"}
    if ratio is not None:
        expected_kinds.add("held back by the ratio")
    assert kinds == expected_kinds
