"""hallbus.localtime: the one place instants become what a person reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from hallbus.localtime import (
    DEFAULT_TIMEZONE,
    UnknownTimeZone,
    format_local,
    hall_zone,
    local_date,
    local_now,
    pushed_zone,
)

TAKEN = datetime(2026, 12, 6, 21, 39, tzinfo=UTC)


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_instant_is_read_in_the_halls_zone(utc_machine: None) -> None:
    assert format_local(TAKEN, "Asia/Shanghai") == "2026-12-07 05:39"
    assert local_date(TAKEN, "Asia/Shanghai") == date(2026, 12, 7)
    assert format_local(TAKEN, hall_zone("Asia/Urumqi"), "%H:%M") == "03:39"
    assert local_now("Asia/Shanghai", TAKEN).hour == 5


def test_a_naive_value_is_utc_not_the_machines_time() -> None:
    assert format_local(TAKEN.replace(tzinfo=None), None) == "2026-12-07 05:39"


def test_no_hall_means_the_district_and_a_bad_name_is_refused() -> None:
    assert hall_zone(None).key == DEFAULT_TIMEZONE
    with pytest.raises(UnknownTimeZone, match="Mars/Olympus"):
        hall_zone("Mars/Olympus")
    # A device shown a bad zone by its hub keeps the district's rather than failing.
    assert pushed_zone("Mars/Olympus").key == DEFAULT_TIMEZONE
