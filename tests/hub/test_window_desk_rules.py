"""The window desk's offline rules, against a loopback HTTP server serving contract JSON.

No broker: a recording feed stands in for the event reader, so each test sees the
exact events the displays would get. The HTTP server is real (urllib3 talks to
it), the HubStore is a real SQLite file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hallbus.ports import free_loopback_port
from hub.backend import BackendClient
from hub.metrics import HubMetrics
from hub.offline import KIND_ACTION
from hub.offline_queue import LOCAL_BASE
from hub.reachability import BackendReachability
from hub.store import HubStore
from hub.window_desk import DeskAction, DeskRefused, HallMode, WindowDesk
from tests.conftest import FakeClock

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _snapshot(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taken_at": T0.isoformat(),
        "service_day": "2026-11-26",
        "last_event_seq": 40,
        "timezone": "Asia/Shanghai",
        "policy": {
            "ordinary_per_preferred": 2,
            "recall_limit": 2,
            "no_show_requeue": "back",
            "requeue_limit": 1,
            "auto_invite_rating": True,
            "rating_timeout_seconds": 60,
        },
        "categories": [{"prefix": "A", "name": "综合受理", "display_digits": 3}],
        "windows": [
            {
                "number": "1",
                "name": "1号窗口",
                "state": "open",
                "floor": 1,
                "area": "一楼A区",
                "groups": [["A"]],
                "ordinary_streak": None,
                "signed_in": "BH0101",
                "current": None,
                "staff": {"name": "张三", "employee_no": "BH0101"},
            },
            {
                "number": "2",
                "name": "2号窗口",
                "state": "paused",
                "floor": 1,
                "area": "一楼A区",
                "groups": [["B"], ["A"]],
                "ordinary_streak": None,
                "signed_in": None,
                "current": None,
                "staff": None,
            },
        ],
        "waiting": [
            _waiting("A001", 2, 1, 101),
            _waiting("A002", 2, 2, 102),
            _waiting("A003", 0, 3, 103),  # 绿色通道, issued last
        ],
        "clerks": [
            {"employee_no": "BH0101", "name": "张三", "verifier": "$argon2id$x", "windows": ["1"]},
            {"employee_no": "BH0102", "name": "李四", "verifier": "$argon2id$y", "windows": ["2"]},
        ],
    }
    body.update(changes)
    return body


def _waiting(ticket: str, standing: int, minute: int, order: int) -> dict[str, Any]:
    at = (T0 - timedelta(minutes=30 - minute)).isoformat()
    return {
        "ticket": ticket,
        "category": ticket[0],
        "standing": standing,
        "sort_at": at,
        "issued_at": at,
        "order": order,
        "target_window": None,
        "priority_kind": "elderly" if standing == 0 else None,
        "matter": None,
    }


@dataclass
class FakeBackend:
    """Contract JSON on a loopback port: what the hub asked, what it answers."""

    snapshot: dict[str, Any] = field(default_factory=_snapshot)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_loopback_port)
    hub_state_put: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> ThreadingHTTPServer:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def do_GET(self) -> None:
                backend.requests.append(("GET", self.path, None))
                if self.path.endswith("/offline-snapshot"):
                    self._answer(200, backend.snapshot)
                else:
                    self._answer(404, {"error": {"code": "not_found", "message": "no"}})

            def do_POST(self) -> None:
                body = self._body()
                backend.requests.append(("POST", self.path, body))
                self._answer(
                    200,
                    {
                        "outcome": "applied",
                        "duplicate": False,
                        "ticket": {"number": "A001"},
                        "detail": None,
                    },
                )

            def do_PUT(self) -> None:
                backend.requests.append(("PUT", self.path, self._body()))
                self._answer(200, {"ok": True})
                backend.hub_state_put.set()

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


class RecordingFeed:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.marks: list[str | None] = []

    def apply_local(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)

    def set_hall_mode(self, mode: str | None, *, hub_decides: bool) -> None:
        self.marks.append(mode)

    def seed_windows(self, seats: list[dict[str, Any]]) -> None:
        pass

    def rebuild_now(self) -> None:
        pass

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events]


@dataclass
class Rig:
    backend: FakeBackend
    store: HubStore
    reachability: BackendReachability
    clock: FakeClock
    feed: RecordingFeed
    desk: WindowDesk
    stopping: threading.Event

    def offline(self) -> None:
        self.reachability.failed("test: backend away")
        assert self.desk.mode() is HallMode.OFFLINE

    def actions(self) -> list[dict[str, Any]]:
        return [e.payload for e in self.store.pending_of_kind(KIND_ACTION)]


def _rig(path: Path, backend: FakeBackend) -> Rig:
    store = HubStore(path)
    reachability = BackendReachability()
    clock = FakeClock(T0)
    stopping = threading.Event()
    desk = WindowDesk(
        device_id="hub-bh",
        store=store,
        backend=BackendClient(f"http://127.0.0.1:{backend.port}", "token", "BH", timeout_s=2),
        reachability=reachability,
        metrics=HubMetrics(),
        stopping=stopping,
        clock=clock,
        console_url="http://10.0.0.5:8070/console",
        backend_console_url="http://backend/console",
    )
    feed = RecordingFeed()
    desk.attach(feed)
    return Rig(backend, store, reachability, clock, feed, desk, stopping)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    backend = FakeBackend()
    server = backend.serve()
    made = _rig(tmp_path / "hub.sqlite3", backend)
    made.reachability.succeeded()
    assert made.desk.mode() is HallMode.ONLINE
    assert made.desk.refresh_snapshot()
    yield made
    made.stopping.set()
    made.store.close()
    server.shutdown()
    server.server_close()


def test_offline_calls_follow_the_policy_and_queue_the_backend_body(rig: Rig) -> None:
    rig.offline()
    assert rig.desk.view("1").next_up == ("A003", "A001", "A002")
    first = rig.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box")
    assert first.ticket == "A003"  # 绿色通道 first
    rig.clock.advance(minutes=3)
    second = rig.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box")
    assert second.ticket == "A001"
    assert second.view.served == 1 and second.view.current == "A001"
    calls = [e for e in rig.feed.events if e["kind"] == "ticket_called"]
    assert [c["data"]["ticket"] for c in calls] == ["A003", "A001"]
    # Offline calls get seq above any backend event seq, distinct from each other.
    assert all(c["seq"] > LOCAL_BASE for c in calls) and calls[0]["seq"] != calls[1]["seq"]
    assert calls[1]["data"]["floor"] == 1 and calls[1]["data"]["area"] == "一楼A区"
    # The second call finished A003 and invited a rating: rate_now with the clerk.
    invitation = next(e for e in rig.feed.events if e["kind"] == "rating_requested")
    assert invitation["data"]["ticket"] == "A003"
    assert invitation["data"]["staff"] == {"name": "张三", "employee_no": "BH0101"}
    actions = rig.actions()
    assert [a["action"] for a in actions] == ["call", "call"]
    assert actions[1] == {
        "action": "call",
        "ticket": "A001",
        "rating_request_id": invitation["data"]["request_id"],
        "action_id": actions[1]["action_id"],
        "window": "1",
        "employee_no": "BH0101",
        "at": (T0 + timedelta(minutes=3)).isoformat(),
        "offline": True,
        "target_window": None,
        "reason": None,
    }
    assert actions[0]["rating_request_id"] is None  # nothing was finished


def test_refusals_change_nothing(rig: Rig) -> None:
    rig.offline()

    def refused(code: str, window: str, action: DeskAction, **kw: Any) -> None:
        before = (rig.store.outbox_depth(), len(rig.feed.events))
        with pytest.raises(DeskRefused) as caught:
            rig.desk.act(window, action, employee_no=kw.pop("employee_no", None), via="t", **kw)
        assert caught.value.code == code
        assert (rig.store.outbox_depth(), len(rig.feed.events)) == before

    refused("unknown_window", "9", DeskAction.CALL)
    refused("not_signed_in", "2", DeskAction.CALL)
    refused("window_closed", "2", DeskAction.CALL, employee_no="BH0102")
    refused("not_your_window", "1", DeskAction.CALL, employee_no="BH0102")
    refused("unknown_clerk", "1", DeskAction.CALL, employee_no="BH9999")
    refused("no_current_ticket", "1", DeskAction.RECALL)
    refused("no_current_ticket", "1", DeskAction.INVITE_RATING)
    refused("not_paused", "1", DeskAction.RESUME)
    rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t")
    refused("finish_first", "1", DeskAction.PAUSE)
    refused("bad_target", "1", DeskAction.TRANSFER)
    rig.desk.act("1", DeskAction.RECALL, employee_no=None, via="t")
    rig.desk.act("1", DeskAction.RECALL, employee_no=None, via="t")
    refused("recall_limit", "1", DeskAction.RECALL)  # the snapshot's policy: 2
    rig.desk.act("1", DeskAction.START, employee_no=None, via="t")
    refused("no_current_ticket", "1", DeskAction.NO_SHOW)  # serving, not called
    for _ in range(3):
        rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t")
    refused("nobody_waiting", "1", DeskAction.CALL)


def test_call_with_nobody_waiting_finishes_the_current_one(rig: Rig) -> None:
    rig.backend.snapshot["waiting"] = [_waiting("A001", 2, 1, 101)]
    assert rig.desk.refresh_snapshot()
    rig.offline()
    rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t")
    result = rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t")
    assert result.ok and result.ticket is None and result.view.current is None
    # A call naming no ticket cannot be replayed: it is queued as the finish it was.
    assert [(a["action"], a["ticket"]) for a in rig.actions()] == [
        ("call", "A001"),
        ("finish", "A001"),
    ]


def test_no_show_requeue_transfer_pause_and_invite(rig: Rig) -> None:
    rig.offline()
    rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t")  # A003
    rig.clock.advance(minutes=1)
    no_show = rig.desk.act("1", DeskAction.NO_SHOW, employee_no=None, via="t")
    assert no_show.ticket == "A003"
    # Policy "back": A003 rejoins the line (still 绿色通道); after a preferred call the
    # ratio (2) lets two ordinary tickets go first.
    assert rig.desk.view("1").next_up == ("A001", "A002", "A003")
    assert rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t").ticket == "A001"
    moved = rig.desk.act("1", DeskAction.TRANSFER, employee_no=None, via="t", target_window="2")
    assert moved.ticket == "A001" and rig.desk.view("1").current is None
    assert "A001" not in rig.desk.view("1").next_up
    # At window 2 a transferred ticket comes before its categories' tickets of the same
    # standing (A002), after a better standing (绿色通道 A003).
    assert rig.desk.view("2").next_up == ("A003", "A001", "A002")
    paused = rig.desk.act("1", DeskAction.PAUSE, employee_no=None, via="t")
    assert paused.view.state == "paused"
    state = rig.feed.events[-1]
    assert state["kind"] == "window_state" and state["data"]["reason"] == "暂停服务"
    rig.desk.act("1", DeskAction.RESUME, employee_no=None, via="t")
    assert rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t").ticket == "A002"
    rig.desk.act("1", DeskAction.FINISH, employee_no=None, via="t")
    invite = rig.desk.act("1", DeskAction.INVITE_RATING, employee_no=None, via="t")
    assert invite.ticket == "A002"
    requests = [e["data"]["request_id"] for e in rig.feed.events if e["kind"] == "rating_requested"]
    assert len(requests) == 2 and len(set(requests)) == 2
    assert rig.actions()[-1]["rating_request_id"] == requests[-1]


def test_state_survives_a_restart_and_clerks_are_revoked(rig: Rig, tmp_path: Path) -> None:
    rig.offline()
    rig.desk.act("1", DeskAction.CALL, employee_no=None, via="t")
    rig.store.close()
    again = _rig(tmp_path / "hub.sqlite3", rig.backend)
    try:
        assert again.desk.mode() is HallMode.OFFLINE
        assert again.desk.view("1").current == "A003"
        assert again.desk.clerk("BH0102") is not None
        result = again.desk.act("1", DeskAction.CALL, employee_no=None, via="t")
        assert result.ticket == "A001"
        ids = [a["action_id"] for a in again.actions()]
        assert len(ids) == 2 and len(set(ids)) == 2
        # Back online, a newer snapshot without BH0102: that clerk is forgotten.
        again.store.delivered(again.store.pending(10)[0].id)
        again.store.delivered(again.store.pending(10)[0].id)
        again.reachability.succeeded()
        assert again.desk.mode() is HallMode.ONLINE
        rig.backend.snapshot["clerks"] = rig.backend.snapshot["clerks"][:1]
        assert again.desk.refresh_snapshot()
        assert again.desk.clerk("BH0102") is None
        assert again.desk.clerk("BH0101") is not None
    finally:
        again.stopping.set()
        again.store.close()


def test_online_key_press_is_relayed_and_mode_is_posted(rig: Rig) -> None:
    result = rig.desk.act("1", DeskAction.CALL, employee_no=None, via="caller_box")
    assert result.ok and result.ticket == "A001"
    posted = [
        body for method, path, body in rig.backend.requests if path.endswith("/window-actions")
    ]
    assert posted[-1]["offline"] is False and posted[-1]["action"] == "call"
    assert posted[-1]["ticket"] is None and posted[-1]["at"] is None
    assert rig.store.outbox_depth() == 0
    # The mode thread tells the backend the mode, with the console URL and the backlog.
    rig.desk.start()
    try:
        assert rig.backend.hub_state_put.wait(5), "no PUT /hub-state"
    finally:
        rig.stopping.set()
        rig.desk.join(2)
    state = next(b for _, p, b in rig.backend.requests if p.endswith("/hub-state"))
    assert state == {"mode": "online", "console_url": "http://10.0.0.5:8070/console", "pending": 0}


def test_events_after_the_snapshot_keep_the_queue_current(rig: Rig) -> None:
    rig.desk.events_seen(
        [
            {
                "seq": 41,
                "kind": "ticket_called",
                "at": T0.isoformat(),
                "data": {"ticket": "A003", "window": "2", "called_at": T0.isoformat()},
            },
            {
                "seq": 42,
                "kind": "ticket_issued",
                "at": T0.isoformat(),
                "data": {
                    "ticket": "A004",
                    "ticket_id": 104,
                    "category": "A",
                    "standing": "ordinary",
                },
            },
            # An older event than the snapshot: already in it.
            {
                "seq": 30,
                "kind": "ticket_cancelled",
                "at": T0.isoformat(),
                "data": {"ticket": "A001"},
            },
            # The replayed copy of an offline act: the hub applied it itself.
            {
                "seq": 43,
                "kind": "ticket_cancelled",
                "at": T0.isoformat(),
                "data": {"ticket": "A002", "offline": True},
            },
        ]
    )
    rig.offline()
    assert rig.desk.view("1").next_up == ("A001", "A002", "A004")
    assert rig.desk.view("2").current == "A003"
