"""Instants as a person in the hall reads them: in the hall's own time zone.

On the wire and in the database every instant is UTC (ISO 8601 with `Z`).
Whatever a person reads — a printed ticket, a kiosk or display clock, a phone
page, a slip, an SMS, a report, the device admin page — is converted here, with
the hall's IANA time zone (`halls.timezone` in the backend; devices learn it
from the hub's ConfigPush `timezone`). The machine's own zone (`TZ`, the OS
clock setting) is never used: a kiosk whose OS runs on UTC still prints
Beijing time for a hall in Asia/Shanghai.

Pure: no Kivy, no Flask, so every app imports the same functions.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

# The district's zone: used only where no hall is known yet (a device before the
# hub's first ConfigPush, a page that names no hall).
DEFAULT_TIMEZONE: Final = "Asia/Shanghai"

DATE_TIME: Final = "%Y-%m-%d %H:%M"
DATE_TIME_SECONDS: Final = "%Y-%m-%d %H:%M:%S"
TIME: Final = "%H:%M"


class UnknownTimeZone(ValueError):
    """A zone name the tz database does not know (a typo in a config or hall row)."""


@lru_cache(maxsize=64)
def hall_zone(name: str | None = None) -> ZoneInfo:
    """The ZoneInfo for a hall's zone name; None or "" is the district default."""
    key = name or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(f"unknown time zone {key!r}") from None


def pushed_zone(name: str | None) -> ZoneInfo:
    """The zone a device shows: the one its hub pushed (ConfigPush `timezone`); the
    district default before the first push or when the name is unknown (logged)."""
    try:
        return hall_zone(name)
    except UnknownTimeZone:
        log.warning("unknown time zone %r pushed; showing %s", name, DEFAULT_TIMEZONE)
        return hall_zone(None)


def is_known_zone(name: str) -> bool:
    try:
        hall_zone(name)
    except UnknownTimeZone:
        return False
    return True


def _zone(zone: tzinfo | str | None) -> tzinfo:
    return zone if isinstance(zone, tzinfo) else hall_zone(zone)


def to_local(instant: datetime, zone: tzinfo | str | None) -> datetime:
    """The instant on the hall's wall clock. A naive value is taken as UTC (the
    database's convention), never as the machine's local time."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(_zone(zone))


def format_local(instant: datetime, zone: tzinfo | str | None, pattern: str = DATE_TIME) -> str:
    """`strftime` of the instant in the hall's zone ("2026-12-07 05:39")."""
    return to_local(instant, zone).strftime(pattern)


def local_now(zone: tzinfo | str | None, now: datetime | None = None) -> datetime:
    """The hall's wall-clock time now (or at `now`), whatever the machine's zone."""
    return to_local(now if now is not None else datetime.now(UTC), zone)


def local_date(instant: datetime, zone: tzinfo | str | None) -> date:
    """The hall-local calendar day of an instant (business day boundaries)."""
    return to_local(instant, zone).date()
