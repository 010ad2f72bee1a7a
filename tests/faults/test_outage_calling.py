"""The hall keeps calling through a backend outage, and the day's ledger balances.

Mid-morning the backend goes away for several hall minutes. Windows 1–4 keep
calling from the hub's console, window 5 from its caller key box on a pty, the
kiosks keep issuing, the evaluators keep rating. Then the backend returns and
the hub replays what the hall did. The ledger compares what people held, heard
and pressed with what the backend stored: tickets issued vs stored, calls made
vs stored, tickets called twice, ratings given vs stored — 0 lost, 0 duplicated,
0 invented — that every display showed every call, and that the day's figures
(per clerk, waits) include the outage.

Played three times: a plain outage; the hub killed -9 during the outage; the
hub killed -9 while it replays (one replayed request is held at the backend's
door while the hub dies, then let through: the restarted hub sends it again,
and the backend must recognise it).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.models import Hall, HallEvent, Rating, Staff, Ticket
from backend.services import performance
from devices.callerbox import CallerKey
from hallbus.messages import CallEvent
from simulators.callerbox import SimulatedCallerBox
from simulators.devices import SimEvaluator, SimHallDisplay, SimKiosk, SimWindowDisplay
from simulators.hubconsole import HubConsoleClerk
from simulators.traffic import SimClerk
from tests.conftest import DEMO_PASSWORD
from tests.faults.conftest import RATE, WINDOWS, OutageHall

WAIT_S = 30.0
CONSOLE_WINDOWS = ("1", "2", "3", "4")
KEY_BOX_WINDOW = "5"
CLERKS = {"1": "BH0101", "2": "BH0201", "3": "BH0301", "4": "BH0401", "5": "BH0501"}
# Windows 1–3 serve A, window 4 B then A, window 5 B (backend/seed/demo_hall.yaml).
CATEGORIES = ("A", "B")
OUTAGE = timedelta(minutes=3)
SERVICE_S = 20.0  # hall seconds a clerk spends on one visitor


@dataclass
class Ledger:
    """What the hall saw: every number printed, every call made, every rating accepted."""

    issued: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (ticket, window)
    served: dict[str, int] = field(default_factory=dict)  # employee_no -> finished
    ratings: set[str] = field(default_factory=set)

    def finished(self, employee_no: str) -> None:
        self.served[employee_no] = self.served.get(employee_no, 0) + 1

    def summary(self) -> str:
        return (
            f"ledger: {len(self.issued)} tickets issued, {len(self.calls)} calls, "
            f"{sum(self.served.values())} services, {len(self.ratings)} ratings"
        )


@dataclass
class Hall_:
    hall: OutageHall
    ledger: Ledger
    kiosks: list[SimKiosk]
    hall_display: SimHallDisplay
    window_displays: dict[str, SimWindowDisplay]
    evaluators: dict[str, SimEvaluator]
    rng: random.Random

    def issue(self, count: int, *, degraded: bool) -> None:
        for index in range(count):
            kiosk = self.kiosks[index % len(self.kiosks)]
            category = CATEGORIES[len(self.ledger.issued) % len(CATEGORIES)]
            ticket = kiosk.take_ticket(category)
            assert ticket.degraded is degraded, ticket
            self.ledger.issued.append(ticket.number)


def _devices(hall: OutageHall) -> Hall_:
    kiosks = [SimKiosk(hall.client("kiosk-1")), SimKiosk(hall.client("kiosk-2"))]
    hall_display = SimHallDisplay(hall.client("hall-display-1"))
    window_displays = {w: SimWindowDisplay(hall.client(f"window-display-{w}")) for w in WINDOWS}
    evaluators = {
        w: SimEvaluator(hall.client(f"evaluator-{w}"), random.Random(int(w)), clock=hall.clock)
        for w in WINDOWS
    }
    return Hall_(
        hall, Ledger(), kiosks, hall_display, window_displays, evaluators, random.Random(15)
    )


def _expect_rating(devices: Hall_, window: str, ticket: str) -> None:
    """The evaluator at `window` was invited for `ticket` and its rating was accepted."""
    evaluator = devices.evaluators[window]
    command = evaluator.requests.wait_for(lambda r: r.ticket_number == ticket, WAIT_S)
    _request, accepted = evaluator.answered.wait_for(
        lambda answer: answer[0] == command.request_id, WAIT_S
    )
    devices.ledger.ratings.add(accepted.rating_id)


def _serve_online(devices: Hall_, clerks: dict[str, SimClerk], window: str) -> None:
    ticket = clerks[window].call_next()
    assert ticket is not None
    devices.ledger.calls.append((ticket, window))
    # The visitor walks up when the screen shows the number; then the service.
    devices.window_displays[window].states.wait_for(lambda s: s.current_ticket == ticket, WAIT_S)
    clerks[window].finish()
    devices.ledger.finished(CLERKS[window])
    _expect_rating(devices, window, ticket)


def _call_at_console(devices: Hall_, console: HubConsoleClerk) -> str | None:
    ticket = console.act("call")
    if ticket is not None:
        devices.ledger.calls.append((ticket, console.window))
        console.act("start")
    return ticket


def _finish_at_console(devices: Hall_, console: HubConsoleClerk, ticket: str) -> None:
    console.act("finish")
    devices.ledger.finished(CLERKS[console.window])
    _expect_rating(devices, console.window, ticket)


def _serve(hall: OutageHall, hall_seconds: float) -> None:
    """The clerks serve for a while: hall time passes (a timed wait, not a sync point)."""
    threading.Event().wait(hall.clock.wall_seconds(hall_seconds))


def _press(box: SimulatedCallerBox, key: CallerKey) -> str:
    """Press a key and read what the hub shows on the box for it."""
    before = len(box.shown_history())
    box.press(key)
    shown = box.shown_after(before, timeout=WAIT_S)
    assert shown is not None, f"the hub showed nothing on the box after {key.name}"
    return shown


def _call_at_key_box(devices: Hall_, box: SimulatedCallerBox) -> str | None:
    shown = _press(box, CallerKey.CALL)
    if shown == "--":
        return None
    assert shown[0].isalpha(), f"the box shows {shown!r}"
    devices.ledger.calls.append((shown, KEY_BOX_WINDOW))
    return shown


def _finish_at_key_box(devices: Hall_, box: SimulatedCallerBox, ticket: str) -> None:
    assert _press(box, CallerKey.FINISH) == "--"
    devices.ledger.finished(CLERKS[KEY_BOX_WINDOW])
    _expect_rating(devices, KEY_BOX_WINDOW, ticket)


def _play(hall: OutageHall, *, kill_during_outage: bool, kill_during_replay: bool) -> None:
    hall.hub.start()
    hall.wait_for_hub(
        lambda h: h.get("mode") == "online" and h.get("backend_reachable"), WAIT_S, "online"
    )
    devices = _devices(hall)
    clerks = {w: SimClerk(hall.backend.url, CLERKS[w], w) for w in WINDOWS}
    for clerk in clerks.values():
        clerk.sign_in()  # opens the window; window 5's key box acts for its clerk
    box = hall.box
    # The hub shows the window's state on the box when its bus starts: wait for it,
    # so the next thing the box shows answers a key press.
    assert box.shown_after(0, timeout=WAIT_S) is not None
    try:
        # ---- the morning, online: the backend decides.
        devices.issue(12, degraded=False)
        for window in ("1", "4"):
            _serve_online(devices, clerks, window)
        # A key box works online too (hub → backend decides).
        online_box_call = _call_at_key_box(devices, box)
        assert online_box_call is not None
        _finish_at_key_box(devices, box, online_box_call)
        # The hub's snapshot of the queue is current before the link goes.
        waiting = len(devices.ledger.issued) - len(devices.ledger.calls)
        hall.wait_for_hub(
            lambda h: h["offline_queue"]["waiting"] == waiting and h["offline_queue"]["clerks"],
            WAIT_S,
            "a current offline snapshot",
        )

        # ---- the backend dies; the hall goes on.
        hall.backend.stop()
        hall.wait_for_hub(lambda h: h.get("mode") == "offline", WAIT_S, "offline mode")
        consoles = {
            w: HubConsoleClerk(f"http://127.0.0.1:{hall.console_port}", CLERKS[w], DEMO_PASSWORD, w)
            for w in CONSOLE_WINDOWS
        }
        for console in consoles.values():
            console.sign_in()
            assert console.state()["mode"] == "offline"
        devices.issue(10, degraded=True)
        outage_started = hall.clock()
        rounds = 0
        # Several hall minutes with the centre away: every window calls, serves
        # for SERVICE_S of hall time, finishes (the evaluator rates), calls again.
        while hall.clock() - outage_started < OUTAGE or rounds < 3:
            called = {w: _call_at_console(devices, c) for w, c in consoles.items()}
            boxed = _call_at_key_box(devices, box)
            devices.issue(2, degraded=True)
            _serve(hall, SERVICE_S)
            for window, ticket in called.items():
                if ticket is not None:
                    _finish_at_console(devices, consoles[window], ticket)
            if boxed is not None:
                _finish_at_key_box(devices, box, boxed)
            rounds += 1
            if kill_during_outage and rounds == 2:
                shown = len(box.shown_history())
                hall.hub.kill()  # kill -9 in the middle of the outage
                hall.hub.start()
                # The new hub's bus shows the window's state on the box first.
                assert box.shown_after(shown, timeout=WAIT_S) is not None
                hall.wait_for_hub(lambda h: h.get("mode") == "offline", WAIT_S, "offline again")
                assert consoles["1"].state()["mode"] == "offline"  # still signed in

        # ---- the backend returns; the hub replays, then hands back.
        held = threading.Event()
        arrived = threading.Event()
        if kill_during_replay:
            hall.backend.hold_next("/window-actions", release=held, arrived=arrived)
        entries = hall.hub.health() or {}
        back_at = time.monotonic()
        hall.backend.start()
        if kill_during_replay:
            assert arrived.wait(WAIT_S), "the replay never reached the backend"
            shown = len(box.shown_history())
            hall.hub.kill()
            held.set()  # the request the dead hub sent lands now; its answer is lost
            hall.hub.start()
            assert box.shown_after(shown, timeout=WAIT_S) is not None
        health = hall.wait_for_hub(
            lambda h: h.get("mode") == "online" and h.get("outbox_depth") == 0,
            WAIT_S * 2,
            "the replay to finish",
        )
        handed_back_s = time.monotonic() - back_at
        assert health["dead_letters"] == 0
        counters = health["counters"]
        assert counters.get("outbox_action_conflicts", 0) == 0  # one path decided at a time
        if kill_during_replay:
            # The action the dead hub had sent landed; the new hub sent it again.
            assert counters.get("outbox_action_duplicates", 0) >= 1, counters
        # Online again: the hub console sends clerks to the backend console.
        assert consoles["1"].page_status() == 302
        # And the backend decides again: a call from the backend console works.
        devices.issue(2, degraded=False)
        _serve_online(devices, clerks, "2")
        _check_ledger(hall, devices)
        print(
            devices.ledger.summary(),
            f"| handed back {handed_back_s:.1f} s after the backend returned,"
            f" {entries.get('outbox_depth')} outbox entries replayed",
        )
    finally:
        for clerk in clerks.values():
            clerk.close()


def _check_ledger(hall: OutageHall, devices: Hall_) -> None:
    ledger = devices.ledger
    database = hall.database()
    try:
        with database.reading() as session:
            hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
            stored = session.execute(
                select(Ticket.display, Ticket.window_id, Ticket.called_at, Ticket.id).where(
                    Ticket.hall_id == hall_id
                )
            ).all()
            windows = dict(
                session.execute(
                    select(Ticket.display, func.min(Ticket.window_id)).group_by(Ticket.display)
                ).all()
            )
            called_events = (
                session.execute(
                    select(HallEvent.payload).where(
                        HallEvent.hall_id == hall_id, HallEvent.kind == "ticket_called"
                    )
                )
                .scalars()
                .all()
            )
            ratings = set(session.execute(select(Rating.rating_uid)).scalars())
            staff_ids = dict(
                session.execute(
                    select(Staff.employee_no, Staff.id).where(
                        Staff.employee_no.in_(CLERKS.values())
                    )
                ).all()
            )
            day = hall.clock().astimezone(ZoneInfo("Asia/Shanghai")).date()
            figures = performance.ticket_metrics(
                session,
                performance.Period("today", "day", day, day),
                [("staff", Ticket.staff_id)],
                performance.Scope(hall_id=hall_id),
                with_p90=False,
            )
    finally:
        database.dispose()
    displays = [row.display for row in stored]
    # Tickets: every number a person holds exists once; none appeared from nowhere.
    assert len(displays) == len(set(displays)), "a ticket number stored twice"
    assert sorted(displays) == sorted(ledger.issued)
    # Calls: every call made is stored, at its window; nothing else was called.
    called = sorted(row.display for row in stored if row.called_at is not None)
    assert called == sorted(ticket for ticket, _ in ledger.calls)
    assert len(ledger.calls) == len({ticket for ticket, _ in ledger.calls}), (
        "called twice in the hall"
    )
    per_ticket: dict[str, int] = {}
    for data in called_events:
        per_ticket[data["ticket"]] = per_ticket.get(data["ticket"], 0) + 1
    assert all(count == 1 for count in per_ticket.values()), per_ticket
    del windows
    # Ratings: given == stored, none invented.
    assert ratings == ledger.ratings
    # Every display showed every call (the hall display heard each once).
    heard = [(call.ticket, call.window) for call in devices.hall_display.calls.messages()]
    assert sorted(set(heard)) == sorted(ledger.calls)
    for ticket, window in ledger.calls:
        shown = [s.current_ticket for s in devices.window_displays[window].states.messages()]
        assert ticket in shown, f"window {window}'s display never showed {ticket}"
    # The day's figures include the outage: served per clerk as the hall served them.
    for employee_no, count in ledger.served.items():
        assert figures[(staff_ids[employee_no],)]["tickets_served"] == count, employee_no


@pytest.mark.parametrize(
    ("kill_during_outage", "kill_during_replay"),
    [(False, False), (True, False), (False, True)],
    ids=["outage", "hub-killed-offline", "hub-killed-replaying"],
)
def test_calling_through_a_backend_outage(
    outage_hall: OutageHall, kill_during_outage: bool, kill_during_replay: bool
) -> None:
    _play(outage_hall, kill_during_outage=kill_during_outage, kill_during_replay=kill_during_replay)


del CallEvent, RATE
