"""The wait forecast rule (hallbus.forecast), shared by the backend and the hub."""

from __future__ import annotations

from hallbus.forecast import wait_minutes


def test_people_ahead_shared_over_open_windows_rounded_up() -> None:
    assert wait_minutes(10, 60, 2) == 5
    assert wait_minutes(10, 300, 2) == 25
    assert wait_minutes(1, 61, 1) == 2  # a started minute counts
    assert wait_minutes(3, 300, 0) == 15  # before opening: one window assumed
    assert wait_minutes(0, 300, 2) == 0
    assert wait_minutes(5, 0, 2) == 0  # no service time known yet
