"""Displays show the hall's wall-clock time whatever zone their OS clock runs in,
and whatever offset the hub stamps (UTC, "…Z"): 21:46Z is 05:46 in Asia/Shanghai."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from displays.guide import load_guide
from displays.hall_view import HallDisplayViewModel
from displays.led_mirror import led_command_for
from displays.link import Link, LinkStatus
from displays.samples import call_event, config_push, window_state
from displays.timefmt import clock_text
from displays.window_view import WindowDisplayViewModel
from hallbus.localtime import hall_zone

NOW = datetime(2026, 12, 6, 21, 46, tzinfo=UTC)  # 2026-12-07 05:46 in the hall


@pytest.fixture(autouse=True)
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The display's OS clock runs on UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_hall_display_clock_date_and_call_times_are_local() -> None:
    model = HallDisplayViewModel(["calls"], guide=load_guide(), page_seconds=15)
    model.apply_link(LinkStatus(Link.LIVE))
    model.apply_call_event(call_event(1, "A001", "3", now=NOW), NOW)
    view = model.view(NOW)
    assert view.clock_text == "05:46:00"
    assert view.date_text == "2026年12月7日 星期一"
    assert view.calls[0].time_text == "05:46"


def test_hall_display_follows_the_pushed_zone() -> None:
    model = HallDisplayViewModel(["calls"], guide=load_guide(), page_seconds=15)
    model.apply_config(config_push(1).model_copy(update={"timezone": "Asia/Urumqi"}))
    assert model.view(NOW).clock_text == "03:46:00"


def test_window_display_clock_and_expected_back_are_local() -> None:
    model = WindowDisplayViewModel("3")
    model.apply_link(LinkStatus(Link.LIVE))
    model.apply_state(
        window_state(1, now=NOW, state="paused", back_in_minutes=30).model_copy(
            update={"expected_back": NOW + timedelta(minutes=30)}
        ),
        NOW,
    )
    view = model.view(NOW)
    assert "预计 06:16 恢复" in view.detail
    assert clock_text(NOW, view.zone) == "05:46:00"
    model.apply_config(config_push(2).model_copy(update={"timezone": "Asia/Urumqi"}))
    assert clock_text(NOW, model.view(NOW).zone) == "03:46:00"


def test_led_bar_says_the_expected_return_in_hall_time() -> None:
    paused = window_state(1, now=NOW, state="paused").model_copy(
        update={"expected_back": NOW + timedelta(minutes=30)}
    )
    command = led_command_for("3", paused, live=True, zone=hall_zone("Asia/Shanghai"))
    assert command.text == "暂停服务 预计06:16恢复"
