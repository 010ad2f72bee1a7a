"""One forecast: the kiosk's confirm screen and the printed ticket say the same minutes.

The real chain on both databases: the backend's queue (service times measured from
finished tickets, not the category's configured default) → its hall status → the hub's
display model → the KioskState the confirm screen reads; and the backend's issued
ticket → the hub's TicketIssued → the ESC/POS bytes the kiosk prints.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.db import Database
from backend.models.queue import Channel
from backend.services import queue
from hallbus.forecast import wait_minutes
from hub.display import HallDisplayModel
from hub.events import HallView
from hub.kiosk_state import CatalogDigest, build_kiosk_state
from hub.registry import DeviceRegistry
from hub.translate import ticket_from_backend
from tests.backend.test_queue_rules import T0, hall_id, issue, open_window
from tests.kiosk.conftest import KioskHarness

SERVICE = timedelta(seconds=60)  # measured service time; the category's default is 300 s
WAITING = 10


def serve_three(db: Database, window_id: int, start: datetime) -> datetime:
    """Three A tickets called and finished in 60 s each: the rolling average."""
    at = start
    for _ in range(3):
        issue(db, "A", at)
        with db.writing() as session:
            queue.call_next(session, window_id=window_id, staff_id=None, now=at, actor="test")
            queue.start_service(session, window_id=window_id, now=at, actor="test")
        at += SERVICE
        with db.writing() as session:
            queue.finish_service(session, window_id=window_id, now=at, actor="test")
    return at


def test_confirm_screen_and_printed_ticket_show_the_same_forecast(
    db: Database, client: FlaskClient, kiosk: KioskHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "_service_time_cache", {})  # per-process cache, per database
    first = open_window(db, "1")
    open_window(db, "2")
    at = serve_three(db, first, T0)
    for index in range(WAITING):
        issue(db, "A", at + timedelta(seconds=index))
    at += timedelta(minutes=1)
    # Issuing cached the average of before the services (30 s, per process); a hall
    # reaches this state after that time, and the forecast must use what was measured.
    queue._service_time_cache.clear()

    # What the kiosk shows before anyone takes a ticket: status → hub → KioskState.
    response = client.get("/api/v1/halls/BH/status")
    assert response.status_code == 200
    status = response.get_json()
    model = HallDisplayModel("bh", DeviceRegistry(), lambda: 1, lambda: at)
    model.load_snapshot(status)
    state = build_kiosk_state(
        seq=100,
        hall=HallView(
            categories=list(model.categories.values()),
            details=model.category_details,
            notices=[],
            loaded=True,
        ),
        digest=CatalogDigest(),
        places={},
        degraded=False,
    )
    # The ticket the backend issues for that queue, as the hub relays it.
    with db.writing() as session:
        issued = queue.issue_ticket(
            session,
            hall_id=hall_id(db),
            category_prefix="A",
            now=at,
            actor="test",
            channel=Channel.KIOSK,
        )
    ticket = ticket_from_backend(issued.as_json(), public_base_url="https://hall.example.gov.cn")

    # Ten people ahead, 60 s each, over the open windows that serve A.
    with db.reading() as session:
        category = queue.category_by_prefix(session, hall_id(db), "A")
        windows = queue.open_windows_serving(session, category.id)
    expected = wait_minutes(WAITING, SERVICE.total_seconds(), windows)
    assert ticket.ahead == WAITING and ticket.estimated_wait_minutes == expected

    hub = kiosk.hub
    queue_state = state

    def kiosk_state() -> Any:
        return queue_state.model_copy(update={"seq": next(hub._seq)})

    def take_ticket(_body: dict[str, Any]) -> dict[str, Any]:
        return ticket.model_dump(mode="json")

    monkeypatch.setattr(hub, "kiosk_state", kiosk_state)
    monkeypatch.setattr(hub, "_do_take_ticket", take_ticket)
    hub.publish_state("kiosk-1")

    vm = kiosk.vm
    vm.act("ticket.open")
    vm.act("ticket.category", "A")
    screen = kiosk.state
    assert screen["screen"] == "ticket_confirm"
    assert screen["confirm_waiting"] == f"前面等候：{WAITING} 人"
    assert screen["confirm_wait"] == f"预计等候：约 {expected} 分钟"
    vm.act("ticket.confirm")
    assert kiosk.state["screen"] == "ticket_done"
    printed = kiosk.printed()
    assert f"您前面还有 {WAITING} 人".encode("gb18030") in printed
    assert f"预计等候约 {expected} 分钟".encode("gb18030") in printed
