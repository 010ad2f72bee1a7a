"""Changing the working-day calendar, and what follows from it.

Every change to the calendar -- one override saved or deleted on the admin page,
a year's State Council notice imported, a year confirmed or unconfirmed --
goes through this module, and each ends with :func:`recount_open_cases`: every
open case's due date is counted again on the new calendar; a date that moved
is a case event (old and new date, backend.services.cases) and a 期限变更
notice to the case's handler (in page and SMS, backend.services.supervision).
The supervision scan reads ``Case.due_on``, so its 预警/黄牌/红牌 follow the
new dates at its next run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.errors import BadInput
from backend.holiday_notice import ParsedDay
from backend.models import CalendarYear, Case, WorkdayOverride, utcnow
from backend.services import cases as case_service
from backend.services import supervision
from backend.services.audit import record

log = logging.getLogger(__name__)

FIRST_YEAR, LAST_YEAR = 2000, 2100
RECOUNT_REASON = "节假日安排变更"


@dataclass(frozen=True)
class MovedDeadline:
    receipt_number: str
    old_due: date | None
    new_due: date | None


@dataclass(frozen=True)
class CalendarChange:
    days_written: int
    moved: list[MovedDeadline]


def _require_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadInput(f"年份须在 {FIRST_YEAR}–{LAST_YEAR} 之间 / year out of range")


def _write_override(session: Session, day: date, working: bool, note: str, actor: str) -> bool:
    """Upsert one override; True when it changed anything."""
    row = session.get(WorkdayOverride, day)
    if row is not None and row.working == working and row.note == note:
        return False
    if row is None:
        row = WorkdayOverride(day=day)
        session.add(row)
    row.working = working
    row.note = note
    row.updated_by = actor
    # Wall time, not the app clock: (count, newest updated_at) is the cache key
    # of the shared WorkCalendar, so it must move forward on every edit.
    row.updated_at = utcnow()
    return True


def set_override(
    session: Session, *, day: date, working: bool, note: str, actor: str, now: datetime
) -> CalendarChange:
    _require_year(day.year)
    row = session.get(WorkdayOverride, day)
    before = None if row is None else {"working": row.working, "note": row.note}
    changed = _write_override(session, day, working, note, actor)
    record(
        session,
        actor,
        "calendar.override",
        "workday",
        day.isoformat(),
        {"before": before, "working": working, "note": note},
    )
    session.flush()
    return CalendarChange(int(changed), recount_open_cases(session, actor=actor, now=now))


def delete_override(session: Session, *, day: date, actor: str, now: datetime) -> CalendarChange:
    row = session.get(WorkdayOverride, day)
    if row is None:
        raise BadInput("没有该日期的调整 / no override for this day")
    record(
        session,
        actor,
        "calendar.override_delete",
        "workday",
        day.isoformat(),
        {"working": row.working, "note": row.note},
    )
    session.delete(row)
    session.flush()
    return CalendarChange(1, recount_open_cases(session, actor=actor, now=now))


def import_days(
    session: Session,
    *,
    year: int,
    days: Sequence[ParsedDay],
    confirm: bool,
    source: str,
    actor: str,
    now: datetime,
) -> CalendarChange:
    """Save a year's arrangements in one go (the preview the administrator
    accepted) and, with ``confirm``, mark the year complete.  All or nothing:
    a day outside the year refuses the whole import."""
    _require_year(year)
    if not days:
        raise BadInput("没有要导入的日期 / nothing to import")
    outside = [item.day.isoformat() for item in days if item.day.year != year]
    if outside:
        raise BadInput(f"以下日期不在 {year} 年：{'、'.join(outside[:5])} / days outside the year")
    written = sum(
        _write_override(session, item.day, item.working, item.note, actor) for item in days
    )
    if confirm:
        _write_year(session, year, True, source, actor)
    record(
        session,
        actor,
        "calendar.import",
        "calendar_year",
        year,
        {
            "days": len(days),
            "changed": written,
            "off": sum(1 for item in days if not item.working),
            "working": sum(1 for item in days if item.working),
            "confirmed": confirm,
            "source": source,
        },
    )
    session.flush()
    return CalendarChange(written, recount_open_cases(session, actor=actor, now=now))


def _write_year(session: Session, year: int, confirmed: bool, source: str, actor: str) -> None:
    row = session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.confirmed = confirmed
    row.source = source[:200]
    row.updated_by = actor
    row.updated_at = utcnow()  # part of the calendar's cache key, like the overrides


def set_year_confirmed(
    session: Session, *, year: int, confirmed: bool, source: str, actor: str, now: datetime
) -> CalendarChange:
    """Mark a year's notice as entered in full (its days stop being provisional),
    or take that back."""
    _require_year(year)
    row = session.get(CalendarYear, year)
    before = bool(row and row.confirmed)
    _write_year(session, year, confirmed, source or (row.source if row else ""), actor)
    record(
        session,
        actor,
        "calendar.confirm" if confirmed else "calendar.unconfirm",
        "calendar_year",
        year,
        {"before": before, "source": source},
    )
    session.flush()
    return CalendarChange(0, recount_open_cases(session, actor=actor, now=now))


def recount_open_cases(session: Session, *, actor: str, now: datetime) -> list[MovedDeadline]:
    """Every open case's due date on the current calendar (the one rule for
    "the calendar changed"); each moved date is a case event and a notice to
    the handler."""
    staff_actor = case_service.Actor(label=actor, staff_id=None, department_id=None)
    moved: list[MovedDeadline] = []
    open_cases = session.execute(
        select(Case)
        .where(Case.state.in_(case_service.OPEN_STATES))
        .options(selectinload(Case.suspensions))
        .order_by(Case.id)
    ).scalars()
    for case in open_cases:
        old_due = case.due_on
        if not case_service.recount_after_calendar_change(
            session, case, actor=staff_actor, now=now, reason=RECOUNT_REASON
        ):
            continue
        supervision.notify_deadline_moved(session, case, old_due=old_due, now=now)
        moved.append(MovedDeadline(case.receipt_number, old_due, case.due_on))
    if moved:
        # Receipt numbers only: they are not personal data.
        log.info("calendar change moved %d due date(s)", len(moved))
    return moved
