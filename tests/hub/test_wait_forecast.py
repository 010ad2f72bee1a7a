"""The hub's wait forecasts use the backend's rule with the backend's inputs."""

from __future__ import annotations

from datetime import UTC, datetime

from hallbus.forecast import wait_minutes
from hub.display import HallDisplayModel
from hub.events import HallView
from hub.kiosk_state import CatalogDigest, build_kiosk_state
from hub.registry import DeviceRegistry

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
# One person waiting, 50 s a service, 3 windows open: the backend says 1 minute.
STATUS = {
    "hall": {"code": "BH", "name": "滨海新区政务服务中心"},
    "categories": [
        {
            "prefix": "A",
            "name": "企业开办",
            "waiting": 1,
            "open_windows": 3,
            "service_seconds": 50.0,
            "estimated_wait_minutes": wait_minutes(1, 50.0, 3),
        }
    ],
    "windows": [],
    "recent_calls": [],
    "notices": [],
}


def kiosk_minutes(model: HallDisplayModel) -> int | None:
    state = build_kiosk_state(
        seq=1,
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
    return state.categories[0].estimated_wait_minutes


def test_waiting_changes_are_forecast_with_the_backend_inputs_not_extrapolated() -> None:
    model = HallDisplayModel("bh", DeviceRegistry(), lambda: 1, lambda: NOW)
    model.load_snapshot(STATUS)
    assert kiosk_minutes(model) == 1
    # 19 more tickets: 20 people × 50 s over 3 windows = 6 minutes (extrapolating the
    # rounded 1 minute per person said 20).
    model.apply({"seq": 2, "kind": "ticket_issued", "data": {"category": "A", "waiting": 20}})
    expected = wait_minutes(20, 50.0, 3)
    assert expected == 6
    assert kiosk_minutes(model) == expected
    (category,) = model._call_list().waiting
    assert category.estimated_wait_minutes == expected
    # The offline path (hub.relay) forecasts a ticket with the same view.
    view = model.waiting_for("A")
    assert view is not None and view.forecast(view.waiting) == expected


def test_a_status_without_the_inputs_keeps_the_backend_figure() -> None:
    category = {
        key: value
        for key, value in STATUS["categories"][0].items()  # type: ignore[index]
        if key != "service_seconds"
    }
    old_status = {**STATUS, "categories": [{**category, "waiting": 7, "estimated_wait_minutes": 9}]}
    model = HallDisplayModel("bh", DeviceRegistry(), lambda: 1, lambda: NOW)
    model.load_snapshot(old_status)
    assert kiosk_minutes(model) == 9
