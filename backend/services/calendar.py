"""The working-day calendar with the administrator's overrides and confirmed
years from the database."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import CalendarYear, WorkdayOverride
from backend.workdays import WorkCalendar

_lock = threading.Lock()
_cached: tuple[tuple[object, ...], WorkCalendar] | None = None


def calendar_for(session: Session) -> WorkCalendar:
    """One WorkCalendar per version of the override and confirmed-year tables,
    shared by the process (so its per-day cache and its one-warning-per-unknown-
    year both hold)."""
    global _cached
    overrides = session.execute(select(func.count(), func.max(WorkdayOverride.updated_at))).one()
    years = session.execute(
        select(func.count(), func.max(CalendarYear.updated_at)).where(CalendarYear.confirmed)
    ).one()
    key = (int(overrides[0]), overrides[1], int(years[0]), years[1])
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        days = {row.day: row.working for row in session.execute(select(WorkdayOverride)).scalars()}
        confirmed = session.execute(
            select(CalendarYear.year).where(CalendarYear.confirmed)
        ).scalars()
        calendar = WorkCalendar(days, confirmed_years=list(confirmed))
        _cached = (key, calendar)
        return calendar


def confirmed_years(session: Session) -> set[int]:
    return set(session.execute(select(CalendarYear.year).where(CalendarYear.confirmed)).scalars())
