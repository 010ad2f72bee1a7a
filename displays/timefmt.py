"""Dates and times as the hall reads them (24-hour clock, Chinese weekday)."""

from __future__ import annotations

from datetime import datetime

WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def clock_text(now: datetime) -> str:
    return now.strftime("%H:%M:%S")


def date_text(now: datetime) -> str:
    return f"{now.year}年{now.month}月{now.day}日 {WEEKDAYS_ZH[now.weekday()]}"


def date_text_en(now: datetime) -> str:
    return WEEKDAYS_EN[now.weekday()]  # the date itself is already in the Chinese line


def expected_back_text(expected: datetime, now: datetime) -> tuple[str, str]:
    """'预计 10:00 恢复' (with the date when it is not today), in the hall's own offset."""
    local_now = now.astimezone(expected.tzinfo)
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
