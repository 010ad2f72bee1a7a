"""The working-day calendar with the administrator's overrides from the database."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import WorkdayOverride
from backend.workdays import WorkCalendar

_lock = threading.Lock()
_cached: tuple[tuple[int, object], WorkCalendar] | None = None


def calendar_for(session: Session) -> WorkCalendar:
    """One WorkCalendar per version of the override table, shared by the process
    (so its per-day cache and its one-warning-per-unknown-year both hold)."""
    global _cached
    revision = session.execute(select(func.count(), func.max(WorkdayOverride.updated_at))).one()
    key = (int(revision[0]), revision[1])
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        overrides = {
            row.day: row.working for row in session.execute(select(WorkdayOverride)).scalars()
        }
        calendar = WorkCalendar(overrides)
        _cached = (key, calendar)
        return calendar
