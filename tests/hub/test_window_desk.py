"""Calling through an outage: the hub's window desk with the real broker and backend.

The backend is stopped (its listening socket closed, kept-alive connections
answered 503, as a dead backend behind a proxy): the hub calls from its offline
snapshot plus the tickets it issued itself, in the hall's call order; displays,
announcers and the evaluator get what they get online. When the backend is back
every action is replayed exactly once, with its original time, before the hub
hands the queue back (mode replaying → online).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.models import Hall as HallRow
from backend.models import Rating, Ticket, TicketState
from backend.models.hub import OfflineAction
from hallbus.callorder import call_order
from hub.offline import KIND_ACTION
from hub.service import HubService
from hub.window_desk import DeskAction, DeskRefused, HallMode
from tests.hub.conftest import WAIT_S, Hall, wait_until


def _snapshot_has(hub: HubService, tickets: list[str]) -> None:
    """The hub's offline snapshot, taken now (the debounced refresh may still wait)."""
    wait_until(lambda: hub.desk.mode() is HallMode.ONLINE, what="online mode")
    assert hub.desk.refresh_snapshot()
    assert set(tickets) <= set(hub.desk._queue.waiting)


def _expected_order(hub: HubService, window: str) -> list[str]:
    """What hallbus.callorder says from the hub's own queue (the backend's rule)."""
    queue = hub.desk._queue
    seat = queue.windows[window].seat()
    waiting = [w.queued() for w in queue.eligible(window)]
    order = call_order(seat, waiting, ratio=queue.ratio, now=hub.clock(), limit=50)
    return [t.ticket for t in order]


def _tickets(hall: Hall, numbers: list[str]) -> dict[str, Any]:
    database = Database(hall.backend.database_url)
    try:
        with database.reading() as session:
            rows = session.execute(
                select(Ticket).where(Ticket.display.in_(numbers)).order_by(Ticket.id)
            ).scalars()
            return {t.display: (t.state, t.called_at, t.window_id, t.staff_id) for t in rows}
    finally:
        database.dispose()


def _hall_row(hall: Hall) -> tuple[str, int]:
    database = Database(hall.backend.database_url)
    try:
        with database.reading() as session:
            row = session.execute(select(HallRow).where(HallRow.code == "BH")).scalar_one()
            return str(row.hub_mode), int(row.hub_pending)
    finally:
        database.dispose()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_calls_through_an_outage_then_replays_each_action_once(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    hub = hall.start_hub()
    window_display = hall.window_display()
    hall_display = hall.hall_display()
    evaluator = hall.evaluator(auto_answer=False)
    kiosk = hall.kiosk()
    hall.clerk("1", "BH0101")  # signed in at window 1 at the backend console
    online = [kiosk.take_ticket("A").number for _ in range(3)]
    _snapshot_has(hub, online)
    assert hub.desk.mode() is HallMode.ONLINE
    assert hub.health_report()["mode"] == "online"
    assert hub.desk.clerk("BH0101") is not None

    hall.backend.stop()
    offline = [kiosk.take_ticket("A") for _ in range(2)]
    assert all(t.degraded for t in offline)
    wait_until(lambda: hub.desk.mode() is HallMode.OFFLINE, what="offline mode")
    order = _expected_order(hub, "1")
    assert order[:3] == online and set(order[3:5]) == {t.number for t in offline}
    assert list(hub.desk.view("1").next_up) == order[:5]

    called: list[str] = []
    for expected in order[:5]:
        result = hub.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box")
        assert result.ok and result.ticket == expected
        called.append(expected)
        hall_display.calls.wait_for(lambda c, t=expected: c.ticket == t, WAIT_S)
        state = window_display.states.wait_for(lambda s, t=expected: s.current_ticket == t, WAIT_S)
        assert state.hall_mode == "offline"
    assert hall_display.states.wait_for(lambda s: s.hall_mode == "offline", WAIT_S)
    # Every finish (call-next finishes the current one) invited a rating: rate_now.
    invitation = evaluator.requests.wait_for(lambda r: r.ticket_number == called[0], WAIT_S)
    assert invitation.staff_name and invitation.employee_no == "BH0101"
    rating = evaluator.rating_for(invitation, 5)
    assert evaluator.submit(rating).queued
    hub.desk.act("1", DeskAction.RECALL, employee_no=None, via="caller_box")
    hall_display.calls.wait_for(lambda c: c.ticket == called[-1] and c.recall, WAIT_S)
    hub.desk.act("1", DeskAction.FINISH, employee_no=None, via="hub_console")
    with pytest.raises(DeskRefused) as refused:
        hub.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box")
    assert refused.value.code == "nobody_waiting"
    actions = len(hub.store.pending_of_kind(KIND_ACTION))
    assert actions == 7  # 5 calls, a recall, a finish; the refusal queued nothing

    hall.backend.start()
    wait_until(lambda: hub.store.outbox_depth() == 0, timeout=30, what="the outbox to drain")
    wait_until(lambda: hub.desk.mode() is HallMode.ONLINE, what="online mode")
    assert hub.store.dead_letter_count() == 0
    wait_until(lambda: _hall_row(hall) == ("online", 0), what="hub state posted")
    assert hall.count(OfflineAction) == actions
    assert hall.count(Rating, Rating.rating_uid == rating.rating_id) == 1
    rows = _tickets(hall, called)
    announced = {c.ticket: c.called_at for c in hall_display.calls.messages() if not c.recall}
    for number in called:
        state, called_at, _window, staff_id = rows[number]
        assert state is TicketState.DONE
        assert staff_id is not None
        assert abs((_utc(called_at) - _utc(announced[number])).total_seconds()) < 1
    # The replayed copies were not announced again.
    assert [c.ticket for c in hall_display.calls.messages() if not c.recall] == called
    # And the backend decides again.
    assert not kiosk.take_ticket("A").degraded
    window_display.states.wait_for(lambda s: s.hall_mode is None, WAIT_S)
    hall_display.states.wait_for(lambda s: s.hall_mode is None, WAIT_S)


def test_hub_restart_during_an_outage_keeps_snapshot_and_outbox(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    first = hall.start_hub()
    kiosk = hall.kiosk()
    hall.clerk("1", "BH0101")
    tickets = [kiosk.take_ticket("A").number for _ in range(3)]
    _snapshot_has(first, tickets)
    hall.backend.stop()
    # Whether or not the hub noticed yet: a key press that finds the backend gone is
    # applied locally (never lost).
    result = first.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box")
    assert result.ticket == tickets[0]
    assert first.desk.mode() is HallMode.OFFLINE
    hall.stop_hub(first)

    second = hall.start_hub(wait=False)
    assert second.desk.mode() is HallMode.OFFLINE
    assert second.desk.view("1").current == tickets[0]
    assert second.desk.clerk("BH0101") is not None
    result = second.desk.act("1", DeskAction.CALL, employee_no=None, via="hub_console")
    assert result.ticket == tickets[1]
    assert len(second.store.pending_of_kind(KIND_ACTION)) == 2

    hall.backend.start()
    wait_until(lambda: second.store.outbox_depth() == 0, timeout=30, what="the outbox to drain")
    wait_until(lambda: second.desk.mode() is HallMode.ONLINE, what="online mode")
    rows = _tickets(hall, tickets[:2])
    assert rows[tickets[0]][0] is TicketState.DONE
    assert rows[tickets[1]][0] is TicketState.CALLED
    assert hall.count(OfflineAction) == 2


def test_while_replaying_the_hub_still_decides(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    hub = hall.start_hub()
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")
    tickets = [kiosk.take_ticket("A").number for _ in range(2)]
    _snapshot_has(hub, tickets)
    hall.backend.stop()
    assert (
        hub.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box").ticket
        == (tickets[0])
    )
    # The backend comes back, but the replay of the window action is held up.
    release = threading.Event()
    hall.backend.start()
    hall.backend._gate.hold["/window-actions"] = release
    try:
        wait_until(lambda: hub.desk.mode() is HallMode.REPLAYING, what="replaying mode")
        wait_until(lambda: _hall_row(hall)[0] == "replaying", what="hub state replaying")
        # Staff at the backend console are held back: the hub decides until it is done.
        with pytest.raises(RuntimeError, match="409"):
            clerk.call_next()
        # Kiosks still get numbers from the blocks (the hub calls them), and show it.
        assert kiosk.take_ticket("A").degraded
        kiosk.states.wait_for(lambda state: state.degraded, WAIT_S)
        assert (
            hub.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box").ticket
            == (tickets[1])
        )
    finally:
        release.set()
    wait_until(lambda: hub.desk.mode() is HallMode.ONLINE, timeout=30, what="online mode")
    assert hub.store.outbox_depth() == 0
    rows = _tickets(hall, tickets)
    assert rows[tickets[0]][0] is TicketState.DONE
    assert rows[tickets[1]][0] is TicketState.CALLED
    wait_until(lambda: _hall_row(hall) == ("online", 0), what="hub state online")
    kiosk.states.wait_for(lambda state: not state.degraded, WAIT_S)
    assert clerk.call_next() is not None  # the offline ticket, now the backend's


def test_an_offline_call_the_centre_contradicts_is_a_conflict_not_a_dead_letter(
    mosquitto_hall: Hall,
) -> None:
    from backend.services import queue as queue_service

    hall = mosquitto_hall
    hub = hall.start_hub()
    kiosk = hall.kiosk()
    hall.clerk("1", "BH0101")
    tickets = [kiosk.take_ticket("A").number for _ in range(2)]
    _snapshot_has(hub, tickets)
    hall.backend.stop()
    # A partition: the centre cancels the first ticket; the hub, cut off, calls it later.
    database = Database(hall.backend.database_url)
    try:
        with database.writing() as session:
            row = session.execute(select(Ticket).where(Ticket.display == tickets[0])).scalar_one()
            queue_service.cancel(
                session, hall_id=row.hall_id, ticket_id=row.id, now=hall.clock(), actor="centre"
            )
    finally:
        database.dispose()
    assert (
        hub.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box").ticket
        == (tickets[0])
    )
    assert (
        hub.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box").ticket
        == (tickets[1])
    )
    hall.backend.start()
    wait_until(lambda: hub.desk.mode() is HallMode.ONLINE, timeout=30, what="online mode")
    assert hub.store.outbox_depth() == 0 and hub.store.dead_letter_count() == 0
    assert hub.metrics.snapshot().get("outbox_action_conflicts") == 1
    rows = _tickets(hall, tickets)
    assert rows[tickets[0]][0] is TicketState.CANCELLED  # the centre was first
    assert rows[tickets[1]][0] is TicketState.CALLED


def test_a_crash_mid_replay_resumes_without_doubles(mosquitto_hall: Hall) -> None:
    from hub.backend import BackendClient

    hall = mosquitto_hall
    first = hall.start_hub()
    kiosk = hall.kiosk()
    hall.clerk("1", "BH0101")
    tickets = [kiosk.take_ticket("A").number for _ in range(3)]
    _snapshot_has(first, tickets)
    hall.backend.stop()
    for expected in tickets:
        assert first.desk.act("1", DeskAction.CALL, employee_no=None, via="t").ticket == expected
    entries = first.store.pending_of_kind(KIND_ACTION)
    assert len(entries) == 3
    hall.stop_hub(first)
    # The hub had sent the first entry when it died; the answer never came back.
    hall.backend.start()
    client = BackendClient(hall.backend.url, hall.hub_token, "BH", timeout_s=5)
    try:
        assert client.window_action(dict(entries[0].payload)).body["outcome"] == "applied"
    finally:
        client.close()

    second = hall.start_hub()
    wait_until(lambda: second.desk.mode() is HallMode.ONLINE, timeout=30, what="online mode")
    assert second.store.outbox_depth() == 0 and second.store.dead_letter_count() == 0
    assert second.metrics.snapshot().get("outbox_action_duplicates") == 1
    assert hall.count(OfflineAction) == 3
    rows = _tickets(hall, tickets)
    assert [rows[t][0] for t in tickets] == [TicketState.DONE, TicketState.DONE, TicketState.CALLED]
