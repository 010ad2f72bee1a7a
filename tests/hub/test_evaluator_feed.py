"""What the hub sends the evaluators besides rate-now: the window state for the idle
screen and a ConfigPush with the backend's bad-rating reasons (and dimensions)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.db import Database
from backend.models import BadRatingReason
from backend.models import Hall as HallRow
from backend.services import eventlog
from evaluator.viewmodel import split_setting_list
from hallbus.config import load_registry
from hallbus.topics import DeviceType
from hub.display import HallDisplayModel
from hub.registry import DeviceRegistry, join_setting_list
from tests.hub.conftest import WAIT_S, Hall


def _active_reasons(hall: Hall) -> list[str]:
    database = Database(hall.backend.database_url)
    try:
        with database.reading() as session:
            return list(
                session.execute(
                    select(BadRatingReason.text)
                    .where(BadRatingReason.active.is_(True))
                    .order_by(BadRatingReason.sort, BadRatingReason.id)
                ).scalars()
            )
    finally:
        database.dispose()


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rating_reasons_endpoint_lists_active_reasons_in_order(mosquitto_hall: Hall) -> None:
    expected = _active_reasons(mosquitto_hall)
    assert len(expected) >= 2, "the demo seed has bad-rating reasons"
    status, body = _get(f"{mosquitto_hall.backend.url}/api/v1/halls/BH/rating-reasons")
    assert status == 200
    assert body == {"hall": "BH", "reasons": expected}

    status, body = _get(f"{mosquitto_hall.backend.url}/api/v1/halls/NOPE/rating-reasons")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_evaluator_gets_window_state_and_config(hall: Hall) -> None:
    hall.start_hub()
    evaluator = hall.evaluator(auto_answer=False)
    window_display = hall.window_display()

    config = evaluator.configs.wait_for(lambda c: "bad_reasons" in c.settings, WAIT_S)
    assert split_setting_list(config.settings["bad_reasons"]) == tuple(_active_reasons(hall))
    assert config.settings["dimensions"] == "服务态度|办事效率"
    assert config.settings["timeout_s"] == 30
    assert config.hall_name and config.categories

    # The clerk signing in changes window 1: the evaluator there sees the same
    # state as the window display (same payload, same seq).
    clerk = hall.clerk("1", "BH0101")
    shown = window_display.states.wait_for(lambda s: s.staff is not None, WAIT_S)
    idle = evaluator.states.wait_for(lambda s: s.seq == shown.seq, WAIT_S)
    assert idle == shown
    assert idle.window == "1" and idle.staff is not None and idle.staff.employee_no == "BH0101"

    hall.kiosk().take_ticket("A")
    number = clerk.call_next()
    evaluator.states.wait_for(lambda s: s.current_ticket == number, WAIT_S)


def test_reasons_refetched_after_a_config_event(mosquitto_hall: Hall) -> None:
    hub = mosquitto_hall.start_hub()
    evaluator = mosquitto_hall.evaluator(auto_answer=False)
    first = evaluator.configs.wait_for(lambda c: "bad_reasons" in c.settings, WAIT_S)
    before = split_setting_list(first.settings["bad_reasons"])

    # An administrator retires the first reason; the backend tells the hall.
    database = Database.with_wakeups(
        mosquitto_hall.backend.database_url, mosquitto_hall.backend.var_dir
    )
    try:
        with database.writing() as session:
            session.execute(
                update(BadRatingReason)
                .where(BadRatingReason.text == before[0])
                .values(active=False)
            )
            hall_id = session.execute(select(HallRow.id).where(HallRow.code == "BH")).scalar_one()
            eventlog.emit(session, hall_id, "config_changed", {"what": "rating_reasons"})
    finally:
        database.dispose()

    second = evaluator.configs.wait_for(lambda c: c.seq > first.seq, WAIT_S)
    assert split_setting_list(second.settings["bad_reasons"]) == before[1:]
    assert hub.health_report()["counters"].get("published_config", 0) >= 2


# ---------------------------------------------------------------- model (no I/O)


def _model(tmp_path: Any, devices: dict[str, dict[str, Any]]) -> HallDisplayModel:
    for device_id, spec in devices.items():
        values = {"device_id": device_id, "hall_id": "bh", **spec}
        (tmp_path / f"{device_id}.yaml").write_text(json.dumps(values), encoding="utf-8")
    registry = DeviceRegistry.from_configs(load_registry(tmp_path), "bh")
    counter = iter(range(1, 10_000))
    return HallDisplayModel(
        hall_id="bh",
        registry=registry,
        next_seq=lambda: next(counter),
        now=lambda: datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
    )


_SNAPSHOT: dict[str, Any] = {
    "hall": {"code": "BH", "name": "滨海新区政务服务中心"},
    "categories": [{"prefix": "A", "name": "综合受理", "waiting": 0}],
    "windows": [
        {"number": "1", "name": "综合窗口", "state": "open", "current_ticket": None},
        {"number": "2", "name": "综合窗口", "state": "open", "current_ticket": None},
    ],
    "recent_calls": [],
}


def test_config_is_pushed_once_and_again_only_on_change(tmp_path: Any) -> None:
    model = _model(
        tmp_path,
        {
            "evaluator-1": {"type": "evaluator", "window": "1"},
            "evaluator-2": {"type": "evaluator", "window": "2", "dimensions": ["服务态度"]},
        },
    )
    model.load_snapshot(_SNAPSHOT)
    model.set_rating_reasons(["等候时间长", "态度|不好"])
    configs = [m for m in model.take_changes() if m.what == "config"]
    assert sorted(m.topic for m in configs) == [
        "hall/bh/evaluator/evaluator-1/config",
        "hall/bh/evaluator/evaluator-2/config",
    ]
    for message in configs:
        assert message.retain
        # A "|" inside a reason must not split it in two on the device.
        assert message.payload.settings["bad_reasons"] == "等候时间长|态度 不好"  # type: ignore[attr-defined]
    assert "dimensions" not in configs[0].payload.settings  # type: ignore[attr-defined]
    assert configs[1].payload.settings["dimensions"] == "服务态度"  # type: ignore[attr-defined]

    model.load_snapshot(_SNAPSHOT)  # a reconnect: same content, nothing re-sent
    assert not [m for m in model.take_changes() if m.what == "config"]
    model.set_rating_reasons(["等候时间长"])
    assert len([m for m in model.take_changes() if m.what == "config"]) == 2
    # After a broker restart everything retained goes out again.
    assert len([m for m in model.all_states() if m.what == "config"]) == 2


def test_one_unpublishable_window_does_not_block_the_others(tmp_path: Any) -> None:
    """A state the contract cannot express (here a ticket number outside the
    pattern) used to raise out of take_changes: the event reader retried the
    whole batch for ever and no display in the hall changed any more."""
    model = _model(
        tmp_path,
        {
            "window-display-1": {"type": "window_display", "window": "1"},
            "window-display-2": {"type": "window_display", "window": "2"},
            "hall-display-1": {"type": "hall_display", "pages": ["calls"]},
        },
    )
    snapshot = json.loads(json.dumps(_SNAPSHOT))
    snapshot["windows"][0]["current_ticket"] = "A0000001"
    model.load_snapshot(snapshot)
    out = model.take_changes()
    topics = {m.topic for m in out}
    assert "hall/bh/window_display/window-display-2/state" in topics
    assert "hall/bh/hall_display/hall-display-1/state" in topics
    assert "hall/bh/window_display/window-display-1/state" not in topics


@pytest.mark.parametrize(
    ("items", "joined"),
    [
        (["a", "b"], "a|b"),
        (["a;b", "c；d", "e\nf", " ", "g|h"], "a b|c d|e f|g h"),
        ([], ""),
    ],
)
def test_join_setting_list_round_trips_through_the_evaluator(items: list[str], joined: str) -> None:
    assert join_setting_list(items) == joined
    assert split_setting_list(joined) == tuple(i for i in joined.split("|") if i)


def test_evaluator_record_carries_push_settings(tmp_path: Any) -> None:
    model = _model(tmp_path, {"evaluator-3": {"type": "evaluator", "window": "3", "timeout_s": 45}})
    (record,) = model.registry.of_type(DeviceType.EVALUATOR)
    assert dict(record.push_settings) == {"timeout_s": 45}
