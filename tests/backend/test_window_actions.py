"""Calling through an outage, the backend's side: the hub's offline snapshot, the
window actions it relays (a caller key box online) or replays after an outage
(original times, exactly once, the conflict rule "the first act by its original
time wins"), the hub-state lock (409 hall_replaying) and 503 database_unavailable.

Real parts only: the app on SQLite and PostgreSQL, the hub's device token, the
console through the test client; the outage is a database that is really gone.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from backend.db import Database
from backend.models import (
    Hall,
    HallEvent,
    OfflineAction,
    RatingRequest,
    Staff,
    Ticket,
    TicketState,
    Window,
    WindowState,
)
from backend.services.ratings import expire_requests
from tests.conftest import Api, FakeClock, _pg_admin, clerk_for_window
from tests.web.helpers import FRAGMENT, Browser

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in the hall, a working day
BH = "/api/v1/halls/BH"
ACTIONS = f"{BH}/window-actions"


@pytest.fixture
def hub(device_token: Any) -> str:
    token: str = device_token("hub-1", "hub")
    return token


@pytest.fixture
def kiosk(device_token: Any) -> str:
    token: str = device_token("kiosk-1", "kiosk")
    return token


def issue(api: Api, kiosk: str, category: str = "A", **extra: Any) -> dict[str, Any]:
    status, body = api.post(f"{BH}/tickets", kiosk, {"category": category, **extra})
    assert status == 201, body
    return body


def act(api: Api, hub: str, action_id: str, window: str, action: str, **extra: Any) -> Any:
    body = {"action_id": action_id, "window": window, "action": action, **extra}
    status, reply = api.post(ACTIONS, hub, body)
    assert status == 200, reply
    return reply


def offline(
    api: Api, hub: str, action_id: str, window: str, action: str, at: datetime, **extra: Any
) -> Any:
    return act(
        api,
        hub,
        action_id,
        window,
        action,
        offline=True,
        at=at.isoformat(),
        **extra,
    )


def ticket(db: Database, number: str) -> Ticket:
    with db.reading() as session:
        found = session.execute(
            select(Ticket).where(Ticket.display == number, Ticket.service_day == T0.date())
        ).scalar_one()
        session.expunge(found)
        return found


def staff_id(db: Database, employee_no: str) -> int:
    with db.reading() as session:
        return session.execute(
            select(Staff.id).where(Staff.employee_no == employee_no)
        ).scalar_one()


def events(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.reading() as session:
        return [
            dict(payload)
            for payload in session.execute(
                select(HallEvent.payload).where(HallEvent.kind == kind).order_by(HallEvent.seq)
            ).scalars()
        ]


def stored_actions(db: Database) -> int:
    with db.reading() as session:
        return int(session.execute(select(func.count()).select_from(OfflineAction)).scalar_one())


# --------------------------------------------------------------------------- snapshot


def test_snapshot_carries_groups_queue_order_and_clerks_and_revokes_a_deactivated_one(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clock.advance(minutes=1)
    green = issue(api, kiosk, "A", priority_kind="elderly")
    clock.advance(minutes=1)
    later = issue(api, kiosk, "B")
    clock.advance(minutes=1)
    moved = issue(api, kiosk, "A")
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, called = api.post(f"{BH}/windows/1/call-next", clerk)
    assert status == 200 and called["ticket"]["number"] == green["number"], called
    status, _ = api.post(f"{BH}/windows/1/start", clerk)
    assert status == 200
    # A transferred ticket waits for its target window only.
    other = api.sign_in(clerk_for_window(db, "2"), window="2")
    status, body = api.post(f"{BH}/windows/2/call-next", other)
    assert status == 200 and body["ticket"]["number"] == first["number"], body
    status, body = api.post(f"{BH}/windows/2/transfer", other, {"to_window": "4"})
    assert status == 200, body

    status, snap = api.get(f"{BH}/offline-snapshot", hub)
    assert status == 200, snap
    assert snap["service_day"] == "2026-11-26" and snap["timezone"] == "Asia/Shanghai"
    assert snap["taken_at"] == clock.now.isoformat()
    with db.reading() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        top = session.execute(
            select(func.max(HallEvent.seq)).where(HallEvent.hall_id == hall.id)
        ).scalar_one()
    assert snap["last_event_seq"] == top
    assert snap["policy"]["rating_timeout_seconds"] == 60
    assert snap["policy"]["ordinary_per_preferred"] == 2
    categories = {c["prefix"]: c for c in snap["categories"]}
    assert categories["A"]["display_digits"] == 3 and categories["A"]["name"]

    windows = {w["number"]: w for w in snap["windows"]}
    assert windows["1"]["groups"] == [["A"], ["Z"]]
    assert windows["4"]["groups"] == [["B"], ["A"]]
    assert windows["3"]["groups"] == [["A"]]
    one = windows["1"]
    assert one["state"] == "open" and one["floor"] == 1
    assert one["signed_in"] == "BH0101" and one["staff"]["employee_no"] == "BH0101"
    assert one["staff"]["name"]
    assert one["current"]["ticket"] == green["number"]
    assert one["current"]["state"] == "serving"
    assert one["current"]["employee_no"] == "BH0101"
    assert one["current"]["category"] == "A"
    assert one["ordinary_streak"] == 0  # the green-channel ticket reset the ratio
    assert windows["5"]["current"] is None and windows["5"]["signed_in"] is None

    waiting = snap["waiting"]
    assert [w["ticket"] for w in waiting] == [first["number"], later["number"], moved["number"]]
    by_number = {w["ticket"]: w for w in waiting}
    assert by_number[first["number"]]["target_window"] == "4"
    assert by_number[later["number"]]["category"] == "B"
    assert by_number[later["number"]]["standing"] == 2
    assert by_number[moved["number"]]["order"] == moved["id"]
    assert by_number[moved["number"]]["order"] > by_number[later["number"]]["order"]
    assert by_number[later["number"]]["issued_at"] == (T0 + timedelta(minutes=2)).isoformat()
    assert green["number"] not in by_number  # being served, not waiting

    clerks = {c["employee_no"]: c for c in snap["clerks"]}
    assert clerks["BH0101"]["windows"] == ["1"]
    assert clerks["BH0101"]["verifier"].startswith("$argon2id$")
    assert "BH0102" in clerks

    with db.writing() as session:
        session.execute(update(Staff).where(Staff.employee_no == "BH0102").values(active=False))
    status, snap = api.get(f"{BH}/offline-snapshot", hub)
    assert status == 200
    assert "BH0102" not in {c["employee_no"] for c in snap["clerks"]}
    assert "BH0101" in {c["employee_no"] for c in snap["clerks"]}


def test_snapshot_and_actions_are_for_the_hub_only(
    api: Api, db: Database, hub: str, kiosk: str
) -> None:
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    for token in (kiosk, clerk):
        status, body = api.get(f"{BH}/offline-snapshot", token)
        assert status == 403, body
        status, body = api.post(
            ACTIONS, token, {"action_id": "a-000001", "window": "1", "action": "call"}
        )
        assert status == 403, body
        status, body = api.call("PUT", f"{BH}/hub-state", token, {"mode": "offline"})
        assert status == 403, body
    assert stored_actions(db) == 0


# --------------------------------------------------------------------------- online key box


def test_online_key_box_acts_now_as_the_signed_in_clerk_once(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    second = issue(api, kiosk, "A")
    with caplog.at_level(logging.INFO):
        status, body = api.post(
            ACTIONS, hub, {"action_id": "box-0000", "window": "1", "action": "call"}
        )
    assert status == 409 and body["error"]["code"] == "not_signed_in", body
    assert any("not_signed_in" in r.getMessage() for r in caplog.records)
    assert stored_actions(db) == 0

    api.sign_in(clerk_for_window(db, "1"), window="1")
    clock.advance(minutes=3)
    reply = act(api, hub, "box-0001", "1", "call")
    assert reply["outcome"] == "applied" and reply["duplicate"] is False
    assert reply["ticket"]["number"] == first["number"] and reply["detail"] is None
    again = act(api, hub, "box-0001", "1", "call")
    assert again["duplicate"] is True and again["ticket"] == reply["ticket"]
    assert ticket(db, second["number"]).state is TicketState.WAITING  # called once only
    called = ticket(db, first["number"])
    assert called.state is TicketState.CALLED and called.called_at == clock.now
    assert called.staff_id == staff_id(db, "BH0101")
    call_events = events(db, "ticket_called")
    assert len(call_events) == 1
    assert call_events[0]["actor"] == "staff:BH0101 via device:hub-1"
    assert "offline" not in call_events[0]  # the hub announces it as any call

    assert act(api, hub, "box-0002", "1", "recall")["ticket"]["recall_count"] == 1
    assert act(api, hub, "box-0003", "1", "start")["ticket"]["state"] == "serving"
    assert act(api, hub, "box-0004", "1", "finish")["ticket"]["state"] == "done"
    assert act(api, hub, "box-0005", "1", "invite_rating")["ticket"]["number"] == first["number"]
    act(api, hub, "box-0006", "1", "pause")
    with db.reading() as session:
        window = session.execute(
            select(Window).join(Hall).where(Hall.code == "BH", Window.number == "1")
        ).scalar_one()
        assert window.state is WindowState.PAUSED and window.pause_reason == "暂停服务"
    act(api, hub, "box-0007", "1", "resume")
    call = act(api, hub, "box-0008", "1", "call")
    assert call["ticket"]["number"] == second["number"]
    moved = act(api, hub, "box-0009", "1", "transfer", target_window="3")
    assert moved["ticket"]["state"] == "waiting"
    with db.reading() as session:
        target = session.execute(
            select(Window.number)
            .join(Ticket, Ticket.target_window_id == Window.id)
            .where(Ticket.display == second["number"])
        ).scalar_one()
    assert target == "3"
    nobody = act(api, hub, "box-0010", "1", "call")
    assert nobody["outcome"] == "applied" and nobody["ticket"] is None
    assert "nobody is waiting" in nobody["detail"]


# --------------------------------------------------------------------------- offline replay


def test_offline_replay_keeps_original_times_clerk_and_rating_invitation(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clock.advance(minutes=1)
    second = issue(api, kiosk, "A")
    api.sign_in(clerk_for_window(db, "1"), window="1")
    # The backend is away from 10:02 to 11:00; the hub calls and keeps its outbox.
    clock.now = T0 + timedelta(hours=1)
    rid = "f" * 32
    call = offline(
        api, hub, "off-0001", "1", "call", T0 + timedelta(minutes=5),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert call["outcome"] == "applied", call
    assert call["ticket"]["called_at"] == (T0 + timedelta(minutes=5)).isoformat()
    offline(api, hub, "off-0002", "1", "start", T0 + timedelta(minutes=6), employee_no="BH0101")
    done = offline(
        api, hub, "off-0003", "1", "finish", T0 + timedelta(minutes=16),
        ticket=first["number"], employee_no="BH0101", rating_request_id=rid,
    )  # fmt: skip
    assert done["outcome"] == "applied" and done["ticket"]["state"] == "done", done
    served = ticket(db, first["number"])
    assert served.called_at == T0 + timedelta(minutes=5)
    assert served.started_at == T0 + timedelta(minutes=6)
    assert served.finished_at == T0 + timedelta(minutes=16)
    assert served.staff_id == staff_id(db, "BH0101") and served.state is TicketState.DONE
    assert served.called_at is not None and served.finished_at is not None
    assert (served.called_at - served.issued_at).total_seconds() == 300  # the wait
    assert served.started_at is not None
    assert (served.finished_at - served.started_at).total_seconds() == 600  # the service

    with db.reading() as session:
        invitation = session.execute(
            select(RatingRequest).where(RatingRequest.request_uid == rid)
        ).scalar_one()
    assert invitation.ticket_id == first["id"]
    assert invitation.requested_at == T0 + timedelta(minutes=16)
    assert invitation.expires_at == T0 + timedelta(minutes=16, seconds=60)

    # The next call (at 10:20) is an offline call of the second ticket.
    nxt = offline(
        api, hub, "off-0004", "1", "call", T0 + timedelta(minutes=20),
        ticket=second["number"], employee_no="BH0101",
    )  # fmt: skip
    assert nxt["outcome"] == "applied" and nxt["ticket"]["number"] == second["number"]
    for kind in ("ticket_called", "ticket_serving", "ticket_finished", "rating_requested"):
        assert events(db, kind) and all(e.get("offline") is True for e in events(db, kind)), kind
    # A sweep at the centre has marked the invitation expired meanwhile; the rating
    # given in time (10:16:30) and replayed now (11:00) is still accepted.
    with db.writing() as session:
        expire_requests(session, now=clock.now)
    status, rating = api.post(
        f"{BH}/ratings",
        hub,
        {
            "rating_id": "rate-off-1",
            "level": 5,
            "ticket_id": first["id"],
            "window": "1",
            "rated_at": (T0 + timedelta(minutes=16, seconds=30)).isoformat(),
            "request_id": rid,
        },
    )
    assert status == 201, rating

    # The hub crashed after sending and replays from the start: nothing doubles.
    seq_before = len(events(db, "ticket_called"))
    repeat = offline(
        api, hub, "off-0001", "1", "call", T0 + timedelta(minutes=5),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert repeat["duplicate"] is True and repeat["outcome"] == "applied"
    assert repeat["ticket"] == call["ticket"]
    assert len(events(db, "ticket_called")) == seq_before
    assert ticket(db, first["number"]).state is TicketState.DONE
    assert stored_actions(db) == 4


def test_offline_call_at_a_window_the_backend_has_closed_is_replayed(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock
) -> None:
    """The hub decided (its clerk signed in at the hub console): the backend's
    record of the window's state does not undo a call that happened."""
    clock.now = T0
    first = issue(api, kiosk, "A")
    clock.now = T0 + timedelta(minutes=30)
    reply = offline(
        api, hub, "off-closed", "3", "call", T0 + timedelta(minutes=4),
        ticket=first["number"], employee_no="BH0301",
    )  # fmt: skip
    assert reply["outcome"] == "applied", reply
    assert ticket(db, first["number"]).staff_id == staff_id(db, "BH0301")


# --------------------------------------------------------------------------- conflicts


def test_a_ticket_cancelled_at_the_centre_before_the_offline_call_is_a_conflict(
    api: Api,
    db: Database,
    hub: str,
    kiosk: str,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clock.now = T0 + timedelta(minutes=2)
    status, body = api.post(f"{BH}/tickets/{first['number']}/cancel", kiosk, {})
    assert status == 200, body
    clock.now = T0 + timedelta(minutes=30)
    with caplog.at_level(logging.WARNING, logger="backend.services.offline"):
        reply = offline(
            api, hub, "off-c-01", "1", "call", T0 + timedelta(minutes=5),
            ticket=first["number"], employee_no="BH0101",
        )  # fmt: skip
    assert reply["outcome"] == "conflict" and reply["ticket"] is None, reply
    detail = reply["detail"]
    assert first["number"] in detail and "cancelled" in detail and "10:02:00" in detail
    assert "10:05:00" in detail
    assert ticket(db, first["number"]).state is TicketState.CANCELLED
    with db.reading() as session:
        row = session.execute(select(OfflineAction)).scalar_one()
        name = session.execute(select(Staff.name).where(Staff.employee_no == "BH0101")).scalar()
    assert row.outcome == "conflict" and row.detail == detail and row.offline is True
    assert row.at == T0 + timedelta(minutes=5)
    logged = [r.getMessage() for r in caplog.records if "conflicts" in r.getMessage()]
    assert logged and all(name and name not in message for message in logged)
    assert not events(db, "ticket_called")
    again = offline(
        api, hub, "off-c-01", "1", "call", T0 + timedelta(minutes=5),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert again["duplicate"] is True and again["outcome"] == "conflict"


def test_an_offline_call_made_before_a_centre_cancellation_wins(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clock.now = T0 + timedelta(minutes=10)
    status, _ = api.post(f"{BH}/tickets/{first['number']}/cancel", kiosk, {})
    assert status == 200
    clock.now = T0 + timedelta(minutes=30)
    reply = offline(
        api, hub, "off-c-02", "1", "call", T0 + timedelta(minutes=5),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert reply["outcome"] == "applied", reply
    assert "superseded" in reply["detail"] and "cancelled" in reply["detail"]
    called = ticket(db, first["number"])
    assert called.state is TicketState.CALLED and called.called_at == T0 + timedelta(minutes=5)
    assert called.finished_at is None


def test_a_ticket_called_at_another_window_first_is_a_conflict_and_so_is_its_finish(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clerk = api.sign_in(clerk_for_window(db, "2"), window="2")
    clock.now = T0 + timedelta(minutes=3)
    status, body = api.post(f"{BH}/windows/2/call-next", clerk)
    assert status == 200 and body["ticket"]["number"] == first["number"]
    clock.now = T0 + timedelta(minutes=30)
    reply = offline(
        api, hub, "off-w-01", "1", "call", T0 + timedelta(minutes=5),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert reply["outcome"] == "conflict", reply
    assert "window 2" in reply["detail"] and "called" in reply["detail"]
    finish = offline(
        api, hub, "off-w-02", "1", "finish", T0 + timedelta(minutes=9),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert finish["outcome"] == "conflict", finish
    assert "holds no ticket" in finish["detail"]
    kept = ticket(db, first["number"])
    assert kept.state is TicketState.CALLED and kept.called_at == T0 + timedelta(minutes=3)
    with db.reading() as session:
        assert (
            session.execute(select(Window.number).where(Window.id == kept.window_id)).scalar_one()
            == "2"
        )
    assert [e.get("offline") for e in events(db, "ticket_called")] == [None]


# --------------------------------------------------------------------------- hub state lock


def test_replaying_hub_locks_staff_window_actions_of_its_hall(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock, client: Any
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clerk = api.sign_in(clerk_for_window(db, "2"), window="2")
    browser = Browser(client)
    assert browser.sign_in("BH0101", "1").status_code == 302
    clock.now = T0 + timedelta(minutes=5)
    status, body = api.call(
        "PUT",
        f"{BH}/hub-state",
        hub,
        {"mode": "replaying", "console_url": "http://10.0.0.2:8080/console", "pending": 12},
    )
    assert status == 200 and body == {"ok": True}, body
    with db.reading() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        assert (hall.hub_mode, hall.hub_pending) == ("replaying", 12)
        assert hall.hub_console_url == "http://10.0.0.2:8080/console"
        assert hall.hub_mode_at == T0 + timedelta(minutes=5)

    status, body = api.post(f"{BH}/windows/2/call-next", clerk)
    assert status == 409 and body["error"]["code"] == "hall_replaying", body
    assert "补录" in body["error"]["message"]
    status, body = api.post(f"{BH}/windows/2/pause", clerk, {"reason": "临时离开"})
    assert status == 409 and body["error"]["code"] == "hall_replaying", body
    page = browser.post("/console/call-next", headers=FRAGMENT)
    assert page.status_code == 409 and "补录" in page.get_data(as_text=True)
    assert ticket(db, first["number"]).state is TicketState.WAITING
    # The replay itself goes on.
    replayed = offline(
        api, hub, "off-l-01", "1", "call", T0 + timedelta(minutes=1),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert replayed["outcome"] == "applied", replayed

    # A hub that went silent while replaying does not lock the hall for ever.
    clock.now = T0 + timedelta(minutes=15, seconds=1)
    status, body = api.post(f"{BH}/windows/2/call-next", clerk)
    assert status == 200, body
    clock.now = T0 + timedelta(minutes=16)
    status, _ = api.call("PUT", f"{BH}/hub-state", hub, {"mode": "replaying", "pending": 1})
    assert status == 200
    page = browser.post("/console/call-next", headers=FRAGMENT)
    assert page.status_code == 409
    status, _ = api.call("PUT", f"{BH}/hub-state", hub, {"mode": "online", "pending": 0})
    assert status == 200
    page = browser.post("/console/call-next", headers=FRAGMENT)
    assert page.status_code == 200, page.get_data(as_text=True)
    status, body = api.post(f"{BH}/windows/2/call-next", clerk)
    assert status == 200, body


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action_id": "short", "window": "1", "action": "call"}, "action_id"),
        ({"action_id": "bad-0001", "window": "1", "action": "dance"}, "action"),
        ({"action_id": "bad-0002", "window": "1", "action": "call", "offline": True}, "at"),
        (
            {
                "action_id": "bad-0003",
                "window": "1",
                "action": "call",
                "offline": True,
                "at": "2026-11-26T02:05:00+00:00",
            },
            "ticket",
        ),
        ({"action_id": "bad-0004", "window": "1", "action": "transfer"}, "target_window"),
        (
            {
                "action_id": "bad-0005",
                "window": "1",
                "action": "call",
                "offline": True,
                "at": "2026-11-26T02:05:00",
                "ticket": "A001",
            },
            "at",
        ),
        ({"action_id": "bad-0006", "window": "1", "action": "call", "extra": 1}, "extra"),
    ],
)
def test_bad_window_actions_are_refused_with_a_reason_and_change_nothing(
    api: Api, db: Database, hub: str, body: dict[str, Any], field: str
) -> None:
    status, reply = api.post(ACTIONS, hub, body)
    assert status == 400, reply
    assert reply["error"]["code"] == "bad_input"
    assert field in str(reply["error"])
    assert stored_actions(db) == 0


def test_unknown_window_clerk_or_a_future_time_are_refused(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    base = {"action": "call", "offline": True, "ticket": first["number"]}
    cases = [
        ({**base, "action_id": "bad-1001", "window": "99", "at": T0.isoformat()}, "window"),
        (
            {**base, "action_id": "bad-1002", "window": "1", "at": T0.isoformat()}
            | {"employee_no": "XX9999"},
            "employee",
        ),
        (
            {**base, "action_id": "bad-1003", "window": "1"}
            | {"at": (T0 + timedelta(hours=1)).isoformat()},
            "future",
        ),
    ]
    for body, word in cases:
        with caplog.at_level(logging.INFO, logger="hallkit.api"):
            status, reply = api.post(ACTIONS, hub, body)
        assert status == 400 and word in reply["error"]["message"], reply
        assert any("rejected bad_input" in r.getMessage() for r in caplog.records)
    assert stored_actions(db) == 0
    assert ticket(db, first["number"]).state is TicketState.WAITING
    status, reply = api.call("PUT", f"{BH}/hub-state", hub, {"mode": "asleep"})
    assert status == 400, reply
    status, reply = api.call("PUT", f"{BH}/hub-state", hub, {"mode": "online", "pending": -1})
    assert status == 400, reply


# --------------------------------------------------------------------------- database outage


def test_a_database_outage_answers_503_database_unavailable(
    api: Api, db: Database, database_url: str, hub: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = api.get("/healthz")
    assert status == 200, body
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # The database file is gone and a directory stands in its place: SQLite
        # cannot open it. The pooled connections (which still hold the removed
        # file open) and the checkpointer are closed first, as in a new process.
        db.dispose()
        path = str(url.database)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        os.mkdir(path)
    else:
        _pg_admin(f'DROP DATABASE "{url.database}" WITH (FORCE)')
    try:
        with caplog.at_level(logging.ERROR, logger="hallkit.api"):
            status, body = api.get("/healthz")
            assert status == 503, body
            assert body["error"]["code"] == "database_unavailable"
            status, body = api.get(f"{BH}/offline-snapshot", hub)
            assert status == 503 and body["error"]["code"] == "database_unavailable", body
            status, body = api.get(f"{BH}/status")
            assert status == 503 and body["error"]["code"] == "database_unavailable", body
        messages = [r.getMessage() for r in caplog.records]
        assert any("database unavailable during GET /healthz" in m for m in messages)
        assert not any("SELECT" in m for m in messages)
    finally:
        if url.get_backend_name() == "sqlite":
            shutil.rmtree(str(url.database), ignore_errors=True)


def test_an_offline_call_made_before_a_centre_call_elsewhere_takes_the_ticket_back(
    api: Api, db: Database, hub: str, kiosk: str, clock: FakeClock
) -> None:
    clock.now = T0
    first = issue(api, kiosk, "A")
    clerk = api.sign_in(clerk_for_window(db, "2"), window="2")
    clock.now = T0 + timedelta(minutes=10)
    status, body = api.post(f"{BH}/windows/2/call-next", clerk)
    assert status == 200 and body["ticket"]["number"] == first["number"]
    clock.now = T0 + timedelta(minutes=30)
    reply = offline(
        api, hub, "off-w-10", "1", "call", T0 + timedelta(minutes=5),
        ticket=first["number"], employee_no="BH0101",
    )  # fmt: skip
    assert reply["outcome"] == "applied", reply
    assert "superseded" in reply["detail"] and "window 2" in reply["detail"]
    moved = ticket(db, first["number"])
    assert moved.called_at == T0 + timedelta(minutes=5)
    assert moved.staff_id == staff_id(db, "BH0101")
    with db.reading() as session:
        numbers = dict(
            session.execute(
                select(Window.number, Window.current_ticket_id)
                .join(Hall)
                .where(Hall.code == "BH", Window.number.in_(["1", "2"]))
            ).all()
        )
    assert numbers == {"1": first["id"], "2": None}
