"""Hall display view-model and controller, without a window (RecordingBus)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from deviceui.screens import UiModel
from displays.controllers import HallDisplayController
from displays.guide import load_guide
from displays.hall_view import (
    NOTICE_SEPARATOR,
    TICKER_PIECE_CHARS,
    WAITING_PAGE_SECONDS,
    HallDisplayViewModel,
    HallView,
    public_caller,
    ticker_pieces,
)
from displays.link import Link, LinkStatus
from displays.samples import (
    HALL_CATEGORY_NAMES,
    HALL_NOTICES,
    busy_hall,
    call_event,
    call_list,
    config_push,
)
from hallbus.bus import RecordingBus
from tests.displays.conftest import HALL_DISPLAY

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
CALL_TOPIC = "hall/bh/all/call"


def model(
    pages: tuple[str, ...] = ("calls", "waiting", "notices"), floor: int = 1
) -> HallDisplayViewModel:
    vm = HallDisplayViewModel(pages, guide=load_guide(), floor=floor, page_seconds=15)
    vm.apply_link(LinkStatus(Link.LIVE))
    return vm


def test_latest_calls_newest_first_and_highlighted() -> None:
    vm = model()
    vm.apply_call_list(call_list(1, now=NOW), NOW)
    view = vm.view(NOW)
    assert [row.ticket for row in view.calls[:3]] == ["A012", "B005", "A011"]
    assert [row.newest for row in view.calls[:2]] == [True, False]
    assert view.calls[0].window_text == "3 号窗口"
    assert view.calls[2].recall_text == "再次呼叫"
    assert view.banner == "请 A012 号到 3 号窗口办理"
    assert not view.flashing(NOW)  # restored list with an old newest call: no flash


def test_call_event_shows_before_the_next_list_and_flashes() -> None:
    vm = model()
    vm.apply_call_list(call_list(1, now=NOW), NOW)
    vm.apply_call_event(call_event(9, "A013", "5", now=NOW), NOW)
    view = vm.view(NOW)
    assert (view.calls[0].ticket, view.calls[0].newest) == ("A013", True)
    assert not view.calls[1].newest
    assert view.flashing(NOW)
    vm.apply_call_event(call_event(9, "A013", "5", now=NOW), NOW)  # QoS 1 duplicate
    assert [row.ticket for row in vm.view(NOW).calls].count("A013") == 1


def test_waiting_counts_and_estimates_follow_enabled_categories() -> None:
    vm = model()
    vm.apply_call_list(call_list(1, now=NOW), NOW)
    rows = {row.prefix: row for row in vm.view(NOW).waiting}
    assert (rows["A"].waiting_text, rows["A"].estimate_text) == ("7 人", "约 21 分钟")
    assert rows["GC"].estimate_text == "无需等候"
    assert rows["D"].estimate_text == "约 1.6 小时"
    vm.apply_config(config_push(1).model_copy(update={"categories": []}))
    assert len(vm.view(NOW).waiting) == 5


def test_pages_rotate_by_config_and_calls_stay_pinned() -> None:
    vm = model(("calls", "waiting", "guide", "notices"))
    pages = {vm.view(NOW + timedelta(seconds=15 * step)).page for step in range(4)}
    assert pages == {"waiting", "guide"}
    assert vm.view(NOW).show_calls and vm.view(NOW).show_notices
    guide_only = model(("guide", "waiting"), floor=2)
    view = guide_only.view(NOW)
    assert not view.show_calls and not view.show_notices
    assert view.guide_floors[0][0].startswith("二楼")  # own floor first


def test_config_push_sets_hall_name_notice_and_page_seconds() -> None:
    vm = model()
    vm.apply_config(config_push(1))
    view = vm.view(NOW)
    assert view.hall_name == "滨海新区政务服务中心"
    assert view.notice_text.startswith("3月8日下午14:00后暂停办理")
    assert vm.page_seconds == 15


def test_hall_notices_from_the_call_list_replace_the_configured_ones() -> None:
    vm = model()
    vm.apply_config(config_push(1))
    vm.apply_call_list(call_list(1, now=NOW), NOW)
    configured = vm.view(NOW).notice_text
    assert configured.startswith("3月8日下午14:00后暂停办理")  # the list carries none

    live = ["停电通知：今日16:00后暂停办理", "医保窗口迁至二楼"]
    vm.apply_call_list(call_list(2, now=NOW).model_copy(update={"notices": live}), NOW)
    view = vm.view(NOW)
    assert view.notice_text == "停电通知：今日16:00后暂停办理　　◆　　医保窗口迁至二楼"
    assert "3月8日" not in view.notice_text and view.show_notices

    # Cleared by the admin: back to the configured and bundled notices.
    vm.apply_call_list(call_list(3, now=NOW), NOW)
    assert vm.view(NOW).notice_text == configured


def test_privacy_ticket_only_and_masked_names() -> None:
    assert public_caller("A001") == "A001"
    assert public_caller("A001", "张三丰") == "A001 张*丰"
    with pytest.raises(ValueError):
        public_caller("A001", "13800138000")


def test_offline_mark_and_no_flash() -> None:
    vm = model()
    vm.apply_call_list(call_list(1, now=NOW), NOW)
    vm.apply_call_event(call_event(9, "A013", "5", now=NOW), NOW)
    vm.apply_link(LinkStatus(Link.HUB_OFFLINE, NOW))
    view = vm.view(NOW)
    assert view.offline_text.startswith("离线 10:00 起") and not view.flashing(NOW)


def test_controller_seq_gate_and_call_events() -> None:
    bus = RecordingBus()
    ui = UiModel()
    controller = HallDisplayController(
        bus, HALL_DISPLAY, ui, pages=["calls", "waiting"], guide=load_guide(), now=lambda: NOW
    )
    controller.subscribe()
    controller.set_device_connected(True)
    bus.inject("hall/bh/hub/hub-bh/status", b"online")
    bus.inject(HALL_DISPLAY.state_topic(), call_list(7, now=NOW))
    bus.inject(HALL_DISPLAY.state_topic(), call_list(6, now=NOW, newest_seconds_ago=9999))
    view = ui.get("view")
    assert isinstance(view, HallView) and view.calls[0].time_text == "09:50"
    bus.inject(CALL_TOPIC, call_event(3, "B006", "7", now=NOW))
    view = ui.get("view")
    assert isinstance(view, HallView) and view.calls[0].ticket == "B006"


def test_waiting_table_pages_turn_and_every_category_is_shown() -> None:
    vm = model(("calls", "waiting", "guide", "notices"))
    config, calls = busy_hall(1, 19, now=NOW)
    vm.apply_config(config)
    vm.apply_call_list(calls, NOW)
    vm.set_waiting_capacity(5)
    seen: dict[str, tuple[str, ...]] = {}
    pages = []
    for second in range(0, 120):
        view = vm.view(NOW + timedelta(seconds=second))
        pages.append(view.page)
        if view.page == "waiting":
            assert len(view.waiting) <= 5
            seen[view.waiting_page_text] = tuple(row.prefix for row in view.waiting)
    assert sorted(seen) == ["1/4", "2/4", "3/4", "4/4"]
    shown = [prefix for page in sorted(seen) for prefix in seen[page]]
    assert shown == [prefix for prefix, _name in HALL_CATEGORY_NAMES[:19]]
    # The waiting page stays up until all 4 pages were shown for 8 s each; the guide
    # keeps its page_seconds (15): a cycle of 32 + 15 s.
    cycle = pages[:47]
    assert cycle.count("waiting") == 4 * WAITING_PAGE_SECONDS and cycle.count("guide") == 15
    # Everything fits one page: no page number.
    vm.set_waiting_capacity(40)
    assert vm.view(NOW).waiting_page_text == "" and len(vm.view(NOW).waiting) == 19


def test_ticker_pieces_are_short_and_read_as_the_notices() -> None:
    pieces = ticker_pieces(HALL_NOTICES)
    assert all(len(piece) <= TICKER_PIECE_CHARS for piece in pieces)
    assert "".join(pieces) == "".join(notice + NOTICE_SEPARATOR for notice in HALL_NOTICES)
    vm = model()
    vm.apply_call_list(busy_hall(1, 5, now=NOW)[1], NOW)
    assert vm.view(NOW).notice_pieces == pieces


def test_hall_mode_mark_while_the_hub_decides() -> None:
    vm = model()
    vm.apply_call_list(call_list(1, now=NOW), NOW)
    assert vm.view(NOW).hall_mark == ""
    marked = call_list(2, now=NOW).model_copy(update={"hall_mode": "offline"})
    vm.apply_call_list(marked, NOW)
    assert vm.view(NOW).hall_mark == "离线叫号 Offline"
