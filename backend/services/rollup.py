"""Daily performance roll-ups (绩效日汇总): fill the perf_*_days tables of
backend/models/rollup.py from the raw tickets, cases and ratings.

* :func:`refresh_rollups` recomputes whole days: per day, delete its rows and
  insert them anew, inside the caller's transaction, so running it twice
  changes nothing and a reader never sees half a day. Concurrent refreshes
  queue on a PostgreSQL advisory lock (two delete+insert of the same day in
  parallel would otherwise both insert).
* :func:`refresh_recent` is what the supervision scheduler runs every scan:
  yesterday and today, plus every older rolled-up day with a late change
  since the previous run -- a rating voided on appeal, a 整改 called back or
  rectified (the only changes the services make to a closed day).
* ``hall performance-rollup --from … --to …`` backfills, and is how an
  administrator repairs days after editing old data by hand.

The aggregation is backend.services.performance's own (raw_ticket_figures,
raw_case_figures, raw_rating_counts), keyed by day, so the roll-up and the raw
path cannot drift apart. docs/supervision.md "Daily roll-ups".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from backend.models import Case, Rating, Rectification, Ticket
from backend.models.rollup import (
    SERVICE_COLUMNS,
    WAIT_COLUMNS,
    case_days,
    heat_days,
    rating_days,
    rollup_days,
    rollup_state,
    ticket_days,
)
from backend.services import performance as perf
from hallbus.localtime import hall_zone

HALL_ZONE = hall_zone(perf.HALL_TIMEZONE)
# Days are aggregated in chunks: one GROUP BY over a month of tickets is much
# cheaper than thirty over a day each, and a chunk bounds the rows in memory.
CHUNK_DAYS = 31
# Late changes are looked for from the previous check minus this overlap, for
# transactions that committed after the previous check but carry an earlier time.
CHANGE_OVERLAP = timedelta(minutes=10)
TABLE_NAMES = tuple(
    table.name for table in (ticket_days, case_days, rating_days, heat_days, rollup_days)
)


@dataclass
class RefreshReport:
    days: int = 0
    ticket_rows: int = 0
    case_rows: int = 0
    rating_rows: int = 0
    heat_rows: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('hallkit.performance.rollup'))")
        )


def _ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Contiguous runs of ``days``, each at most CHUNK_DAYS long."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if (
            ranges
            and ranges[-1][1] == day - timedelta(days=1)
            and (day - ranges[-1][0]).days < CHUNK_DAYS
        ):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def refresh_rollups(session: Session, days: Iterable[date], now: datetime) -> RefreshReport:
    """Recompute the roll-ups of ``days`` (hall-local dates, every hall)."""
    _lock(session)
    report = RefreshReport()
    for first, last in _ranges(days):
        _refresh_range(session, first, last, now, report)
    session.flush()
    return report


def _refresh_range(
    session: Session, first: date, last: date, now: datetime, report: RefreshReport
) -> None:
    for table in (ticket_days, case_days, rating_days, heat_days, rollup_days):
        session.execute(delete(table).where(table.c.day >= first, table.c.day <= last))
    ranges = [(first, last)]
    ticket_rows = _ticket_rows(session, first, last)
    case_rows = _case_rows(session, ranges)
    rating_rows = _rating_rows(session, ranges)
    heat_rows = _heat_rows(session, first, last)
    for table, rows in (
        (ticket_days, ticket_rows),
        (case_days, case_rows),
        (rating_days, rating_rows),
        (heat_days, heat_rows),
    ):
        if rows:
            session.execute(insert(table), rows)
    day_count = (last - first).days + 1
    session.execute(
        insert(rollup_days),
        [
            {"day": first + timedelta(days=offset), "refreshed_at": now}
            for offset in range(day_count)
        ],
    )
    report.days += day_count
    report.ticket_rows += len(ticket_rows)
    report.case_rows += len(case_rows)
    report.rating_rows += len(rating_rows)
    report.heat_rows += len(heat_rows)


def _day(value: Any) -> date:
    return perf._as_date(value)


def _ticket_rows(session: Session, first: date, last: date) -> list[dict[str, Any]]:
    keys = [
        ("day", Ticket.service_day),
        ("hall", Ticket.hall_id),
        ("window", Ticket.window_id),
        ("staff", Ticket.staff_id),
    ]
    figures = perf.raw_ticket_figures(
        session,
        keys,
        [Ticket.service_day >= first, Ticket.service_day <= last],
        perf.Scope(),
    )
    rows = []
    for (day, hall_id, window_id, staff_id), item in figures.items():
        row: dict[str, Any] = {
            "day": _day(day),
            "hall_id": hall_id,
            "window_id": window_id,
            "staff_id": staff_id,
            "issued": item.issued,
            "served": item.served,
            "wait_count": item.wait_count,
            "wait_sum": item.wait_sum,
            "wait_max": item.wait_max,
            "service_count": item.service_count,
            "service_sum": item.service_sum,
            "service_max": item.service_max,
        }
        row.update(zip(WAIT_COLUMNS, item.wait_histogram, strict=True))
        row.update(zip(SERVICE_COLUMNS, item.service_histogram, strict=True))
        rows.append(row)
    return rows


def _case_rows(session: Session, ranges: Sequence[tuple[date, date]]) -> list[dict[str, Any]]:
    keys = [
        ("day", perf._local_date(session, Case.completed_at)),
        ("hall", Case.hall_id),
        ("department", Case.department_id),
        ("window", Case.window_id),
        ("staff", Case.handler_staff_id),
    ]
    return [
        {
            "day": _day(day),
            "hall_id": hall_id,
            "department_id": department_id,
            "window_id": window_id,
            "staff_id": staff_id,
            "completed": item.completed,
            "on_time": item.on_time,
        }
        for (day, hall_id, department_id, window_id, staff_id), item in perf.raw_case_figures(
            session, keys, ranges, perf.Scope()
        ).items()
    ]


def _rating_rows(session: Session, ranges: Sequence[tuple[date, date]]) -> list[dict[str, Any]]:
    keys = [
        ("day", perf._local_date(session, Rating.rated_at)),
        ("hall", Rating.hall_id),
        ("department", Rating.department_id),
        ("window", Rating.window_id),
        ("staff", Rating.staff_id),
    ]
    rows = []
    for (day, hall_id, department_id, window_id, staff_id), item in perf.raw_rating_counts(
        session, keys, ranges, perf.Scope()
    ).items():
        row: dict[str, Any] = {
            "day": _day(day),
            "hall_id": hall_id,
            "department_id": department_id,
            "window_id": window_id,
            "staff_id": staff_id,
            "voided": item.voided,
            "rectifications": item.rectifications,
            "rectified": item.rectified,
            "bad_called_back": item.bad_called_back,
            "bad_rectified": item.bad_rectified,
        }
        row.update({f"level{level}": item.levels[level - 1] for level in range(1, 6)})
        rows.append(row)
    return rows


def _heat_rows(session: Session, first: date, last: date) -> list[dict[str, Any]]:
    keys = [
        ("day", Ticket.service_day),
        ("hall", Ticket.hall_id),
        ("staff", Ticket.staff_id),
        *perf._heat_keys(session),
    ]
    where = (Ticket.service_day >= first) & (Ticket.service_day <= last)
    return [
        {
            "day": _day(row[0]),
            "hall_id": row[1],
            "staff_id": row[2],
            "weekday": int(row[3]),
            "hour": int(row[4]),
            "tickets": int(row[5]),
            "wait_count": int(row[6]),
            "wait_sum": float(row[7] or 0.0),
        }
        for row in perf._raw_heat(session, keys, where, perf.Scope())
    ]


# ----------------------------------------------------------------- the scheduler


def changed_days(session: Session, since: datetime) -> set[date]:
    """Hall-local rating days with a late change at or after ``since``: a
    rating voided, or its 整改 called back or rectified. (Closing a rectified
    整改 changes no count: both states count as rectified.)"""
    rated_day = perf._local_date(session, Rating.rated_at)
    voided = select(rated_day).where(Rating.voided_at >= since).distinct()
    followed_up = (
        select(rated_day)
        .join(Rectification, Rectification.rating_id == Rating.id)
        .where(or_(Rectification.callback_at >= since, Rectification.rectified_at >= since))
        .distinct()
    )
    return {_day(day) for day in session.execute(voided.union(followed_up)).scalars()}


def refresh_recent(session: Session, now: datetime) -> RefreshReport:
    """Yesterday and today, and the rolled-up days a late change touched since
    the last run. Run by the supervision scheduler after every scan."""
    _lock(session)
    today = now.astimezone(HALL_ZONE).date()
    days = {today - timedelta(days=1), today}
    checked = session.execute(
        select(rollup_state.c.changes_checked_at).where(rollup_state.c.id == 1)
    ).scalar_one_or_none()
    if checked is not None:
        candidates = changed_days(session, checked - CHANGE_OVERLAP)
        if candidates:
            # Only days already rolled up need repair; the others are read raw.
            days |= {
                _day(day)
                for day in session.execute(
                    select(rollup_days.c.day).where(rollup_days.c.day.in_(sorted(candidates)))
                ).scalars()
            }
    report = refresh_rollups(session, days, now)
    if checked is None:
        session.execute(insert(rollup_state).values(id=1, changes_checked_at=now))
    else:
        session.execute(
            update(rollup_state).where(rollup_state.c.id == 1).values(changes_checked_at=now)
        )
    return report


def rolled_up_through(session: Session) -> datetime | None:
    """When the roll-ups were last refreshed (shown on the 绩效 page)."""
    value: datetime | None = session.execute(
        select(func.max(rollup_days.c.refreshed_at))
    ).scalar_one()
    return value


__all__ = [
    "RefreshReport",
    "changed_days",
    "refresh_recent",
    "refresh_rollups",
    "rolled_up_through",
]
