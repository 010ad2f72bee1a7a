"""The evaluator shows the hall's wall-clock time, not the UTC instant the hub sends."""

from __future__ import annotations

from datetime import UTC, datetime

from evaluator.pending import PendingRatings
from evaluator.testing import window_state
from hallbus.messages import ConfigPush
from tests.evaluator.conftest import FakeClock, make_view_model


def test_expected_back_is_on_the_halls_clock(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    back = datetime(2026, 12, 6, 22, 10, tzinfo=UTC)  # 06:10 in Asia/Shanghai
    paused = window_state("3", seq=6, state="paused", pause_reason="会议", expected_back=back)
    view_model.apply_window_state(paused)
    assert views.last.window_state == "暂停服务 · 会议 · 预计 06:10 恢复"
    view_model.apply_config(ConfigPush(seq=1, hall_name="大厅", timezone="Asia/Urumqi"))
    view_model.apply_window_state(
        window_state("3", seq=7, state="paused", pause_reason="会议", expected_back=back)
    )
    assert views.last.window_state == "暂停服务 · 会议 · 预计 04:10 恢复"
