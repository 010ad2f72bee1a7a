"""绩效评估与决策分析 (plan 3.1.1.3 / 3.1.1.4): per window, clerk, department
or hall and per period -- tickets served, waiting and service times (average and
p90), cases on time and overdue, satisfaction, the rectification rate of bad
ratings, a weighted score with rankings across groups (横向) and across periods
(纵向), the waiting heat map and trend lines.

Every figure is aggregated in the database with GROUP BY. Days before today
that the daily roll-ups cover (backend/models/rollup.py, filled by
backend.services.rollup) are summed from the roll-up tables; today and any
day not rolled up come from the raw tables in the same additive shape, and
p90 then comes from one-minute histograms (within 60 s of the exact value
below an hour; see :func:`histogram_percentile`). A period without rolled-up
days is computed exactly as it always was: p90 is ``percentile_cont(0.9)`` on
PostgreSQL; SQLite has no percentile function, so the same continuous
percentile is computed with ROW_NUMBER()/COUNT() window functions (linear
interpolation between the two nearest ranks, identical to percentile_cont).
The formulas, weights and the roll-up design are documented in
docs/supervision.md.

Times are hall-local (Asia/Shanghai, UTC+8 all year: China has no daylight
saving time, which is why a fixed offset is used on SQLite).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from backend.errors import BadInput
from backend.models import (
    Case,
    CaseState,
    Department,
    Rating,
    Rectification,
    RectificationState,
    Staff,
    Ticket,
    TicketState,
    Window,
)
from backend.models.rollup import (
    BUCKET_SECONDS,
    HISTOGRAM_BUCKETS,
    SERVICE_COLUMNS,
    WAIT_COLUMNS,
    case_days,
    heat_days,
    rating_days,
    rollup_days,
    ticket_days,
)
from hallbus.localtime import DEFAULT_TIMEZONE, hall_zone

# The district's roll-ups and rankings span halls: they count days on the district's
# clock (hallbus.localtime), the zone every hall of the district shares.
HALL_TIMEZONE = DEFAULT_TIMEZONE
# SQLite has no zone database: the district's fixed offset (China keeps no DST).
UTC_OFFSET_HOURS = (
    int(_district_offset.total_seconds() // 3600)
    if (_district_offset := hall_zone(DEFAULT_TIMEZONE).utcoffset(datetime(2026, 1, 1)))
    else 0
)
GROUPS = ("department", "window", "clerk", "hall")
BUCKETS = ("day", "week", "month")

# The weighted score (docs/supervision.md "绩效得分"). Plan 3.1.1.3 asks for a
# quantified score; these weights put the two outcomes the applicant feels
# (satisfaction, on-time completion) first.
WEIGHTS = {"satisfaction": 0.35, "on_time": 0.35, "waiting": 0.15, "rectification": 0.15}
# p90 waiting at or below this scores 100, at or above WAIT_ZERO_MINUTES scores 0.
WAIT_FULL_MINUTES = 15.0
WAIT_ZERO_MINUTES = 60.0
P90 = 0.9

# 数据不足 (docs/supervision.md "Who is ranked"): a score is only ranked when it
# rests on enough data. A component counts as measured when it has at least
# MIN_SAMPLE observations in the period (30: below that one case or rating
# more or less moves a rate by over 3 points, and a rate's 95 % margin is up
# to ±18 points), and the measured components must carry at least
# MIN_MEASURED_WEIGHT of the weights: on-time completion alone (0.35) or
# satisfaction alone is not a score of a group's service. Groups below it are
# shown apart with what they have, never ranked.
MIN_SAMPLE = 30
MIN_MEASURED_WEIGHT = 0.5

COMPLETED_STATES = (CaseState.COMPLETED.value, CaseState.DELIVERED.value, CaseState.DENIED.value)
OPEN_STATES = ("accepted", "undertaking", "reviewing", "approved")
RECTIFIED_STATES = (RectificationState.RECTIFIED.value, RectificationState.CLOSED.value)


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    label: str
    kind: str  # day / week / month / quarter / year / range
    start: date
    end: date  # inclusive

    def utc_bounds(self) -> tuple[datetime, datetime]:
        zone = hall_zone(HALL_TIMEZONE)
        start = datetime.combine(self.start, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return start, end.astimezone(UTC)

    def as_json(self) -> dict[str, str]:
        return {
            "label": self.label,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


_PERIOD_PATTERNS = {
    "year": re.compile(r"^(\d{4})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "week": re.compile(r"^(\d{4})-W(\d{2})$"),
    "day": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "range": re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$"),
}


def parse_period(text: str | None, today: date) -> Period:
    """``2026`` | ``2026-Q4`` | ``2026-11`` | ``2026-W48`` | ``2026-11-26`` |
    ``2026-11-01..2026-11-15``; empty means the current month."""
    if not text:
        text = f"{today.year:04d}-{today.month:02d}"
    text = text.strip()
    try:
        if match := _PERIOD_PATTERNS["year"].match(text):
            year = int(match[1])
            return Period(text, "year", date(year, 1, 1), date(year, 12, 31))
        if match := _PERIOD_PATTERNS["quarter"].match(text):
            year, quarter = int(match[1]), int(match[2])
            first = date(year, 3 * quarter - 2, 1)
            last_month = 3 * quarter
            return Period(
                text, "quarter", first, date(year, last_month, monthrange(year, last_month)[1])
            )
        if match := _PERIOD_PATTERNS["month"].match(text):
            year, month = int(match[1]), int(match[2])
            return Period(
                text, "month", date(year, month, 1), date(year, month, monthrange(year, month)[1])
            )
        if match := _PERIOD_PATTERNS["week"].match(text):
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
            return Period(text, "week", monday, monday + timedelta(days=6))
        if _PERIOD_PATTERNS["day"].match(text):
            day = date.fromisoformat(text)
            return Period(text, "day", day, day)
        if match := _PERIOD_PATTERNS["range"].match(text):
            start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            if end < start or (end - start).days > 3660:
                raise ValueError("range end before start or longer than ten years")
            return Period(text, "range", start, end)
    except ValueError as error:
        raise BadInput(f"期间格式不正确 / invalid period: {error}", period=text) from error
    raise BadInput(
        "期间格式：2026、2026-Q4、2026-11、2026-W48、2026-11-26 或 起..止 / invalid period",
        period=text,
    )


def last_twelve_months(today: date) -> str:
    """The trend's default range: the first day eleven months back up to today."""
    month_index = today.year * 12 + today.month - 1 - 11
    start = date(month_index // 12, month_index % 12 + 1, 1)
    return f"{start.isoformat()}..{today.isoformat()}"


def previous_period(period: Period) -> Period:
    """The period of the same kind right before ``period`` (纵向 comparison)."""
    if period.kind == "year":
        return parse_period(str(period.start.year - 1), period.start)
    if period.kind == "quarter":
        quarter = (period.start.month - 1) // 3 + 1
        year, quarter = (
            (period.start.year, quarter - 1) if quarter > 1 else (period.start.year - 1, 4)
        )
        return parse_period(f"{year}-Q{quarter}", period.start)
    if period.kind == "month":
        last = period.start - timedelta(days=1)
        return parse_period(f"{last.year:04d}-{last.month:02d}", last)
    if period.kind == "week":
        iso = (period.start - timedelta(days=7)).isocalendar()
        return parse_period(f"{iso.year:04d}-W{iso.week:02d}", period.start)
    length = (period.end - period.start).days + 1
    end = period.start - timedelta(days=1)
    start = end - timedelta(days=length - 1)
    if period.kind == "day":
        return Period(start.isoformat(), "day", start, end)
    return Period(f"{start.isoformat()}..{end.isoformat()}", "range", start, end)


# ----------------------------------------------------------------- SQL helpers


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _local(session: Session, instant: Any) -> Any:
    if _dialect(session) == "postgresql":
        return func.timezone(HALL_TIMEZONE, instant)
    return func.datetime(instant, f"+{UTC_OFFSET_HOURS} hours")


def _local_date(session: Session, instant: Any) -> Any:
    if _dialect(session) == "postgresql":
        return cast(func.timezone(HALL_TIMEZONE, instant), Date)
    return func.date(instant, f"+{UTC_OFFSET_HOURS} hours")


def _bucket(session: Session, day: Any, bucket: str) -> Any:
    """The first day of the day/ISO week/month containing ``day`` (a date)."""
    if bucket == "day":
        return day if _dialect(session) == "postgresql" else func.date(day)
    if _dialect(session) == "postgresql":
        return cast(func.date_trunc(bucket, day), Date)
    if bucket == "week":
        weekday = (cast(func.strftime("%w", day), Integer) + 6) % 7  # Monday = 0
        return func.date(day, func.printf("-%d days", weekday))
    return func.strftime("%Y-%m-01", day)


def _percentiles(
    session: Session,
    keys: Sequence[tuple[str, Any]],
    value: Any,
    where: Sequence[Any],
    joins: Sequence[tuple[Any, Any]] = (),
) -> dict[tuple[Any, ...], float]:
    """The continuous 90th percentile of ``value`` per key, computed in the database."""
    key_columns = [expression.label(name) for name, expression in keys]
    if _dialect(session) == "postgresql":
        statement = select(*key_columns, func.percentile_cont(P90).within_group(value))
        for target, on in joins:
            statement = statement.join(target, on)
        statement = statement.where(*where, value.is_not(None)).group_by(*[c for _, c in keys])
        return {tuple(row[:-1]): float(row[-1]) for row in session.execute(statement)}
    partition = [expression for _, expression in keys]
    inner = select(
        *key_columns,
        value.label("v"),
        (func.row_number().over(partition_by=partition, order_by=value) - 1).label("i"),
        func.count().over(partition_by=partition).label("n"),
    )
    for target, on in joins:
        inner = inner.join(target, on)
    ranked = inner.where(*where, value.is_not(None)).subquery()
    position = P90 * (ranked.c.n - 1)  # 0-based fractional rank, as percentile_cont
    lower = cast(position, Integer)
    fraction = position - lower
    statement = (
        select(
            *[ranked.c[name] for name, _ in keys],
            func.sum(
                case(
                    (ranked.c.i == lower, ranked.c.v * (1 - fraction)), else_=ranked.c.v * fraction
                )
            ),
        )
        .where(or_(ranked.c.i == lower, ranked.c.i == lower + 1))
        .group_by(*[ranked.c[name] for name, _ in keys])
    )
    return {tuple(row[:-1]): float(row[-1]) for row in session.execute(statement)}


# ----------------------------------------------------------------- the metrics


@dataclass(frozen=True)
class Scope:
    """Which rows a caller may aggregate: a department lead only their department."""

    hall_id: int | None = None
    department_id: int | None = None


def _ticket_key(group_by: str) -> Any:
    return {
        "window": Ticket.window_id,
        "clerk": Ticket.staff_id,
        "department": Staff.department_id,
        "hall": Ticket.hall_id,
    }[group_by]


def ticket_metrics(
    session: Session,
    period: Period,
    keys: Sequence[tuple[str, Any]],
    scope: Scope,
    with_p90: bool = True,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    wait = _seconds(session, Ticket.called_at, Ticket.issued_at)
    service = _seconds(
        session, Ticket.finished_at, func.coalesce(Ticket.started_at, Ticket.called_at)
    )
    where: list[Any] = [Ticket.service_day >= period.start, Ticket.service_day <= period.end]
    if scope.hall_id is not None:
        where.append(Ticket.hall_id == scope.hall_id)
    if scope.department_id is not None:
        where.append(Staff.department_id == scope.department_id)
    joins = [(Staff, Staff.id == Ticket.staff_id)]
    needs_staff = scope.department_id is not None or any(
        expression is Staff.department_id for _, expression in keys
    )
    # PostgreSQL computes the percentiles in the same pass over the rows.
    single_pass = with_p90 and _dialect(session) == "postgresql"
    percentile_columns = (
        [
            func.percentile_cont(P90).within_group(wait).label("p90_wait"),
            func.percentile_cont(P90).within_group(service).label("p90_service"),
        ]
        if single_pass
        else []
    )
    statement = select(
        *[expression.label(name) for name, expression in keys],
        func.count().label("issued"),
        func.count(case((Ticket.state == TicketState.DONE, 1))).label("served"),
        func.avg(wait).label("avg_wait"),
        func.avg(service).label("avg_service"),
        *percentile_columns,
    )
    if needs_staff:
        statement = statement.outerjoin(*joins[0])
    statement = statement.where(*where).group_by(*[expression for _, expression in keys])
    result: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(statement):
        key = tuple(row[: len(keys)])
        result[key] = {
            "tickets_issued": int(row.issued),
            "tickets_served": int(row.served),
            "avg_wait_seconds": _round(row.avg_wait),
            "avg_service_seconds": _round(row.avg_service),
            "p90_wait_seconds": _round(row.p90_wait) if single_pass else None,
            "p90_service_seconds": _round(row.p90_service) if single_pass else None,
        }
    if with_p90 and not single_pass and result:
        join_list = joins if needs_staff else []
        for name, value, column in (
            ("p90_wait_seconds", wait, Ticket.called_at),
            ("p90_service_seconds", service, Ticket.finished_at),
        ):
            values = _percentiles(
                session, keys, case((column.is_not(None), value)), where, join_list
            )
            for key, number in values.items():
                if key in result:
                    result[key][name] = _round(number)
    return result


def _case_key(group_by: str) -> Any:
    return {
        "window": Case.window_id,
        "clerk": Case.handler_staff_id,
        "department": Case.department_id,
        "hall": Case.hall_id,
    }[group_by]


def case_metrics(
    session: Session,
    period: Period,
    keys: Sequence[tuple[str, Any]],
    scope: Scope,
    today: date,
    bucket: str | None = None,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Decided cases (办结/发证/不予许可) of the period: on time when decided on or
    before the due date. Open overdue: overdue during the period and not decided
    in it (:func:`_open_overdue`); they count against the on-time rate. With
    ``bucket``, the first key is that bucket of the decision day."""
    start, end = period.utc_bounds()
    completed_day = _local_date(session, Case.completed_at)
    filters: list[Any] = []
    if scope.hall_id is not None:
        filters.append(Case.hall_id == scope.hall_id)
    if scope.department_id is not None:
        filters.append(Case.department_id == scope.department_id)
    decided = (
        select(
            *[expression.label(name) for name, expression in keys],
            func.count().label("completed"),
            func.count(case((completed_day <= Case.due_on, 1))).label("on_time"),
        )
        .where(
            Case.state.in_(COMPLETED_STATES),
            Case.completed_at >= start,
            Case.completed_at < end,
            *filters,
        )
        .group_by(*[e for _, e in keys])
    )
    result: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(decided):
        result[tuple(row[: len(keys)])] = {
            "cases_completed": int(row.completed),
            "cases_on_time": int(row.on_time),
            "cases_late": int(row.completed) - int(row.on_time),
            "cases_open_overdue": 0,
        }
    group_keys = keys[1:] if bucket is not None else keys
    for key, count in _open_overdue(session, period, group_keys, scope, today, bucket).items():
        entry = result.setdefault(
            key,
            {
                "cases_completed": 0,
                "cases_on_time": 0,
                "cases_late": 0,
                "cases_open_overdue": 0,
            },
        )
        entry["cases_open_overdue"] = count
    for entry in result.values():
        entry["on_time_rate"] = on_time_rate(
            entry["cases_on_time"], entry["cases_completed"], entry["cases_open_overdue"]
        )
    return result


def on_time_rate(on_time: int, completed: int, open_overdue: int) -> float | None:
    """Cases decided on time / (cases decided + cases overdue and still open):
    a case past its deadline lowers the rate of every period in which it is
    overdue, not only the one in which it is finally decided."""
    return _ratio(on_time, completed + open_overdue)


def _open_overdue(
    session: Session,
    period: Period,
    keys: Sequence[tuple[str, Any]],
    scope: Scope,
    today: date,
    bucket: str | None = None,
) -> dict[tuple[Any, ...], int]:
    """Cases overdue during the period and not decided in it, per key: due
    before the period's last day (and before today), and still open now or
    decided only after the period. Such a case -- the ones that carry a yellow
    or red card -- counts against each period in which it is overdue; in the
    period it is decided in, it counts as decided late instead.

    With ``bucket`` the period is cut into its days/weeks/months and the bucket's
    first day leads each key (as the decided cases' keys: a date on PostgreSQL,
    ISO text on SQLite)."""
    if bucket is not None:
        return _open_overdue_by_bucket(session, period, keys, scope, today, bucket)
    if period.start > today:  # no day of the period has been lived yet
        return {}
    last_due = min(period.end, today) - timedelta(days=1)
    _, period_end = period.utc_bounds()
    result: dict[tuple[Any, ...], int] = {}
    for condition in _still_open_or_decided_after(period_end):
        statement = (
            select(*[expression.label(name) for name, expression in keys], func.count())
            .where(Case.due_on <= last_due, condition, *_case_filters(scope))
            .group_by(*[e for _, e in keys])
        )
        for row in session.execute(statement):
            if row[-1]:  # without keys there is no GROUP BY, and the one row may count 0
                key = tuple(row[: len(keys)])
                result[key] = result.get(key, 0) + int(row[-1])
    return result


def _still_open_or_decided_after(instant: datetime) -> tuple[ColumnElement[bool], ...]:
    """Open now, or decided at or after ``instant``: two conditions read in two
    queries, each by its own index (ix_cases_open_due, ix_cases_completed_at),
    where one OR would read every case due before the period's end."""
    return (
        Case.state.in_(OPEN_STATES),
        and_(Case.state.in_(COMPLETED_STATES), Case.completed_at >= instant),
    )


def _open_overdue_by_bucket(
    session: Session,
    period: Period,
    keys: Sequence[tuple[str, Any]],
    scope: Scope,
    today: date,
    bucket: str,
) -> dict[tuple[Any, ...], int]:
    """:func:`_open_overdue` for each bucket of the period, from one read of the
    cases that can count in any of them (the same rule per bucket, applied here
    rather than in one query per bucket: a month by day would be 31 queries)."""
    lived = [
        (first, part) for first, part in _bucket_periods(period, bucket) if part.start <= today
    ]
    if not lived:
        return {}
    postgresql = _dialect(session) == "postgresql"
    labels = [first if postgresql else first.isoformat() for first, _part in lived]
    # Both ascending: bisect finds the buckets a case counts in (overdue by the
    # bucket's last lived day, not decided by the bucket's last day).
    lived_ends = [min(part.end, today) for _first, part in lived]
    ends = [part.end for _first, part in lived]
    last_due = min(period.end, today) - timedelta(days=1)
    period_start, _ = period.utc_bounds()
    width = len(keys)
    rows = [
        row
        for condition in _still_open_or_decided_after(period_start)
        for row in session.execute(
            select(
                *[expression.label(name) for name, expression in keys],
                Case.due_on,
                _local_date(session, Case.completed_at),
            ).where(Case.due_on <= last_due, condition, *_case_filters(scope))
        )
    ]
    result: dict[tuple[Any, ...], int] = {}
    for row in rows:
        due = _as_date(row[width])
        first_overdue = bisect_left(lived_ends, due + timedelta(days=1))
        last = len(ends) if row[width + 1] is None else bisect_left(ends, _as_date(row[width + 1]))
        for index in range(first_overdue, last):
            key = (labels[index], *row[:width])
            result[key] = result.get(key, 0) + 1
    return result


def _bucket_periods(period: Period, bucket: str) -> list[tuple[date, Period]]:
    """(first day of the bucket, the part of ``period`` inside it) for each
    day / ISO week / month the period touches."""
    parts: list[tuple[date, Period]] = []
    day = period.start
    while day <= period.end:
        if bucket == "day":
            first, last = day, day
        elif bucket == "week":
            first = day - timedelta(days=day.weekday())
            last = first + timedelta(days=6)
        else:
            first = day.replace(day=1)
            last = day.replace(day=monthrange(day.year, day.month)[1])
        start, end = max(first, period.start), min(last, period.end)
        parts.append((first, Period(f"{start}..{end}", "range", start, end)))
        day = last + timedelta(days=1)
    return parts


def _rating_key(group_by: str) -> Any:
    return {
        "window": Rating.window_id,
        "clerk": Rating.staff_id,
        "department": Rating.department_id,
        "hall": Rating.hall_id,
    }[group_by]


def rating_metrics(
    session: Session,
    period: Period,
    keys: Sequence[tuple[str, Any]],
    scope: Scope,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Satisfaction = ratings ≥ 3 (基本满意 or better) / all ratings, voided excluded.
    Rectification rate = bad ratings whose 整改 is rectified or closed / bad
    ratings with a 整改 that was not voided."""
    start, end = period.utc_bounds()
    where: list[Any] = [Rating.rated_at >= start, Rating.rated_at < end, Rating.voided.is_(False)]
    if scope.hall_id is not None:
        where.append(Rating.hall_id == scope.hall_id)
    if scope.department_id is not None:
        where.append(Rating.department_id == scope.department_id)
    statement = (
        select(
            *[expression.label(name) for name, expression in keys],
            func.count().label("ratings"),
            func.count(case((Rating.level >= 3, 1))).label("good"),
            func.count(case((Rating.level <= 2, 1))).label("bad"),
            func.count(case((Rectification.state.in_(RECTIFIED_STATES), 1))).label("rectified"),
            func.count(
                case(
                    (
                        and_(
                            Rectification.id.is_not(None),
                            Rectification.state != RectificationState.VOIDED.value,
                        ),
                        1,
                    )
                )
            ).label("rectifications"),
        )
        .outerjoin(Rectification, Rectification.rating_id == Rating.id)
        .where(*where)
        .group_by(*[expression for _, expression in keys])
    )
    result: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(statement):
        result[tuple(row[: len(keys)])] = {
            "ratings": int(row.ratings),
            "ratings_good": int(row.good),
            "ratings_bad": int(row.bad),
            "satisfaction": _ratio(int(row.good), int(row.ratings)),
            "rectifications": int(row.rectifications),
            "rectified": int(row.rectified),
            "rectification_rate": _ratio(int(row.rectified), int(row.rectifications)),
        }
    return result


def score(metrics: dict[str, Any]) -> float | None:
    """The weighted score, 0-100 (docs/supervision.md). Components without data
    are left out and the remaining weights rescaled to sum to 1."""
    parts: dict[str, float] = {}
    if metrics.get("satisfaction") is not None:
        parts["satisfaction"] = 100.0 * metrics["satisfaction"]
    if metrics.get("on_time_rate") is not None:
        parts["on_time"] = 100.0 * metrics["on_time_rate"]
    if metrics.get("p90_wait_seconds") is not None:
        minutes = metrics["p90_wait_seconds"] / 60.0
        span = WAIT_ZERO_MINUTES - WAIT_FULL_MINUTES
        parts["waiting"] = 100.0 * min(1.0, max(0.0, (WAIT_ZERO_MINUTES - minutes) / span))
    if metrics.get("rectification_rate") is not None:
        parts["rectification"] = 100.0 * metrics["rectification_rate"]
    if not parts:
        return None
    total_weight = sum(WEIGHTS[name] for name in parts)
    return round(sum(WEIGHTS[name] * value for name, value in parts.items()) / total_weight, 2)


def measured(metrics: dict[str, Any]) -> dict[str, Any]:
    """What a group's score rests on: the observations behind each component,
    the weight of the components with at least MIN_SAMPLE of them, and whether
    that is enough to rank the group (MIN_MEASURED_WEIGHT)."""
    observations = {
        "satisfaction": int(metrics.get("ratings") or 0),
        "on_time": int(metrics.get("cases_completed") or 0)
        + int(metrics.get("cases_open_overdue") or 0),
        "waiting": int(metrics.get("tickets_served") or 0),
        "rectification": int(metrics.get("rectifications") or 0),
    }
    weight = sum(WEIGHTS[name] for name, count in observations.items() if count >= MIN_SAMPLE)
    return {
        "observations": observations,
        "measured_weight": round(weight, 2),
        "enough_data": weight >= MIN_MEASURED_WEIGHT - 1e-9,
    }


# ------------------------------------------------------ additive figures
#
# The roll-up path (docs/supervision.md "Daily roll-ups") works on figures that
# add up: counts, sums, maxima and fixed histograms. Days that are rolled up
# are summed in SQL from the perf_*_days tables; the other days (today, and any
# day not refreshed yet) are aggregated from the raw tables into the same
# shape; the two are added here and turned into the documented metrics.


def _empty_histogram() -> list[int]:
    return [0] * HISTOGRAM_BUCKETS


def _larger(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


@dataclass
class TicketFigures:
    issued: int = 0
    served: int = 0
    wait_count: int = 0
    wait_sum: float = 0.0
    wait_max: float | None = None
    service_count: int = 0
    service_sum: float = 0.0
    service_max: float | None = None
    wait_histogram: list[int] = field(default_factory=_empty_histogram)
    service_histogram: list[int] = field(default_factory=_empty_histogram)

    def add(self, other: TicketFigures) -> None:
        self.issued += other.issued
        self.served += other.served
        self.wait_count += other.wait_count
        self.wait_sum += other.wait_sum
        self.wait_max = _larger(self.wait_max, other.wait_max)
        self.service_count += other.service_count
        self.service_sum += other.service_sum
        self.service_max = _larger(self.service_max, other.service_max)
        for index in range(HISTOGRAM_BUCKETS):
            self.wait_histogram[index] += other.wait_histogram[index]
            self.service_histogram[index] += other.service_histogram[index]

    def metrics(self) -> dict[str, Any]:
        return {
            "tickets_issued": self.issued,
            "tickets_served": self.served,
            "avg_wait_seconds": _round(self.wait_sum / self.wait_count)
            if self.wait_count
            else None,
            "avg_service_seconds": _round(self.service_sum / self.service_count)
            if self.service_count
            else None,
            "p90_wait_seconds": _round(
                histogram_percentile(self.wait_histogram, self.wait_max, P90)
            ),
            "p90_service_seconds": _round(
                histogram_percentile(self.service_histogram, self.service_max, P90)
            ),
        }


def histogram_percentile(
    counts: Sequence[int], maximum: float | None, fraction: float
) -> float | None:
    """percentile_cont over a one-minute histogram: the two neighbouring ranks
    are placed evenly inside their buckets (the overflow bucket spans 60 min to
    the stored maximum; the top rank is the maximum itself) and interpolated as
    percentile_cont does. Each placed rank is off by less than its bucket's
    width, so the result is within 60 s of the exact value below 60 minutes."""
    total = sum(counts)
    if total == 0:
        return None
    position = fraction * (total - 1)
    lower = int(position)
    upper = min(lower + 1, total - 1)
    low_value = _rank_value(counts, maximum, lower, total)
    high_value = _rank_value(counts, maximum, upper, total)
    return low_value + (position - lower) * (high_value - low_value)


def _rank_value(counts: Sequence[int], maximum: float | None, rank: int, total: int) -> float:
    if maximum is not None and rank == total - 1:
        return maximum
    seen = 0
    for index, count in enumerate(counts):
        if rank < seen + count:
            low = float(index * BUCKET_SECONDS)
            if index == len(counts) - 1:  # overflow: up to the largest value seen
                width = max((maximum if maximum is not None else low) - low, 0.0)
            else:
                width = float(BUCKET_SECONDS)
            estimate = low + (rank - seen + 0.5) / count * width
            return min(estimate, maximum) if maximum is not None else estimate
        seen += count
    return float(maximum or 0.0)


@dataclass
class CaseFigures:
    completed: int = 0
    on_time: int = 0
    open_overdue: int = 0

    def add(self, other: CaseFigures) -> None:
        self.completed += other.completed
        self.on_time += other.on_time
        self.open_overdue += other.open_overdue

    def metrics(self) -> dict[str, Any]:
        return {
            "cases_completed": self.completed,
            "cases_on_time": self.on_time,
            "cases_late": self.completed - self.on_time,
            "cases_open_overdue": self.open_overdue,
            "on_time_rate": on_time_rate(self.on_time, self.completed, self.open_overdue),
        }


@dataclass
class RatingCounts:
    """Valid ratings per level (1..5), voided ratings, and the 整改 counts."""

    levels: list[int] = field(default_factory=lambda: [0] * 5)
    voided: int = 0
    rectifications: int = 0
    rectified: int = 0
    bad_called_back: int = 0
    bad_rectified: int = 0

    @classmethod
    def from_columns(cls, values: Sequence[Any]) -> RatingCounts:
        """From the ten count columns, in field order, that the raw and the
        roll-up queries both select."""
        numbers = [int(value) for value in values]
        return cls(
            levels=numbers[0:5],
            voided=numbers[5],
            rectifications=numbers[6],
            rectified=numbers[7],
            bad_called_back=numbers[8],
            bad_rectified=numbers[9],
        )

    def add(self, other: RatingCounts) -> None:
        for index in range(5):
            self.levels[index] += other.levels[index]
        self.voided += other.voided
        self.rectifications += other.rectifications
        self.rectified += other.rectified
        self.bad_called_back += other.bad_called_back
        self.bad_rectified += other.bad_rectified

    @property
    def valid(self) -> int:
        return sum(self.levels)

    def metrics(self) -> dict[str, Any]:
        good = sum(self.levels[2:])
        return {
            "ratings": self.valid,
            "ratings_good": good,
            "ratings_bad": self.levels[0] + self.levels[1],
            "satisfaction": _ratio(good, self.valid),
            "rectifications": self.rectifications,
            "rectified": self.rectified,
            "rectification_rate": _ratio(self.rectified, self.rectifications),
        }


DayRange = tuple[date, date]  # inclusive local dates


def split_period(
    session: Session, period: Period, today: date
) -> tuple[list[DayRange], list[DayRange]]:
    """(rolled-up day ranges, raw day ranges) of ``period``. Today and later are
    always raw (the day is still changing); an earlier day is rolled up when
    perf_rollup_days has it."""
    last_closed = min(period.end, today - timedelta(days=1))
    covered: set[date] = set()
    if last_closed >= period.start:
        rows = session.execute(
            select(rollup_days.c.day, rollup_days.c.refreshed_at).where(
                rollup_days.c.day >= period.start, rollup_days.c.day <= last_closed
            )
        )
        for day_value, refreshed_at in rows:
            day = _as_date(day_value)
            # Only a refresh made after the day ended holds the whole day.
            if refreshed_at >= Period("", "day", day, day).utc_bounds()[1]:
                covered.add(day)
    rolled: list[DayRange] = []
    raw: list[DayRange] = []
    day = period.start
    while day <= period.end:
        target = rolled if day in covered else raw
        if target and target[-1][1] == day - timedelta(days=1):
            target[-1] = (target[-1][0], day)
        else:
            target.append((day, day))
        day += timedelta(days=1)
    return rolled, raw


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _days_condition(column: Any, ranges: Sequence[DayRange]) -> ColumnElement[bool]:
    return or_(*(and_(column >= first, column <= last) for first, last in ranges))


def _instants_condition(column: Any, ranges: Sequence[DayRange]) -> ColumnElement[bool]:
    parts = []
    for first, last in ranges:
        start, end = Period("", "range", first, last).utc_bounds()
        parts.append(and_(column >= start, column < end))
    return or_(*parts)


def _histogram_bucket(session: Session, seconds: Any) -> Any:
    """The histogram bucket of a duration: whole minutes, clamped to 0..60.
    The half-millisecond nudge keeps an exact 60.000 s (which SQLite's
    julianday arithmetic may return as 59.99996) in the one-minute bucket."""
    minutes = (seconds + 0.0005) / float(BUCKET_SECONDS)
    top = HISTOGRAM_BUCKETS - 1
    if _dialect(session) == "postgresql":
        return cast(func.least(func.greatest(func.floor(minutes), 0), top), Integer)
    return func.min(func.max(cast(minutes, Integer), 0), top)


def raw_ticket_figures(
    session: Session,
    keys: Sequence[tuple[str, Any]],
    where: Sequence[Any],
    scope: Scope,
) -> dict[tuple[Any, ...], TicketFigures]:
    """Ticket figures per key from the raw tickets table (three GROUP BYs: the
    sums, the waiting histogram, the service histogram)."""
    wait = _seconds(session, Ticket.called_at, Ticket.issued_at)
    service = _seconds(
        session, Ticket.finished_at, func.coalesce(Ticket.started_at, Ticket.called_at)
    )
    conditions = list(where)
    if scope.hall_id is not None:
        conditions.append(Ticket.hall_id == scope.hall_id)
    if scope.department_id is not None:
        conditions.append(Staff.department_id == scope.department_id)
    needs_staff = scope.department_id is not None or any(
        expression is Staff.department_id for _, expression in keys
    )
    key_columns = [expression.label(name) for name, expression in keys]
    group = [expression for _, expression in keys]
    width = len(keys)

    def finish(statement: Any) -> Any:
        if needs_staff:
            statement = statement.outerjoin(Staff, Staff.id == Ticket.staff_id)
        return statement.where(*conditions)

    sums = finish(
        select(
            *key_columns,
            func.count(),
            func.count(case((Ticket.state == TicketState.DONE, 1))),
            func.count(wait),
            func.sum(wait),
            func.max(wait),
            func.count(service),
            func.sum(service),
            func.max(service),
        ).select_from(Ticket)
    ).group_by(*group)
    result: dict[tuple[Any, ...], TicketFigures] = {}
    for row in session.execute(sums):
        result[tuple(row[:width])] = TicketFigures(
            issued=int(row[width]),
            served=int(row[width + 1]),
            wait_count=int(row[width + 2]),
            wait_sum=float(row[width + 3] or 0.0),
            wait_max=None if row[width + 4] is None else float(row[width + 4]),
            service_count=int(row[width + 5]),
            service_sum=float(row[width + 6] or 0.0),
            service_max=None if row[width + 7] is None else float(row[width + 7]),
        )
    for value, attribute in ((wait, "wait_histogram"), (service, "service_histogram")):
        bucket = _histogram_bucket(session, value)
        statement = finish(
            select(*key_columns, bucket.label("bucket"), func.count()).select_from(Ticket)
        ).where(value.is_not(None))
        for row in session.execute(statement.group_by(*group, bucket)):
            figures = result.get(tuple(row[:width]))
            if figures is not None:
                getattr(figures, attribute)[int(row[width])] += int(row[width + 1])
    return result


def raw_case_figures(
    session: Session, keys: Sequence[tuple[str, Any]], ranges: Sequence[DayRange], scope: Scope
) -> dict[tuple[Any, ...], CaseFigures]:
    """Decided cases per key whose hall-local completion day is in ``ranges``."""
    completed_day = _local_date(session, Case.completed_at)
    statement = (
        select(
            *[expression.label(name) for name, expression in keys],
            func.count(),
            func.count(case((completed_day <= Case.due_on, 1))),
        )
        .where(
            Case.state.in_(COMPLETED_STATES),
            _instants_condition(Case.completed_at, ranges),
            *_case_filters(scope),
        )
        .group_by(*[expression for _, expression in keys])
    )
    width = len(keys)
    return {
        tuple(row[:width]): CaseFigures(completed=int(row[width]), on_time=int(row[width + 1]))
        for row in session.execute(statement)
    }


def _case_filters(scope: Scope) -> list[Any]:
    filters: list[Any] = []
    if scope.hall_id is not None:
        filters.append(Case.hall_id == scope.hall_id)
    if scope.department_id is not None:
        filters.append(Case.department_id == scope.department_id)
    return filters


def raw_rating_counts(
    session: Session, keys: Sequence[tuple[str, Any]], ranges: Sequence[DayRange], scope: Scope
) -> dict[tuple[Any, ...], RatingCounts]:
    """Rating counts per key whose hall-local rating day is in ``ranges``;
    voided ratings only in ``voided``."""
    valid = Rating.voided.is_(False)
    bad = and_(valid, Rating.level <= 2)
    conditions: list[Any] = [_instants_condition(Rating.rated_at, ranges)]
    if scope.hall_id is not None:
        conditions.append(Rating.hall_id == scope.hall_id)
    if scope.department_id is not None:
        conditions.append(Rating.department_id == scope.department_id)
    statement = (
        select(
            *[expression.label(name) for name, expression in keys],
            *(func.count(case((and_(valid, Rating.level == level), 1))) for level in range(1, 6)),
            func.count(case((Rating.voided.is_(True), 1))),
            func.count(
                case(
                    (
                        and_(
                            valid,
                            Rectification.id.is_not(None),
                            Rectification.state != RectificationState.VOIDED.value,
                        ),
                        1,
                    )
                )
            ),
            func.count(case((and_(valid, Rectification.state.in_(RECTIFIED_STATES)), 1))),
            func.count(case((and_(bad, Rectification.callback_at.is_not(None)), 1))),
            func.count(case((and_(bad, Rectification.state.in_(RECTIFIED_STATES)), 1))),
        )
        .select_from(Rating)
        .outerjoin(Rectification, Rectification.rating_id == Rating.id)
        .where(*conditions)
        .group_by(*[expression for _, expression in keys])
    )
    width = len(keys)
    result: dict[tuple[Any, ...], RatingCounts] = {}
    for row in session.execute(statement):
        result[tuple(row[:width])] = RatingCounts.from_columns(row[width:])
    return result


def _norm(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Bucket keys as ISO text, so SQLite's text dates and PostgreSQL's dates
    from the raw and the roll-up queries land on the same key."""
    return tuple(_iso(part) if isinstance(part, date | datetime) else part for part in key)


def _rolled_ticket_figures(
    session: Session,
    bucket: str | None,
    group_by: str | None,
    ranges: Sequence[DayRange],
    scope: Scope,
) -> dict[tuple[Any, ...], TicketFigures]:
    table = ticket_days.c
    keys: list[Any] = []
    if bucket is not None:
        keys.append(_bucket(session, table.day, bucket))
    if group_by is not None:
        keys.append(
            {
                "window": table.window_id,
                "clerk": table.staff_id,
                "department": Staff.department_id,
                "hall": table.hall_id,
            }[group_by]
        )
    conditions: list[Any] = [_days_condition(table.day, ranges)]
    if scope.hall_id is not None:
        conditions.append(table.hall_id == scope.hall_id)
    if scope.department_id is not None:
        conditions.append(Staff.department_id == scope.department_id)
    histogram = [table[name] for name in (*WAIT_COLUMNS, *SERVICE_COLUMNS)]
    statement = select(
        *keys,
        func.sum(table.issued),
        func.sum(table.served),
        func.sum(table.wait_count),
        func.sum(table.wait_sum),
        func.max(table.wait_max),
        func.sum(table.service_count),
        func.sum(table.service_sum),
        func.max(table.service_max),
        *(func.sum(column) for column in histogram),
    ).select_from(ticket_days)
    if scope.department_id is not None or group_by == "department":
        statement = statement.outerjoin(Staff, Staff.id == table.staff_id)
    statement = statement.where(*conditions)
    if keys:
        statement = statement.group_by(*keys)
    width = len(keys)
    result: dict[tuple[Any, ...], TicketFigures] = {}
    for row in session.execute(statement):
        if row[width] is None:  # no rows at all (an aggregate without GROUP BY)
            continue
        numbers = row[width + 8 :]
        result[_norm(tuple(row[:width]))] = TicketFigures(
            issued=int(row[width]),
            served=int(row[width + 1]),
            wait_count=int(row[width + 2]),
            wait_sum=float(row[width + 3]),
            wait_max=None if row[width + 4] is None else float(row[width + 4]),
            service_count=int(row[width + 5]),
            service_sum=float(row[width + 6]),
            service_max=None if row[width + 7] is None else float(row[width + 7]),
            wait_histogram=[int(value) for value in numbers[:HISTOGRAM_BUCKETS]],
            service_histogram=[int(value) for value in numbers[HISTOGRAM_BUCKETS:]],
        )
    return result


def _rolled_keys(
    session: Session, table: Any, bucket: str | None, group_by: str | None
) -> list[Any]:
    keys: list[Any] = []
    if bucket is not None:
        keys.append(_bucket(session, table.c.day, bucket))
    if group_by is not None:
        keys.append(
            {
                "window": table.c.window_id,
                "clerk": table.c.staff_id,
                "department": table.c.department_id,
                "hall": table.c.hall_id,
            }[group_by]
        )
    return keys


def _rolled_scope(table: Any, ranges: Sequence[DayRange], scope: Scope) -> list[Any]:
    conditions: list[Any] = [_days_condition(table.c.day, ranges)]
    if scope.hall_id is not None:
        conditions.append(table.c.hall_id == scope.hall_id)
    if scope.department_id is not None:
        conditions.append(table.c.department_id == scope.department_id)
    return conditions


def _rolled_case_figures(
    session: Session,
    bucket: str | None,
    group_by: str | None,
    ranges: Sequence[DayRange],
    scope: Scope,
) -> dict[tuple[Any, ...], CaseFigures]:
    keys = _rolled_keys(session, case_days, bucket, group_by)
    statement = select(*keys, func.sum(case_days.c.completed), func.sum(case_days.c.on_time)).where(
        *_rolled_scope(case_days, ranges, scope)
    )
    if keys:
        statement = statement.group_by(*keys)
    width = len(keys)
    return {
        _norm(tuple(row[:width])): CaseFigures(
            completed=int(row[width]), on_time=int(row[width + 1])
        )
        for row in session.execute(statement)
        if row[width] is not None
    }


def _rolled_rating_counts(
    session: Session,
    bucket: str | None,
    group_by: str | None,
    ranges: Sequence[DayRange],
    scope: Scope,
) -> dict[tuple[Any, ...], RatingCounts]:
    keys = _rolled_keys(session, rating_days, bucket, group_by)
    table = rating_days.c
    statement = select(
        *keys,
        *(func.sum(table[f"level{level}"]) for level in range(1, 6)),
        func.sum(table.voided),
        func.sum(table.rectifications),
        func.sum(table.rectified),
        func.sum(table.bad_called_back),
        func.sum(table.bad_rectified),
    ).where(*_rolled_scope(rating_days, ranges, scope))
    if keys:
        statement = statement.group_by(*keys)
    width = len(keys)
    result: dict[tuple[Any, ...], RatingCounts] = {}
    for row in session.execute(statement):
        if row[width] is None:
            continue
        result[_norm(tuple(row[:width]))] = RatingCounts.from_columns(row[width:])
    return result


def rating_counts(
    session: Session, period: Period, group_by: str, scope: Scope, today: date
) -> dict[Any, RatingCounts]:
    """Rating counts per group (voided ones included in ``voided``), from the
    roll-ups where they cover the period: the 好差评 table of the reports
    (backend.services.reporting's definitions, without a pass over the ratings)."""
    _check_group(group_by)
    rolled, raw = split_period(session, period, today)
    counts = _rolled_rating_counts(session, None, group_by, rolled, scope) if rolled else {}
    if raw:
        _merge(counts, raw_rating_counts(session, [("g", _rating_key(group_by))], raw, scope))
    return {key[0]: value for key, value in counts.items()}


def _merge(target: dict[tuple[Any, ...], Any], source: dict[tuple[Any, ...], Any]) -> None:
    for key, figures in source.items():
        key = _norm(key)
        if key in target:
            target[key].add(figures)
        else:
            target[key] = figures


def _figures(
    session: Session,
    period: Period,
    bucket: str | None,
    group_by: str | None,
    scope: Scope,
    today: date,
) -> tuple[
    dict[tuple[Any, ...], dict[str, Any]],
    dict[tuple[Any, ...], dict[str, Any]],
    dict[tuple[Any, ...], dict[str, Any]],
]:
    """(ticket, case, rating) metrics per key -- key = (bucket?, group?).

    Without any rolled-up day in the period this is the exact raw computation
    (percentile_cont). Otherwise the rolled-up days are summed from the
    roll-up tables, the other days aggregated raw into the same additive
    shape, and p90 comes from the merged histogram."""
    ticket_keys: list[tuple[str, Any]] = []
    case_keys: list[tuple[str, Any]] = []
    rating_keys: list[tuple[str, Any]] = []
    if bucket is not None:
        ticket_keys.append(("b", _bucket(session, Ticket.service_day, bucket)))
        case_keys.append(("b", _bucket(session, _local_date(session, Case.completed_at), bucket)))
        rating_keys.append(("b", _bucket(session, _local_date(session, Rating.rated_at), bucket)))
    if group_by is not None:
        ticket_keys.append(("g", _ticket_key(group_by)))
        case_keys.append(("g", _case_key(group_by)))
        rating_keys.append(("g", _rating_key(group_by)))
    rolled, raw = split_period(session, period, today)
    if not rolled:
        return (
            ticket_metrics(session, period, ticket_keys, scope),
            case_metrics(session, period, case_keys, scope, today, bucket),
            rating_metrics(session, period, rating_keys, scope),
        )
    tickets = _rolled_ticket_figures(session, bucket, group_by, rolled, scope)
    cases = _rolled_case_figures(session, bucket, group_by, rolled, scope)
    ratings = _rolled_rating_counts(session, bucket, group_by, rolled, scope)
    if raw:
        _merge(
            tickets,
            raw_ticket_figures(
                session, ticket_keys, [_days_condition(Ticket.service_day, raw)], scope
            ),
        )
        _merge(cases, raw_case_figures(session, case_keys, raw, scope))
        _merge(ratings, raw_rating_counts(session, rating_keys, raw, scope))
    # Overdue during the period and not decided in it: not a daily figure, always live.
    group_keys = case_keys[1:] if bucket is not None else case_keys
    for key, count in _open_overdue(session, period, group_keys, scope, today, bucket).items():
        key = _norm(key)
        cases.setdefault(key, CaseFigures()).open_overdue += count
    return (
        {key: figures.metrics() for key, figures in tickets.items() if figures.issued},
        {
            key: figures.metrics()
            for key, figures in cases.items()
            if figures.completed or figures.open_overdue
        },
        {key: counts.metrics() for key, counts in ratings.items() if counts.valid},
    )


# --------------------------------------------------------------------------- reports


def _names(session: Session, group_by: str, ids: set[Any]) -> dict[Any, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    if group_by == "department":
        rows = session.execute(select(Department.id, Department.name).where(Department.id.in_(ids)))
    elif group_by == "window":
        rows = session.execute(
            select(Window.id, Window.number + " " + Window.name).where(Window.id.in_(ids))
        )
    elif group_by == "clerk":
        rows = session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids)))
    else:
        from backend.models import Hall

        rows = session.execute(select(Hall.id, Hall.name).where(Hall.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


EMPTY_TICKETS = {
    "tickets_issued": 0,
    "tickets_served": 0,
    "avg_wait_seconds": None,
    "p90_wait_seconds": None,
    "avg_service_seconds": None,
    "p90_service_seconds": None,
}
EMPTY_CASES = {
    "cases_completed": 0,
    "cases_on_time": 0,
    "cases_late": 0,
    "cases_open_overdue": 0,
    "on_time_rate": None,
}
EMPTY_RATINGS = {
    "ratings": 0,
    "ratings_good": 0,
    "ratings_bad": 0,
    "satisfaction": None,
    "rectifications": 0,
    "rectified": 0,
    "rectification_rate": None,
}


def _check_group(group_by: str) -> None:
    if group_by not in GROUPS:
        raise BadInput(f"group_by 只能是 {', '.join(GROUPS)} / invalid group_by", group_by=group_by)


def summary(
    session: Session,
    period: Period,
    group_by: str,
    scope: Scope,
    today: date,
    with_names: bool = True,
) -> dict[str, Any]:
    """All metrics and the score per group for one period."""
    _check_group(group_by)
    tickets, cases, ratings = _figures(session, period, None, group_by, scope, today)
    keys = {k[0] for k in (*tickets, *cases, *ratings)}
    names = _names(session, group_by, keys) if with_names else {}
    rows = []
    for key in sorted(keys, key=lambda k: (k is None, str(k))):
        metrics = {
            **EMPTY_TICKETS,
            **EMPTY_CASES,
            **EMPTY_RATINGS,
            **tickets.get((key,), {}),
            **cases.get((key,), {}),
            **ratings.get((key,), {}),
        }
        rows.append(
            {
                "id": key,
                "name": names.get(key, "未指定" if key is None else str(key)),
                **metrics,
                "score": score(metrics),
                "data": measured(metrics),
            }
        )
    return {"period": period.as_json(), "group_by": group_by, "weights": WEIGHTS, "items": rows}


def ranking(
    session: Session, period: Period, group_by: str, scope: Scope, today: date
) -> dict[str, Any]:
    """横向: groups ranked by score in ``period``; 纵向: each group's score and
    rank in the previous period of the same kind, and the change.

    Only groups with enough data (:func:`measured`) are ranked, in ``items``;
    the others are listed apart in ``insufficient`` (数据不足) with their
    figures and what they lack, and have no rank -- in either period."""
    current = summary(session, period, group_by, scope, today)
    before_period = previous_period(period)
    before = summary(session, before_period, group_by, scope, today, with_names=False)
    previous_rank = _ranks(before["items"])
    previous_score = {item["id"]: item["score"] for item in before["items"]}
    ranks = _ranks(current["items"])
    items = []
    insufficient = []
    for item in sorted(current["items"], key=lambda i: (ranks.get(i["id"], 10**9), i["name"])):
        if item["id"] is None:
            continue
        old_score = previous_score.get(item["id"])
        row = {
            "rank": ranks.get(item["id"]),
            "id": item["id"],
            "name": item["name"],
            "score": item["score"],
            "previous_rank": previous_rank.get(item["id"]),
            "previous_score": old_score,
            "score_change": round(item["score"] - old_score, 2)
            if item["score"] is not None and old_score is not None
            else None,
            "data": item["data"],
            "metrics": {k: v for k, v in item.items() if k not in ("id", "name", "score", "data")},
        }
        (items if row["rank"] is not None else insufficient).append(row)
    return {
        "period": current["period"],
        "previous_period": before_period.as_json(),
        "group_by": group_by,
        "weights": WEIGHTS,
        "minimum": {"sample": MIN_SAMPLE, "measured_weight": MIN_MEASURED_WEIGHT},
        "items": items,
        "insufficient": insufficient,
    }


def _ranks(items: list[dict[str, Any]]) -> dict[Any, int]:
    """Competition ranking (1, 2, 2, 4) by score of the groups with enough data;
    groups without a score or with too little data are unranked."""
    scored = sorted(
        (
            i
            for i in items
            if i["score"] is not None and i["id"] is not None and i["data"]["enough_data"]
        ),
        key=lambda i: -i["score"],
    )
    ranks: dict[Any, int] = {}
    for position, item in enumerate(scored, start=1):
        if position > 1 and item["score"] == scored[position - 2]["score"]:
            ranks[item["id"]] = ranks[scored[position - 2]["id"]]
        else:
            ranks[item["id"]] = position
    return ranks


def heatmap(
    session: Session, period: Period, scope: Scope, today: date | None = None
) -> dict[str, Any]:
    """Tickets issued and average wait by ISO weekday (1 = Monday) and local hour.

    ``today`` (hall-local) decides which days may come from the roll-ups; it
    defaults to the wall clock's date in the hall."""
    if today is None:
        today = datetime.now(UTC).astimezone(hall_zone(HALL_TIMEZONE)).date()
    rolled, raw = split_period(session, period, today)
    totals: dict[tuple[int, int], list[float]] = {}  # (weekday, hour) -> tickets, called, sum
    if rolled:
        table = heat_days.c
        statement = select(
            table.weekday,
            table.hour,
            func.sum(table.tickets),
            func.sum(table.wait_count),
            func.sum(table.wait_sum),
        ).where(_days_condition(table.day, rolled))
        if scope.hall_id is not None:
            statement = statement.where(table.hall_id == scope.hall_id)
        if scope.department_id is not None:
            statement = statement.join(Staff, Staff.id == table.staff_id).where(
                Staff.department_id == scope.department_id
            )
        for row in session.execute(statement.group_by(table.weekday, table.hour)):
            totals[(int(row[0]), int(row[1]))] = [float(row[2]), float(row[3]), float(row[4])]
    if raw:
        keys = _heat_keys(session)
        for row in _raw_heat(session, keys, _days_condition(Ticket.service_day, raw), scope):
            cell = totals.setdefault((int(row[0]), int(row[1])), [0.0, 0.0, 0.0])
            cell[0] += float(row[2])
            cell[1] += float(row[3])
            cell[2] += float(row[4] or 0.0)
    cells = [
        {
            "weekday": weekday,
            "hour": hour,
            "tickets": int(numbers[0]),
            "avg_wait_seconds": _round(numbers[2] / numbers[1]) if numbers[1] else None,
        }
        for (weekday, hour), numbers in totals.items()
    ]
    cells.sort(key=lambda cell: (cell["weekday"], cell["hour"]))
    return {"period": period.as_json(), "cells": cells}


def _heat_keys(session: Session) -> list[tuple[str, Any]]:
    """ISO weekday and hour of the hall-local issue time."""
    local = _local(session, Ticket.issued_at)
    weekday: ColumnElement[int]
    hour: ColumnElement[int]
    if _dialect(session) == "postgresql":
        weekday = cast(func.extract("isodow", local), Integer)
        hour = cast(func.extract("hour", local), Integer)
    else:
        weekday = (cast(func.strftime("%w", local), Integer) + 6) % 7 + 1
        hour = cast(func.strftime("%H", local), Integer)
    return [("weekday", weekday), ("hour", hour)]


def _raw_heat(session: Session, keys: Sequence[tuple[str, Any]], where: Any, scope: Scope) -> Any:
    """Per key (ending in weekday, hour): tickets, called tickets, waiting sum."""
    wait = _seconds(session, Ticket.called_at, Ticket.issued_at)
    statement = select(
        *[expression.label(name) for name, expression in keys],
        func.count(),
        func.count(wait),
        func.sum(wait),
    ).where(where)
    if scope.hall_id is not None:
        statement = statement.where(Ticket.hall_id == scope.hall_id)
    if scope.department_id is not None:
        statement = statement.join(Staff, Staff.id == Ticket.staff_id).where(
            Staff.department_id == scope.department_id
        )
    return session.execute(statement.group_by(*[expression for _, expression in keys]))


def trend(
    session: Session,
    period: Period,
    bucket: str,
    scope: Scope,
    today: date,
    group_by: str = "hall",
    group_id: int | None = None,
) -> dict[str, Any]:
    """Trend lines per day/week/month inside ``period`` for the whole scope or
    one group: served, waiting (avg and p90), on-time rate, satisfaction, score."""
    if bucket not in BUCKETS:
        raise BadInput(f"bucket 只能是 {', '.join(BUCKETS)} / invalid bucket", bucket=bucket)
    _check_group(group_by)
    key_group: str | None = None
    tickets_scope = scope
    if group_id is not None and group_by != "hall":
        key_group = group_by  # one group's line: an extra key column that is then filtered
    elif group_id is not None:
        tickets_scope = Scope(hall_id=group_id, department_id=scope.department_id)
    tickets, cases, ratings = _figures(session, period, bucket, key_group, tickets_scope, today)

    def pick(data: dict[tuple[Any, ...], dict[str, Any]]) -> dict[str, dict[str, Any]]:
        picked: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            if len(key) == 2 and key[1] != group_id:
                continue
            if key[0] is None:
                continue
            picked[_iso(key[0])] = value
        return picked

    by_ticket, by_case, by_rating = pick(tickets), pick(cases), pick(ratings)
    # A bucket in which nothing was served, rated or decided (a weekend day) has
    # no point, even though the cases overdue then count against it.
    active = {label for label, value in by_case.items() if value["cases_completed"]}
    points = []
    for label in sorted(set(by_ticket) | active | set(by_rating)):
        metrics = {
            **EMPTY_TICKETS,
            **EMPTY_CASES,
            **EMPTY_RATINGS,
            **by_ticket.get(label, {}),
            **by_case.get(label, {}),
            **by_rating.get(label, {}),
        }
        points.append({"bucket": label, **metrics, "score": score(metrics)})
    return {
        "period": period.as_json(),
        "bucket": bucket,
        "group_by": group_by,
        "group_id": group_id,
        "points": points,
    }


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


__all__ = [
    "GROUPS",
    "MIN_MEASURED_WEIGHT",
    "MIN_SAMPLE",
    "WEIGHTS",
    "Period",
    "Scope",
    "case_metrics",
    "heatmap",
    "measured",
    "on_time_rate",
    "parse_period",
    "previous_period",
    "ranking",
    "rating_counts",
    "rating_metrics",
    "score",
    "split_period",
    "summary",
    "ticket_metrics",
    "trend",
]
