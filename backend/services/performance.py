"""绩效评估与决策分析 (plan 3.1.1.3 / 3.1.1.4): per window, clerk, department
or hall and per period -- tickets served, waiting and service times (average and
p90), cases on time and overdue, satisfaction, the rectification rate of bad
ratings, a weighted score with rankings across groups (横向) and across periods
(纵向), the waiting heat map and trend lines.

Every figure is aggregated in the database with GROUP BY. p90 is
``percentile_cont(0.9)`` on PostgreSQL; SQLite has no percentile function, so
the same continuous percentile is computed with ROW_NUMBER()/COUNT() window
functions (linear interpolation between the two nearest ranks, identical to
percentile_cont). The formulas and weights are documented in docs/supervision.md.

Times are hall-local (Asia/Shanghai, UTC+8 all year: China has no daylight
saving time, which is why a fixed offset is used on SQLite).
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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

HALL_TIMEZONE = "Asia/Shanghai"
UTC_OFFSET_HOURS = 8  # Asia/Shanghai, no DST
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
        zone = ZoneInfo(HALL_TIMEZONE)
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
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Decided cases (办结/发证/不予许可) of the period: on time when decided on or
    before the due date. Overdue open: still open now, due within the period and
    already past."""
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
    last_due = min(period.end, today - timedelta(days=1))
    if last_due >= period.start:
        overdue = (
            select(*[expression.label(name) for name, expression in keys], func.count())
            .where(
                Case.state.in_(OPEN_STATES),
                Case.due_on >= period.start,
                Case.due_on <= last_due,
                *filters,
            )
            .group_by(*[e for _, e in keys])
        )
        for row in session.execute(overdue):
            entry = result.setdefault(
                tuple(row[: len(keys)]),
                {
                    "cases_completed": 0,
                    "cases_on_time": 0,
                    "cases_late": 0,
                    "cases_open_overdue": 0,
                },
            )
            entry["cases_open_overdue"] = int(row[-1])
    for entry in result.values():
        entry["on_time_rate"] = _ratio(entry["cases_on_time"], entry["cases_completed"])
    return result


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
    tickets = ticket_metrics(session, period, [("g", _ticket_key(group_by))], scope)
    cases = case_metrics(session, period, [("g", _case_key(group_by))], scope, today)
    ratings = rating_metrics(session, period, [("g", _rating_key(group_by))], scope)
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
            }
        )
    return {"period": period.as_json(), "group_by": group_by, "weights": WEIGHTS, "items": rows}


def ranking(
    session: Session, period: Period, group_by: str, scope: Scope, today: date
) -> dict[str, Any]:
    """横向: groups ranked by score in ``period``; 纵向: each group's score and
    rank in the previous period of the same kind, and the change."""
    current = summary(session, period, group_by, scope, today)
    before_period = previous_period(period)
    before = summary(session, before_period, group_by, scope, today, with_names=False)
    previous_rank = _ranks(before["items"])
    previous_score = {item["id"]: item["score"] for item in before["items"]}
    ranks = _ranks(current["items"])
    items = []
    for item in sorted(current["items"], key=lambda i: ranks.get(i["id"], 10**9)):
        if item["id"] is None:
            continue
        old_score = previous_score.get(item["id"])
        items.append(
            {
                "rank": ranks.get(item["id"]),
                "id": item["id"],
                "name": item["name"],
                "score": item["score"],
                "previous_rank": previous_rank.get(item["id"]),
                "previous_score": old_score,
                "score_change": round(item["score"] - old_score, 2)
                if item["score"] is not None and old_score is not None
                else None,
                "metrics": {k: v for k, v in item.items() if k not in ("id", "name", "score")},
            }
        )
    return {
        "period": current["period"],
        "previous_period": before_period.as_json(),
        "group_by": group_by,
        "weights": WEIGHTS,
        "items": items,
    }


def _ranks(items: list[dict[str, Any]]) -> dict[Any, int]:
    """Competition ranking (1, 2, 2, 4) by score; groups without a score are unranked."""
    scored = sorted(
        (i for i in items if i["score"] is not None and i["id"] is not None),
        key=lambda i: -i["score"],
    )
    ranks: dict[Any, int] = {}
    for position, item in enumerate(scored, start=1):
        if position > 1 and item["score"] == scored[position - 2]["score"]:
            ranks[item["id"]] = ranks[scored[position - 2]["id"]]
        else:
            ranks[item["id"]] = position
    return ranks


def heatmap(session: Session, period: Period, scope: Scope) -> dict[str, Any]:
    """Tickets issued and average wait by ISO weekday (1 = Monday) and local hour."""
    local = _local(session, Ticket.issued_at)
    weekday: ColumnElement[int]
    hour: ColumnElement[int]
    if _dialect(session) == "postgresql":
        weekday = cast(func.extract("isodow", local), Integer)
        hour = cast(func.extract("hour", local), Integer)
    else:
        weekday = (cast(func.strftime("%w", local), Integer) + 6) % 7 + 1
        hour = cast(func.strftime("%H", local), Integer)
    wait = _seconds(session, Ticket.called_at, Ticket.issued_at)
    statement = select(
        weekday.label("weekday"),
        hour.label("hour"),
        func.count(),
        func.avg(case((Ticket.called_at.is_not(None), wait))),
    )
    where: list[Any] = [Ticket.service_day >= period.start, Ticket.service_day <= period.end]
    if scope.hall_id is not None:
        where.append(Ticket.hall_id == scope.hall_id)
    if scope.department_id is not None:
        statement = statement.join(Staff, Staff.id == Ticket.staff_id)
        where.append(Staff.department_id == scope.department_id)
    statement = statement.where(*where).group_by(weekday, hour)
    cells = [
        {
            "weekday": int(row[0]),
            "hour": int(row[1]),
            "tickets": int(row[2]),
            "avg_wait_seconds": _round(row[3]),
        }
        for row in session.execute(statement)
    ]
    cells.sort(key=lambda cell: (cell["weekday"], cell["hour"]))
    return {"period": period.as_json(), "cells": cells}


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
    ticket_keys = [("b", _bucket(session, Ticket.service_day, bucket))]
    case_keys = [("b", _bucket(session, _local_date(session, Case.completed_at), bucket))]
    rating_keys = [("b", _bucket(session, _local_date(session, Rating.rated_at), bucket))]
    tickets_scope = cases_scope = scope
    if group_id is not None and group_by != "hall":
        # One group's line: an extra key column that is then filtered.
        ticket_keys.append(("g", _ticket_key(group_by)))
        case_keys.append(("g", _case_key(group_by)))
        rating_keys.append(("g", _rating_key(group_by)))
    elif group_id is not None:
        tickets_scope = cases_scope = Scope(hall_id=group_id, department_id=scope.department_id)
    tickets = ticket_metrics(session, period, ticket_keys, tickets_scope)
    cases = case_metrics(session, period, case_keys, cases_scope, today)
    ratings = rating_metrics(session, period, rating_keys, cases_scope)

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
    points = []
    for label in sorted(set(by_ticket) | set(by_case) | set(by_rating)):
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
    "WEIGHTS",
    "Period",
    "Scope",
    "case_metrics",
    "heatmap",
    "parse_period",
    "previous_period",
    "ranking",
    "rating_metrics",
    "score",
    "summary",
    "ticket_metrics",
    "trend",
]
