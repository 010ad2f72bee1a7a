"""到号提醒 on the ticket confirm step: the optional mobile number, without a window."""

from __future__ import annotations

import logging

import pytest

from tests.kiosk.conftest import KioskHarness

MOBILE = "13800138000"


def requests_of(kiosk: KioskHarness, kind: str) -> list[dict]:
    return [r for r in kiosk.hub.requests if r["kind"] == kind]


def type_phone(kiosk: KioskHarness, digits: str) -> None:
    kiosk.vm.act("ticket.phone.open")
    for digit in digits:
        kiosk.vm.act("ticket.phone.key", digit)
    kiosk.vm.act("ticket.phone.accept")


def confirm_screen(kiosk: KioskHarness) -> None:
    kiosk.vm.act("ticket.open")
    kiosk.vm.act("ticket.category", "A")
    assert kiosk.state["screen"] == "ticket_confirm"


def test_number_is_masked_and_sent_as_notify_phone_then_forgotten(
    kiosk: KioskHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    confirm_screen(kiosk)
    state = kiosk.state
    assert state["phone_offered"] is True and state["phone_masked"] == ""
    assert state["t"]["ticket.phone.offer"] == "短信提醒我（可选）"

    kiosk.vm.act("ticket.phone.open")
    assert kiosk.state["phone_editing"] is True
    for digit in MOBILE:
        kiosk.vm.act("ticket.phone.key", digit)
    kiosk.vm.act("ticket.phone.key", "9")  # a twelfth digit is ignored
    assert kiosk.state["phone_typed"] == "138 0013 8000"
    kiosk.vm.act("ticket.phone.accept")
    state = kiosk.state
    assert state["phone_editing"] is False
    assert state["phone_masked"] == "138****8000"
    assert state["phone_set_text"] == "到号前短信提醒：138****8000"
    assert MOBILE not in repr(state)

    kiosk.vm.act("ticket.confirm")
    assert kiosk.state["screen"] == "ticket_done"
    assert requests_of(kiosk, "take_ticket")[-1]["body"]["notify_phone"] == MOBILE
    # Forgotten once the ticket is issued; never printed, never logged.
    assert kiosk.vm.ticket.phone.number is None
    assert kiosk.state["phone_masked"] == ""
    assert MOBILE.encode() not in kiosk.printed() and b"8000" not in kiosk.printed()
    assert all(MOBILE not in record.getMessage() for record in caplog.records)
    assert MOBILE not in caplog.text

    # The next ticket of the same visit carries no number.
    confirm_screen(kiosk)
    kiosk.vm.act("ticket.confirm")
    assert "notify_phone" not in requests_of(kiosk, "take_ticket")[-1]["body"]


@pytest.mark.parametrize("bad", ["1380013800", "12800138000", "23800138000", ""])
def test_bad_number_is_refused_with_the_error_and_nothing_is_sent(
    kiosk: KioskHarness, bad: str
) -> None:
    confirm_screen(kiosk)
    type_phone(kiosk, bad)
    state = kiosk.state
    assert state["phone_error"] == "手机号不正确：应为11位，以13～19开头"
    assert state["phone_editing"] is True and state["phone_masked"] == ""
    kiosk.vm.act("ticket.confirm")  # refused while the keypad is open
    assert requests_of(kiosk, "take_ticket") == []
    kiosk.vm.act("ticket.phone.key", "1")  # typing again clears the error
    assert kiosk.state["phone_error"] == ""
    kiosk.vm.act("ticket.phone.cancel")
    kiosk.vm.act("ticket.confirm")
    assert "notify_phone" not in requests_of(kiosk, "take_ticket")[-1]["body"]


def test_error_text_in_english(kiosk: KioskHarness) -> None:
    kiosk.vm.act("toggle_language")
    confirm_screen(kiosk)
    type_phone(kiosk, "1234")
    state = kiosk.state
    assert state["phone_error"] == "Not a valid mobile number: 11 digits starting 13–19"
    assert state["t"]["ticket.phone.offer"] == "Remind me by SMS (optional)"


def test_number_can_be_removed_before_confirming(kiosk: KioskHarness) -> None:
    confirm_screen(kiosk)
    type_phone(kiosk, MOBILE)
    assert kiosk.state["phone_masked"] == "138****8000"
    kiosk.vm.act("ticket.phone.remove")
    assert kiosk.state["phone_masked"] == ""
    kiosk.vm.act("ticket.confirm")
    assert "notify_phone" not in requests_of(kiosk, "take_ticket")[-1]["body"]


def test_idle_timeout_forgets_the_number(kiosk: KioskHarness) -> None:
    confirm_screen(kiosk)
    type_phone(kiosk, MOBILE)
    kiosk.vm.act("ticket.phone.open")  # half-typed edits are forgotten too
    kiosk.vm.act("ticket.phone.key", "5")
    kiosk.clock.value += 91  # the hub pushed idle_timeout_s = 90
    kiosk.vm.tick()
    state = kiosk.state
    assert state["screen"] == "home"
    assert kiosk.vm.ticket.phone.number is None and kiosk.vm.ticket.phone.digits == ""
    assert state["phone_masked"] == "" and state["phone_typed"] == ""
    assert state["phone_editing"] is False


def test_not_offered_while_the_hub_issues_offline(kiosk: KioskHarness) -> None:
    confirm_screen(kiosk)
    type_phone(kiosk, MOBILE)
    kiosk.hub.degraded = True
    kiosk.hub.publish_state("kiosk-1")
    state = kiosk.state
    assert state["banner_kind"] == "degraded"
    assert state["phone_offered"] is False
    kiosk.vm.act("ticket.phone.open")
    assert kiosk.state["phone_editing"] is False
    kiosk.vm.act("ticket.confirm")
    assert "notify_phone" not in requests_of(kiosk, "take_ticket")[-1]["body"]
