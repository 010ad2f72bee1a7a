"""What a performance report contains, gathered once and rendered by each format.

The figures come from backend.services.performance (ranking = 横向 and 纵向,
the hall totals, the waiting heat map, the rating counts per department) with
the 好差评 rates of backend.services.reporting (RatingFigures); nothing is
computed here that the services do not already define, so a report and the
pages always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Department, Hall
from backend.services import performance, reporting

GROUP_LABELS = {"department": "部门", "window": "窗口", "clerk": "工作人员", "hall": "大厅"}
PERIOD_KIND_LABELS = {
    "year": "年度",
    "quarter": "季度",
    "month": "月度",
    "week": "周",
    "day": "日",
    "range": "期间",
}
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
INSUFFICIENT_LABEL = "数据不足"
# The hours shown in the heat map: the hall's issuing hours with a margin.
HEAT_HOURS = tuple(range(8, 18))


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str  # int / minutes / percent / score / text / change


# The ranking table, in every format. Seconds are shown as minutes: that is how
# the hall talks about waiting ("等了二十分钟").
COLUMNS: tuple[Column, ...] = (
    Column("rank", "名次", "int"),
    Column("name", "名称", "text"),
    Column("score", "得分", "score"),
    Column("previous_rank", "上期名次", "int"),
    Column("score_change", "得分变化", "change"),
    Column("tickets_served", "办结号票", "int"),
    Column("avg_wait_seconds", "平均等候(分)", "minutes"),
    Column("p90_wait_seconds", "P90等候(分)", "minutes"),
    Column("avg_service_seconds", "平均办理(分)", "minutes"),
    Column("p90_service_seconds", "P90办理(分)", "minutes"),
    Column("cases_completed", "办结办件", "int"),
    Column("cases_on_time", "按时办结", "int"),
    Column("cases_late", "逾期办结", "int"),
    Column("cases_open_overdue", "超期未结", "int"),
    Column("on_time_rate", "按时率", "percent"),
    Column("ratings", "评价数", "int"),
    Column("satisfaction", "满意率", "percent"),
    Column("ratings_bad", "差评", "int"),
    Column("rectification_rate", "整改率", "percent"),
)

RATING_COLUMNS: tuple[Column, ...] = (
    Column("name", "部门", "text"),
    Column("total", "有效评价", "int"),
    Column("satisfied", "满意(≥基本满意)", "int"),
    Column("satisfaction_rate", "满意率", "percent"),
    Column("bad", "差评", "int"),
    Column("called_back", "已回访", "int"),
    Column("callback_rate", "回访率", "percent"),
    Column("rectified", "已整改", "int"),
    Column("rectification_rate", "整改率", "percent"),
)


@dataclass
class PerformanceReport:
    title: str
    hall_name: str
    scope_label: str
    period: performance.Period
    previous_period: performance.Period
    group_by: str
    generated_at: datetime
    weights: dict[str, float]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    ratings: list[dict[str, Any]]
    ratings_total: dict[str, Any]
    # heat[weekday 1..7][hour] = (tickets, average wait in seconds or None)
    heat: dict[int, dict[int, tuple[int, float | None]]] = field(default_factory=dict)

    @property
    def group_label(self) -> str:
        return GROUP_LABELS.get(self.group_by, self.group_by)

    @property
    def period_text(self) -> str:
        kind = PERIOD_KIND_LABELS.get(self.period.kind, "")
        return (
            f"{kind} {self.period.label}（{self.period.start.isoformat()} 至 "
            f"{self.period.end.isoformat()}）"
        )

    @property
    def filename_stem(self) -> str:
        return f"performance-{self.period.label.replace('..', '_')}-{self.group_by}"

    def heat_hours(self) -> tuple[int, ...]:
        hours = {hour for cells in self.heat.values() for hour in cells}
        return tuple(sorted(hours | set(HEAT_HOURS)))


def build_report(
    session: Session,
    *,
    hall_id: int,
    department_id: int | None,
    period: performance.Period,
    group_by: str,
    today: date,
    now: datetime,
) -> PerformanceReport:
    """Everything one report shows, for one hall (and one department for a lead)."""
    scope = performance.Scope(hall_id=hall_id, department_id=department_id)
    ranked = performance.ranking(session, period, group_by, scope, today)
    hall_summary = performance.summary(session, period, "hall", scope, today, with_names=False)
    totals = hall_summary["items"][0] if hall_summary["items"] else {}
    rows = [
        {
            "rank": item["rank"],
            "name": item["name"],
            "score": item["score"],
            "previous_rank": item["previous_rank"],
            "score_change": item["score_change"],
            **item["metrics"],
        }
        for item in ranked["items"]
    ]
    # Groups with too little data follow the ranking, marked and without a
    # score: their figures are shown, never a place above those ranked.
    rows += [
        {
            **item["metrics"],
            "rank": INSUFFICIENT_LABEL,
            "name": item["name"],
            "score": None,
            "previous_rank": item["previous_rank"],
            "score_change": None,
        }
        for item in ranked["insufficient"]
    ]
    rating_groups, rating_total = rating_table(session, period, scope, today)
    heat: dict[int, dict[int, tuple[int, float | None]]] = {}
    for cell in performance.heatmap(session, period, scope, today)["cells"]:
        heat.setdefault(cell["weekday"], {})[cell["hour"]] = (
            cell["tickets"],
            cell["avg_wait_seconds"],
        )
    hall_name = session.execute(select(Hall.name).where(Hall.id == hall_id)).scalar_one()
    scope_label = "全部部门"
    if department_id is not None:
        scope_label = (
            session.execute(
                select(Department.name).where(Department.id == department_id)
            ).scalar_one_or_none()
            or "—"
        )
    return PerformanceReport(
        title=f"{hall_name}绩效评估报表",
        hall_name=hall_name,
        scope_label=scope_label,
        period=period,
        previous_period=performance.previous_period(period),
        group_by=group_by,
        generated_at=now,
        weights=dict(performance.WEIGHTS),
        rows=rows,
        totals=totals,
        ratings=[{**group, "name": group.get("name") or "未指定"} for group in rating_groups],
        ratings_total=rating_total,
        heat=heat,
    )


def rating_table(
    session: Session, period: performance.Period, scope: performance.Scope, today: date
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The 好差评 table by department, shaped and defined exactly as
    reporting.rating_report(group_by="department") (groups sorted by department
    code, then the total), but counted from the daily roll-ups where they
    cover the period: a year's report need not read half a million ratings."""
    counts = performance.rating_counts(session, period, "department", scope, today)
    ids = [key for key in counts if key is not None]
    departments = {
        row[0]: (row[1], row[2])
        for row in session.execute(
            select(Department.id, Department.code, Department.name).where(Department.id.in_(ids))
        )
    }
    groups: list[tuple[dict[str, Any], reporting.RatingFigures]] = []
    for key, item in counts.items():
        code, name = departments.get(key, (None, ""))
        figures = reporting.RatingFigures(
            valid=item.valid,
            levels={level: item.levels[level - 1] for level in range(1, 6)},
            voided=item.voided,
            called_back=item.bad_called_back,
            rectified=item.bad_rectified,
        )
        groups.append(({"key": key, "code": code, "name": name or ""}, figures))
    groups.sort(key=lambda group: (group[0]["code"] is None, str(group[0]["code"] or "")))
    total = reporting.RatingFigures.add([figures for _label, figures in groups])
    return [{**label, **figures.as_json()} for label, figures in groups], total.as_json()


def cell_value(column: Column, row: dict[str, Any]) -> Any:
    """The value as a number a spreadsheet can compute with (minutes, 0-1 rates)."""
    value = row.get(column.key)
    if value is None:
        return None
    if column.kind == "minutes":
        return round(float(value) / 60.0, 1)
    return value


def cell_text(column: Column, row: dict[str, Any]) -> str:
    """The value as printed (HTML and PDF)."""
    value = cell_value(column, row)
    if value is None:
        return "—"
    if column.kind == "percent":
        return f"{100.0 * float(value):.1f}%"
    if column.kind == "minutes":
        return f"{value:.1f}"
    if column.kind == "score":
        return f"{float(value):.2f}"
    if column.kind == "change":
        return f"{float(value):+.2f}"
    return str(value)


def weight_text() -> str:
    """The score formula in words, from the service's own constants."""
    w = performance.WEIGHTS
    return (
        f"得分 = {w['satisfaction']:.2f}×满意率 + {w['on_time']:.2f}×按时办结率 + "
        f"{w['waiting']:.2f}×等候得分 + {w['rectification']:.2f}×整改率（各项按百分制）；"
        f"等候得分：P90 等候 ≤ {performance.WAIT_FULL_MINUTES:g} 分钟为 100，"
        f"≥ {performance.WAIT_ZERO_MINUTES:g} 分钟为 0，之间线性；"
        "无数据的项不计，其余权重按比例放大。"
        f"数据少于 {performance.MIN_SAMPLE} 条的项不算已计量；已计量项的权重合计不足 "
        f"{performance.MIN_MEASURED_WEIGHT:g} 的不参与排名，列为“{INSUFFICIENT_LABEL}”；"
        "超期未办结的办件计入其超期的每个期间的按时办结率。"
    )
