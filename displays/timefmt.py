"""Dates and times as the hall reads them (24-hour clock, Chinese weekday), always
on the hall's wall clock (hallbus.localtime), never in the machine's own zone."""

from __future__ import annotations

from datetime import datetime, tzinfo

from hallbus.localtime import to_local

WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def clock_text(now: datetime, zone: tzinfo) -> str:
    return to_local(now, zone).strftime("%H:%M:%S")


def time_text(instant: datetime, zone: tzinfo) -> str:
    """ "09:25": when a call happened, on the hall's clock."""
    return to_local(instant, zone).strftime("%H:%M")


def date_text(now: datetime, zone: tzinfo) -> str:
    local = to_local(now, zone)
    return f"{local.year}年{local.month}月{local.day}日 {WEEKDAYS_ZH[local.weekday()]}"


def date_text_en(now: datetime, zone: tzinfo) -> str:
    # the date itself is already in the Chinese line
    return WEEKDAYS_EN[to_local(now, zone).weekday()]


def expected_back_text(expected: datetime, now: datetime, zone: tzinfo) -> tuple[str, str]:
    """'预计 10:00 恢复' (with the date when it is not today), on the hall's clock."""
    expected, local_now = to_local(expected, zone), to_local(now, zone)
    hhmm = f"{expected:%H:%M}"
    if expected.date() == local_now.date():
        return f"预计 {hhmm} 恢复", f"Back at {hhmm}"
    return (
        f"预计 {expected.month}月{expected.day}日 {hhmm} 恢复",
        f"Back on {expected:%m-%d} at {hhmm}",
    )


def minutes_text(minutes: int) -> tuple[str, str]:
    """A wait estimate; hours above 90 minutes so elderly readers need not divide."""
    if minutes <= 0:
        return "无需等候", "no wait"
    if minutes < 90:
        return f"约 {minutes} 分钟", f"~{minutes} min"
    hours = minutes / 60
    return f"约 {hours:.1f} 小时", f"~{hours:.1f} h"
