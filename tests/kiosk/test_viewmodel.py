"""Kiosk screen logic without a window: a fake hub answers over an in-memory bus."""

from __future__ import annotations

import json
from pathlib import Path

from hallbus.codec import decode
from hallbus.errors import ErrorCode
from hallbus.idlookup import id_lookup_hash
from hallbus.messages import DeviceHealth
from kiosk.catalog_cache import CatalogCache
from kiosk.identity import IdCardRead
from kiosk.viewmodels import Screen
from tests.kiosk.conftest import KioskHarness, make_harness
from tests.kiosk.fakehub import (
    LOOKUP_KEY,
    PHONE_LAST4,
    RECEIPT_FINISHED,
    RECEIPT_IN_PROGRESS,
    RECEIPT_PROVISIONAL,
    RECEIPT_SUPPLEMENT,
)

# A syntactically valid resident ID number (checksum correct), used only in tests.
ID_NUMBER = "11010519491231002X"


def requests_of(kiosk: KioskHarness, kind: str) -> list[dict]:
    return [r for r in kiosk.hub.requests if r["kind"] == kind]


def type_digits(kiosk: KioskHarness, action: str, digits: str) -> None:
    for digit in digits:
        kiosk.vm.act(action, digit)


# ----------------------------------------------------------------------------- ticket


def test_ticket_by_department_shows_queue_then_prints(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("ticket.open")
    rows = {row["key"]: row for row in kiosk.state["ticket_category_rows"]}
    assert rows["A"]["detail"] == "等候 2 人 · 约 8 分钟"
    assert rows["M"]["enabled"] is False  # closed categories cannot be chosen

    vm.act("ticket.category", "A")
    state = kiosk.state
    assert state["screen"] == "ticket_confirm"
    assert state["confirm_waiting"] == "前面等候：2 人"
    assert state["confirm_wait"] == "预计等候：约 8 分钟"

    vm.act("ticket.confirm")
    state = kiosk.state
    assert state["screen"] == "ticket_done"
    assert state["ticket_number"] == "A001"
    assert state["ticket_ahead"] == "您前面还有 2 人"
    assert (requests_of(kiosk, "take_ticket")[0]["body"]["category"]) == "A"

    printed = kiosk.printed()
    assert b"A001" in printed
    assert "滨海新区(开发区)公共行政服务中心".encode("gb18030") in printed or b"A001" in printed
    assert b"https://hall.example.gov.cn/q/t-20261126-A001" in printed  # native QR payload
    assert state["ticket_print_failed"] is False


def test_printer_fault_keeps_ticket_on_screen_and_reports_health(kiosk: KioskHarness) -> None:
    from tests.kiosk.conftest import RecordingDummy

    RecordingDummy.failing = True
    try:
        kiosk.vm.act("ticket.open")
        kiosk.vm.act("ticket.category", "B")
        kiosk.vm.act("ticket.confirm")
    finally:
        RecordingDummy.failing = False
    state = kiosk.state
    assert state["screen"] == "ticket_done" and state["ticket_number"] == "B001"
    assert state["ticket_print_failed"] is True
    assert state["ticket_print_message"] == "打印机暂时无法使用，请凭屏幕上的号码等候叫号"
    health = kiosk.bus.on_topic("hall/bh/kiosk/kiosk-1/health/printer")
    assert health and health[-1].retain
    report = decode(DeviceHealth, health[-1].payload)
    assert (report.device, report.component, report.state) == ("kiosk-1", "printer", "offline")


def test_priority_channel_and_real_name_hash(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("ticket.open")
    vm.act("ticket.toggle_priority")
    rows = {row["key"]: row for row in kiosk.state["ticket_category_rows"]}
    assert rows["Y"]["enabled"] is False  # this hall takes no priority tickets for fees
    vm.on_id_card(IdCardRead.from_number(ID_NUMBER, LOOKUP_KEY))
    assert kiosk.state["ticket_id_card_text"] == "已读取身份证（实名取号）"
    vm.act("ticket.category", "F")
    vm.act("ticket.priority", "disabled")
    vm.act("ticket.confirm")
    body = requests_of(kiosk, "take_ticket")[-1]["body"]
    assert body["priority_kind"] == "disabled"
    # The hall-keyed HMAC the backend stores for the same person, not a bare SHA-256.
    assert body["id_lookup_hash"] == id_lookup_hash(ID_NUMBER, LOOKUP_KEY)
    # The number itself is nowhere: not on the bus, not in what the screen shows.
    everything = b"".join(m.payload for m in kiosk.bus.published)
    assert ID_NUMBER.encode() not in everything
    assert ID_NUMBER not in json.dumps(kiosk.state, ensure_ascii=False)
    assert ID_NUMBER not in repr(IdCardRead.from_number(ID_NUMBER, LOOKUP_KEY))
    assert kiosk.state["ticket_number"] == "V001"


def test_ticket_by_matter_search_as_you_type(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("ticket.open")
    vm.act("ticket.mode", "matter")
    for letter in "yyzz":
        vm.act("ticket.key", letter)
    state = kiosk.state
    assert state["ticket_search_query"] == "yyzz"
    codes = [row["key"] for row in state["ticket_search_rows"]]
    assert "GS-014" in codes  # 营业执照补领、换发, found by initials
    vm.act("ticket.matter", "GS-001")
    assert kiosk.state["confirm_title"] == "企业设立登记（有限责任公司）"
    vm.act("ticket.confirm")
    assert requests_of(kiosk, "take_ticket")[-1]["body"]["matter_code"] == "GS-001"


def test_appointment_check_in_by_code_and_by_id_card(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("ticket.open")
    vm.act("ticket.appointment")
    for key in "yy2026":
        vm.act("appointment.key", key)
    assert kiosk.state["appointment_code"] == "YY2026"
    vm.act("appointment.submit")
    assert kiosk.state["screen"] == "ticket_done"
    assert requests_of(kiosk, "take_ticket")[-1]["body"]["appointment_code"] == "YY2026"

    vm.act("ticket.open")
    vm.act("ticket.appointment")
    for key in "WRONG1":
        vm.act("appointment.key", key)
    vm.act("appointment.submit")
    assert kiosk.state["alert"].startswith("没有找到今天的预约")

    vm.act("dismiss_alert")
    vm.on_id_card(IdCardRead.from_number(ID_NUMBER, LOOKUP_KEY))
    assert kiosk.state["screen"] == "ticket_done"
    check_in = requests_of(kiosk, "take_ticket")[-1]["body"]
    # Neither category nor matter: a check-in by the card's hash alone.
    assert check_in.get("category") is None and check_in.get("matter_code") is None
    assert check_in["id_lookup_hash"] == id_lookup_hash(ID_NUMBER, LOOKUP_KEY)


def test_closed_category_refusal_is_plain_words(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("ticket.open")
    vm.ticket.target = None
    from kiosk.viewmodels.ticket import TicketTarget

    with vm.session.lock:
        vm.ticket.target = TicketTarget(category="M", matter_code=None, title="公安服务")
        vm.session.go(Screen.TICKET_CONFIRM)
    vm.act("ticket.confirm")
    assert kiosk.state["alert"].startswith("该类别现在不能取号")


# ------------------------------------------------------------------------------ guide


def test_guide_browse_detail_and_checklist(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("guide.open")
    state = kiosk.state
    assert state["guide_left_rows"][0]["title"] == "工商分局"
    assert state["guide_rows"], "first department's matters are listed"
    vm.act("guide.mode", "life_event")
    vm.act("guide.select", "婚育收养")
    names = [row["title"] for row in kiosk.state["guide_rows"]]
    assert any("婚姻" in name or "收养" in name for name in names)
    search = requests_of(kiosk, "catalog_search")[-1]["body"]
    assert search["life_event"] == "婚育收养" and search["query"] == ""  # an exact filter

    vm.act("guide.matter", "GS-001")
    state = kiosk.state
    assert state["screen"] == "matter"
    titles = [section["title"] for section in state["matter_sections"]]
    assert titles[:2] == ["申请材料", "办理条件"] and "设定依据" in titles
    facts = {fact["label"]: fact["value"] for fact in state["matter_facts"]}
    assert facts["承诺时限"] == "1 个工作日" and facts["收费标准"] == "不收费"
    assert "1楼" in facts["办理地点"]

    vm.act("matter.print")
    assert "材料清单".encode("gb18030") in kiosk.printed() or b"\x1d" in kiosk.printed()
    assert "办事材料清单".encode("gb18030") in kiosk.printed()
    assert kiosk.state["matter_print_message"].startswith("请取走材料清单")

    vm.act("matter.ticket")
    assert kiosk.state["screen"] == "ticket_confirm"


def test_offline_guide_uses_the_cached_catalog(tmp_path: Path) -> None:
    kiosk = make_harness(tmp_path)
    vm = kiosk.vm
    vm.act("guide.open")
    vm.act("guide.mode", "search")
    for letter in "qiye":
        vm.act("guide.key", letter)
    vm.act("guide.matter", "GS-001")
    assert kiosk.cache_path.exists()

    # A new kiosk process with the hub gone: the cache on disk is all it has.
    offline = make_harness(tmp_path, start_online=False)
    offline.vm.set_connected(True)
    offline.hub.publish_status(False)
    state = offline.state
    assert state["offline"] and state["banner"].startswith("网络暂时中断")
    assert state["can_take_ticket"] is False
    offline.vm.act("guide.open")
    offline.vm.act("guide.mode", "search")
    for letter in "qy":
        offline.vm.act("guide.key", letter)
    state = offline.state
    assert state["guide_note"] == "网络中断，显示已保存的内容"
    assert "GS-001" in [row["key"] for row in state["guide_rows"]]
    offline.vm.act("guide.matter", "GS-001")
    assert offline.state["matter_sections"], "cached detail shown offline"
    assert not offline.hub.requests, "nothing was sent while offline"
    # Departments from the cached kiosk state still work for browsing.
    assert CatalogCache(kiosk.cache_path).state is not None


def test_offline_recovers_by_itself(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    kiosk.hub.answering = False  # requests vanish: the kiosk times out
    from kiosk import gateway

    gateway_timeout = gateway.QUERY_TIMEOUT_S
    gateway.QUERY_TIMEOUT_S = 0.05
    try:
        vm.act("case.open")
        type_digits(kiosk, "case.key", RECEIPT_IN_PROGRESS + PHONE_LAST4)
        vm.act("case.submit")
        assert kiosk.state["offline"] is True
        assert kiosk.state["alert"] == "系统没有及时响应，请稍后再试"
        kiosk.hub.answering = True
        kiosk.clock.value += 11  # the next tick probes the hub
        vm.tick()
        assert kiosk.state["offline"] is False
    finally:
        gateway.QUERY_TIMEOUT_S = gateway_timeout


def test_degraded_hub_still_issues_tickets(kiosk: KioskHarness) -> None:
    kiosk.hub.degraded = True
    kiosk.hub.publish_state("kiosk-1")
    state = kiosk.state
    assert state["banner_kind"] == "degraded" and state["can_take_ticket"] is True
    kiosk.vm.act("ticket.open")
    kiosk.vm.act("ticket.category", "A")
    kiosk.vm.act("ticket.confirm")
    assert kiosk.state["ticket_degraded"].startswith("系统正在恢复中")


# ------------------------------------------------------------------------ case lookup


def test_case_lookup_validates_and_masks(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("case.open")
    type_digits(kiosk, "case.key", "1234")
    vm.act("case.submit")
    assert kiosk.state["case_error"].startswith("受理号应为17位数字")
    assert not requests_of(kiosk, "case_lookup")

    vm.act("case.key", "clear")
    type_digits(kiosk, "case.key", RECEIPT_IN_PROGRESS)
    assert kiosk.state["case_field"] == "phone"  # moves on by itself after 17 digits
    type_digits(kiosk, "case.key", PHONE_LAST4)
    assert kiosk.state["case_phone"] == "●●●●"
    assert PHONE_LAST4 not in json.dumps(kiosk.state, ensure_ascii=False)
    vm.act("case.submit")
    state = kiosk.state
    assert state["screen"] == "case_result"
    assert state["case_status"] == "审核中"
    assert [step["title"] for step in state["case_timeline"]] == ["受理", "承办", "审核"]
    assert state["case_timeline"][-1]["last"] is True
    assert state["case_next"].startswith("正在办理中")


def test_case_supplement_and_not_found(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("case.open")
    type_digits(kiosk, "case.key", RECEIPT_SUPPLEMENT + PHONE_LAST4)
    vm.act("case.submit")
    assert kiosk.state["case_next"].startswith("需要补充材料")
    # The items come from the hub (CaseStatus.supplement), not from guessing at step names.
    assert kiosk.state["case_next"].endswith("：食品安全管理制度文本、从业人员健康证明")

    vm.act("case.open")
    type_digits(kiosk, "case.key", RECEIPT_FINISHED + "0000")
    vm.act("case.submit")
    assert kiosk.state["alert"].startswith("没有查到该办件")


def test_a_provisional_due_date_is_shown_as_provisional(kiosk: KioskHarness) -> None:
    """Item 4 of issue 14: a date counted on weekends only is not shown as final."""
    vm = kiosk.vm
    vm.act("case.open")
    type_digits(kiosk, "case.key", RECEIPT_PROVISIONAL + PHONE_LAST4)
    vm.act("case.submit")
    facts = {fact["label"]: fact["value"] for fact in kiosk.state["case_facts"]}
    assert facts["承诺办结"] == "2027-01-04 （暂定，节假日安排公布后可能调整）"

    vm.act("case.open")
    type_digits(kiosk, "case.key", RECEIPT_IN_PROGRESS + PHONE_LAST4)
    vm.act("case.submit")
    facts = {fact["label"]: fact["value"] for fact in kiosk.state["case_facts"]}
    assert facts["承诺办结"] == "2026-11-27"


def test_scanned_receipt_url_fills_the_form(kiosk: KioskHarness) -> None:
    kiosk.vm.on_scan(f"https://hall.example.gov.cn/r?n={RECEIPT_IN_PROGRESS}")
    state = kiosk.state
    assert state["screen"] == "case"
    assert state["case_receipt"].replace(" ", "") == RECEIPT_IN_PROGRESS
    assert state["case_field"] == "phone"
    kiosk.vm.on_scan("garbage-code-123")
    assert kiosk.state["case_error"].startswith("受理号应为17位数字")


# ----------------------------------------------------------------------------- rating


def test_rating_a_finished_case_with_reasons_is_idempotent(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("rating.open")
    type_digits(kiosk, "rating.key", RECEIPT_IN_PROGRESS + PHONE_LAST4)
    vm.act("rating.find")
    assert kiosk.state["alert"] == "该事项尚未办结，办结后才能评价"

    vm.act("rating.open")
    type_digits(kiosk, "rating.key", RECEIPT_FINISHED + PHONE_LAST4)
    vm.act("rating.find")
    state = kiosk.state
    assert state["rating_step"] == "level"
    assert [level["title"] for level in state["rating_levels"]] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]
    vm.act("rating.level", "1")
    assert kiosk.state["rating_step"] == "reasons"
    vm.act("rating.submit")
    assert kiosk.state["alert"] == "请至少选择一个原因"
    vm.act("dismiss_alert")
    vm.act("rating.reason", "办事效率低")
    vm.act("rating.submit")
    assert kiosk.state["screen"] == "rating_done"
    body = requests_of(kiosk, "submit_rating")[-1]["body"]
    assert body["level"] == 1 and body["reasons"] == ["办事效率低"]
    assert body["case_receipt"] == RECEIPT_FINISHED
    assert "window" not in body  # a case rated by receipt: the backend knows its window
    # A retry (e.g. after a lost reply) reuses the rating id: the hub stores it once.
    vm.rating.submit()
    assert kiosk.state["rating_thanks"] == "您已评价过，感谢！"
    assert len(kiosk.hub.ratings) == 1


def test_rate_from_case_result(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("case.open")
    type_digits(kiosk, "case.key", RECEIPT_FINISHED + PHONE_LAST4)
    vm.act("case.submit")
    assert kiosk.state["case_can_rate"] is True
    vm.act("case.rate")
    vm.act("rating.level", "5")
    assert kiosk.state["screen"] == "rating_done"
    assert kiosk.state["rating_thanks"] == "感谢您的评价！"


# ---------------------------------------------------------------- session, idle, errors


def test_idle_timeout_returns_home_and_forgets_the_visitor(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("toggle_language")
    vm.act("case.open")
    type_digits(kiosk, "case.key", RECEIPT_IN_PROGRESS + "56")
    kiosk.clock.value += 59
    vm.tick()
    assert kiosk.state["screen"] == "case"
    kiosk.clock.value += 31  # the hub pushed idle_timeout_s = 90
    vm.tick()
    state = kiosk.state
    assert state["screen"] == "home" and state["lang"] == "zh"
    assert state["case_receipt"] == "" and state["case_phone"] == ""


def test_english_toggle_translates_everything_rendered(kiosk: KioskHarness) -> None:
    vm = kiosk.vm
    vm.act("toggle_language")
    vm.act("ticket.open")
    state = kiosk.state
    assert state["t"]["home.take_ticket"] == "Take a ticket"
    assert state["ticket_category_rows"][0]["detail"] == "2 waiting · about 8 min"


def test_backend_unavailable_reply_marks_offline(kiosk: KioskHarness) -> None:
    kiosk.hub.fail_with = ErrorCode.BACKEND_UNAVAILABLE
    kiosk.vm.act("ticket.open")
    kiosk.vm.act("ticket.category", "A")
    kiosk.vm.act("ticket.confirm")
    state = kiosk.state
    assert state["screen"] == "ticket_confirm"
    assert state["alert"] == "系统没有及时响应，请稍后再试"
    assert state["offline"] is True
