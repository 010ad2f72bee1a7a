"""好差评 reporting: satisfaction and follow-up rates, and the national data export.

Definitions (GB/T 39735-2020 practice, 国办发〔2019〕51号):

- 满意度 (satisfaction rate) = (非常满意 + 满意 + 基本满意) / valid ratings.
- 差评 = 不满意 + 非常不满意. 回访率 (callback rate) = bad ratings with a recorded
  callback / bad ratings; 整改率 (rectification rate) = bad ratings whose
  rectification reached `rectified` or `closed` / bad ratings.
- Voided ratings (appeal upheld) are excluded from every rate and counted
  separately as `voided`; nothing is ever deleted.

Every figure comes from one GROUP BY query (conditional sums), written with
SQLAlchemy expressions that mean the same on SQLite and PostgreSQL; only the
day/month bucket needs a dialect-specific expression.

Privacy: the reports and the export name the rated clerk (the managers who read
them supervise that clerk) but never the rater: no ticket holder, applicant,
device, or free-text note (which may contain a phone number).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement as Expr

from backend.errors import BadInput
from backend.models import (
    Case,
    Department,
    Hall,
    MatterVersion,
    Rating,
    RatingChannel,
    RatingLevel,
    Rectification,
    RectificationState,
    Staff,
    Ticket,
    Window,
)
from hallbus.localtime import DEFAULT_TIMEZONE, hall_zone

GroupBy = Literal["window", "staff", "department", "matter", "hall", "day", "month"]
GROUP_BY_VALUES: Final[tuple[str, ...]] = (
    "window",
    "staff",
    "department",
    "matter",
    "hall",
    "day",
    "month",
)
REGION_CODE_ENV: Final = "HALLKIT_REGION_CODE"
# 行政区划代码: 6 digits (county level) or 12 (township/village level).
_REGION_CODE: Final = re.compile(r"^(\d{6}|\d{12})$")
MAX_EXPORT_ROWS: Final = 100_000

# How each channel is named in the export (评价渠道).
CHANNEL_LABELS: Final[dict[RatingChannel, str]] = {
    RatingChannel.EVALUATOR: "窗口评价器",
    RatingChannel.KIOSK: "自助终端",
    RatingChannel.PHONE: "电话",
    RatingChannel.WEB: "网上",
}

# The national 好差评 data fields, in export order, with their Chinese names.
EXPORT_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("rating_id", "评价编号"),
    ("channel", "评价渠道"),
    ("channel_name", "评价渠道名称"),
    ("service_number", "办件编号"),
    ("service_kind", "办件类型"),
    ("matter_code", "事项编码"),
    ("matter_version", "事项版本"),
    ("matter_name", "事项名称"),
    ("department_code", "部门编码"),
    ("department_name", "部门名称"),
    ("staff_no", "工作人员工号"),
    ("staff_name", "工作人员姓名"),
    ("window", "窗口"),
    ("level", "评价等级"),
    ("level_name", "评价等级名称"),
    ("reasons", "差评原因"),
    ("rated_at", "评价时间"),
    ("region_code", "行政区划代码"),
)


def region_code_setting(configured: str | None = None) -> str:
    """The hall's 行政区划代码 for exports: app setting, else environment; '' when unset."""
    value = (configured or os.environ.get(REGION_CODE_ENV, "")).strip()
    if value and not _REGION_CODE.fullmatch(value):
        raise BadInput(
            "行政区划代码须为6位或12位数字 / region code must be 6 or 12 digits", region=value
        )
    return value


@dataclass(frozen=True)
class ReportScope:
    """Which ratings the caller may see: None = no restriction."""

    department_id: int | None = None
    hall_id: int | None = None


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, from inclusive local dates."""

    first_day: date
    last_day: date
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise BadInput("结束日期早于开始日期 / 'to' is before 'from'")
        if (self.last_day - self.first_day).days > 3660:
            raise BadInput("统计区间不超过10年 / at most 10 years per report")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), hall_zone(self.timezone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        next_day = self.last_day + timedelta(days=1)
        return datetime.combine(next_day, time(), hall_zone(self.timezone)).astimezone(UTC)

    @classmethod
    def default(cls, today: date, timezone: str = DEFAULT_TIMEZONE) -> Period:
        """The current month up to today."""
        return cls(today.replace(day=1), today, timezone)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class RatingFigures:
    valid: int
    levels: dict[int, int]
    voided: int
    called_back: int
    rectified: int

    @property
    def satisfied(self) -> int:
        return sum(self.levels[level] for level in (5, 4, 3))

    @property
    def bad(self) -> int:
        return self.levels[2] + self.levels[1]

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.valid,
            "voided": self.voided,
            "levels": [
                {
                    "level": level,
                    "label": RatingLevel(level).label,
                    "count": self.levels[level],
                    "share": _rate(self.levels[level], self.valid),
                }
                for level in (5, 4, 3, 2, 1)
            ],
            "satisfied": self.satisfied,
            "satisfaction_rate": _rate(self.satisfied, self.valid),
            "bad": self.bad,
            "called_back": self.called_back,
            "callback_rate": _rate(self.called_back, self.bad),
            "rectified": self.rectified,
            "rectification_rate": _rate(self.rectified, self.bad),
        }

    @staticmethod
    def add(items: Sequence[RatingFigures]) -> RatingFigures:
        return RatingFigures(
            valid=sum(i.valid for i in items),
            levels={lv: sum(i.levels[lv] for i in items) for lv in (5, 4, 3, 2, 1)},
            voided=sum(i.voided for i in items),
            called_back=sum(i.called_back for i in items),
            rectified=sum(i.rectified for i in items),
        )


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _bucket(session: Session, group_by: GroupBy, period: Period) -> Expr[str]:
    """Local day or month of rated_at, as text, in the dialect at hand."""
    fmt_sqlite, fmt_pg = ("%Y-%m-%d", "YYYY-MM-DD") if group_by == "day" else ("%Y-%m", "YYYY-MM")
    if session.get_bind().dialect.name == "postgresql":
        local = func.timezone(period.timezone, Rating.rated_at)
        return func.to_char(local, fmt_pg)
    # SQLite stores UTC without offset; the hall's zone has no daylight saving in China,
    # so one offset (taken at the period start) holds for the whole period.
    offset = hall_zone(period.timezone).utcoffset(datetime.combine(period.first_day, time()))
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.strftime(fmt_sqlite, Rating.rated_at, f"{minutes:+d} minutes")


def _group_columns(
    session: Session, group_by: GroupBy, period: Period
) -> tuple[list[Any], list[Any], list[tuple[type[Any], Any]]]:
    """(key/label columns in the SELECT, GROUP BY columns, outer joins)."""
    if group_by == "window":
        columns = [
            Rating.window_id.label("key"),
            func.max(Window.number).label("code"),
            func.max(Window.name).label("name"),
        ]
        return columns, [Rating.window_id], [(Window, Window.id == Rating.window_id)]
    if group_by == "staff":
        columns = [
            Rating.staff_id.label("key"),
            func.max(Staff.employee_no).label("code"),
            func.max(Staff.name).label("name"),
        ]
        return columns, [Rating.staff_id], [(Staff, Staff.id == Rating.staff_id)]
    if group_by == "department":
        columns = [
            Rating.department_id.label("key"),
            func.max(Department.code).label("code"),
            func.max(Department.name).label("name"),
        ]
        return (
            columns,
            [Rating.department_id],
            [(Department, Department.id == Rating.department_id)],
        )
    if group_by == "matter":
        columns = [
            Rating.matter_code.label("key"),
            Rating.matter_code.label("code"),
            func.max(MatterVersion.name).label("name"),
        ]
        matter_join: tuple[type[Any], Any] = (
            MatterVersion,
            MatterVersion.id == Rating.matter_version_id,
        )
        return columns, [Rating.matter_code], [matter_join]
    if group_by == "hall":
        columns = [
            Rating.hall_id.label("key"),
            func.max(Hall.code).label("code"),
            func.max(Hall.name).label("name"),
        ]
        return columns, [Rating.hall_id], [(Hall, Hall.id == Rating.hall_id)]
    bucket = _bucket(session, group_by, period)
    columns = [bucket.label("key"), bucket.label("code"), literal("").label("name")]
    return columns, [bucket], []


def _scope_filters(scope: ReportScope, period: Period) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = [
        Rating.rated_at >= period.start,
        Rating.rated_at < period.end,
    ]
    if scope.department_id is not None:
        filters.append(Rating.department_id == scope.department_id)
    if scope.hall_id is not None:
        filters.append(Rating.hall_id == scope.hall_id)
    return filters


def rating_report(
    session: Session, *, group_by: GroupBy, period: Period, scope: ReportScope
) -> dict[str, Any]:
    """Rates per group and in total, from one aggregate query."""
    if group_by not in GROUP_BY_VALUES:
        raise BadInput(f"group_by 须为 {'|'.join(GROUP_BY_VALUES)}", group_by=group_by)
    valid = Rating.voided.is_(False)
    bad = and_(valid, Rating.level <= RatingLevel.DISSATISFIED.value)
    done = (RectificationState.RECTIFIED, RectificationState.CLOSED)
    columns, group_columns, joins = _group_columns(session, group_by, period)
    statement = select(
        *columns,
        _count(valid).label("valid"),
        *(_count(and_(valid, Rating.level == level)).label(f"l{level}") for level in range(1, 6)),
        _count(Rating.voided.is_(True)).label("voided"),
        _count(and_(bad, Rectification.callback_at.is_not(None))).label("called_back"),
        _count(and_(bad, Rectification.state.in_(done))).label("rectified"),
    ).select_from(Rating)
    statement = statement.outerjoin(Rectification, Rectification.rating_id == Rating.id)
    for target, on in joins:
        statement = statement.outerjoin(target, on)
    statement = statement.where(*_scope_filters(scope, period)).group_by(*group_columns)

    groups: list[tuple[dict[str, Any], RatingFigures]] = []
    for row in session.execute(statement):
        figures = RatingFigures(
            valid=int(row.valid),
            levels={level: int(getattr(row, f"l{level}")) for level in range(1, 6)},
            voided=int(row.voided),
            called_back=int(row.called_back),
            rectified=int(row.rectified),
        )
        label = {"key": row.key, "code": row.code, "name": row.name or ""}
        groups.append((label, figures))
    groups.sort(key=lambda item: (item[0]["code"] is None, str(item[0]["code"] or "")))
    total = RatingFigures.add([figures for _label, figures in groups])
    return {
        "group_by": group_by,
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "timezone": period.timezone,
        "total": total.as_json(),
        "groups": [{**label, **figures.as_json()} for label, figures in groups],
    }


# ------------------------------------------------------------------------ export


def export_rows(
    session: Session, *, period: Period, scope: ReportScope, region_code: str
) -> Iterator[dict[str, Any]]:
    """One dict per valid rating, in the national 好差评 field set (see EXPORT_FIELDS)."""
    zone = hall_zone(period.timezone)
    statement = (
        # Columns, not Rating objects: exports run to tens of thousands of rows.
        select(
            Rating.rating_uid,
            Rating.channel,
            Rating.matter_code,
            Rating.matter_version,
            Rating.level,
            Rating.reasons,
            Rating.rated_at,
            Case.receipt_number,
            Ticket.service_day,
            Ticket.display,
            MatterVersion.name.label("matter_name"),
            Department.code.label("department_code"),
            Department.name.label("department_name"),
            Staff.employee_no.label("staff_no"),
            Staff.name.label("staff_name"),
            Window.number.label("window"),
        )
        .select_from(Rating)
        .outerjoin(Case, Case.id == Rating.case_id)
        .outerjoin(Ticket, Ticket.id == Rating.ticket_id)
        .outerjoin(MatterVersion, MatterVersion.id == Rating.matter_version_id)
        .outerjoin(Department, Department.id == Rating.department_id)
        .outerjoin(Staff, Staff.id == Rating.staff_id)
        .outerjoin(Window, Window.id == Rating.window_id)
        .where(Rating.voided.is_(False), *_scope_filters(scope, period))
        .order_by(Rating.rated_at, Rating.id)
        .limit(MAX_EXPORT_ROWS)
    )
    for row in session.execute(statement):
        receipt, service_day, ticket = row.receipt_number, row.service_day, row.display
        if receipt:
            service_number, service_kind = receipt, "case"
        elif ticket and service_day:
            service_number, service_kind = f"{service_day:%Y%m%d}-{ticket}", "ticket"
        else:
            service_number, service_kind = "", ""
        yield {
            "rating_id": row.rating_uid,
            "channel": row.channel.value,
            "channel_name": CHANNEL_LABELS.get(row.channel, row.channel.value),
            "service_number": service_number,
            "service_kind": service_kind,
            "matter_code": row.matter_code,
            "matter_version": row.matter_version,
            "matter_name": row.matter_name or "",
            "department_code": row.department_code or "",
            "department_name": row.department_name or "",
            "staff_no": row.staff_no or "",
            "staff_name": row.staff_name or "",
            "window": row.window or "",
            "level": row.level,
            "level_name": RatingLevel(row.level).label,
            "reasons": "；".join(row.reasons or []),
            "rated_at": row.rated_at.astimezone(zone).isoformat(timespec="seconds"),
            "region_code": region_code,
        }


def rows_as_csv(rows: Iterator[dict[str, Any]]) -> str:
    """CSV with a BOM (Excel in China opens UTF-8 correctly only with it) and the field
    keys as header; EXPORT_FIELDS (and the JSON export) give their Chinese names."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([key for key, _zh in EXPORT_FIELDS])
    for row in rows:
        writer.writerow(["" if row[key] is None else row[key] for key, _zh in EXPORT_FIELDS])
    return buffer.getvalue()
