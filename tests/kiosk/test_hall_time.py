"""The kiosk shows and prints the hall's wall-clock time, not the UTC instant the hub
sends and not the machine's zone: a ticket taken at 2026-12-06 21:39Z is
2026-12-07 05:39 in Asia/Shanghai, on another day."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.kiosk.conftest import KioskHarness, make_harness

TAKEN = datetime(2026, 12, 6, 21, 39, tzinfo=UTC)


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The kiosk's OS clock runs on UTC (as many installed Linux boxes do)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def gb(text: str) -> bytes:
    return text.encode("gb18030")


def take_ticket(kiosk: KioskHarness) -> dict[str, object]:
    kiosk.hub.issued_at = TAKEN
    kiosk.vm.act("ticket.open")
    kiosk.vm.act("ticket.category", "A")
    kiosk.vm.act("ticket.confirm")
    state = kiosk.state
    assert state["screen"] == "ticket_done"
    return state


def test_ticket_printed_and_shown_in_hall_time(tmp_path: Path, utc_machine: None) -> None:
    kiosk = make_harness(tmp_path)
    state = take_ticket(kiosk)
    assert state["ticket_time"] == "取号时间：05:39"
    printed = kiosk.printed()
    assert gb("取号时间：2026-12-07 05:39") in printed
    assert gb("2026-12-06") not in printed


def test_the_zone_comes_from_the_hub(tmp_path: Path, utc_machine: None) -> None:
    kiosk = make_harness(tmp_path)
    kiosk.hub.publish_config("kiosk-1", timezone="Asia/Urumqi")  # UTC+6
    state = take_ticket(kiosk)
    assert state["ticket_time"] == "取号时间：03:39"
    assert gb("取号时间：2026-12-07 03:39") in kiosk.printed()


def test_clock_shows_hall_time_on_a_utc_machine(tmp_path: Path, utc_machine: None) -> None:
    kiosk = make_harness(tmp_path)
    kiosk.vm.session.now = lambda: datetime(2026, 12, 6, 21, 46, tzinfo=UTC)
    state = kiosk.state
    assert state["clock_text"] == "05:46"
    assert str(state["date_text"]).startswith("2026-12-07 ")
