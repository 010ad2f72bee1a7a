"""What a performance report contains, gathered once and rendered by each format.

The figures come from backend.services.performance (ranking = 横向 and 纵向,
the hall totals, the waiting heat map, the rating counts per department) with
the 好差评 rates of backend.services.reporting (RatingFigures); nothing is
computed here that the services do not already define, so a report and the
pages always agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Department, Hall
from backend.services import performance, reporting
from backend.texts import N_

# Every text of a report is a message id; the report renders them with its own
# ``translate`` (backend.web.i18n.translator): a page's download follows the
# page's language, and the scheduled e-mail follows its schedule's language.
Translate = Callable[[str], str]


def same_text(message: str) -> str:
    return message


GROUP_LABELS = {
    "department": N_("部门"),
    "window": N_("窗口"),
    "clerk": N_("工作人员"),
    "hall": N_("大厅"),
}
PERIOD_KIND_LABELS = {
    "year": N_("年度"),
    "quarter": N_("季度"),
    "month": N_("月度"),
    "week": N_("周"),
    "day": N_("单日"),
    "range": N_("期间"),
}
WEEKDAYS = (
    N_("星期一"), N_("星期二"), N_("星期三"), N_("星期四"),
    N_("星期五"), N_("星期六"), N_("星期日"),
)  # fmt: skip
INSUFFICIENT_LABEL = N_("数据不足")
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
    Column("rank", N_("名次"), "int"),
    Column("name", N_("名称"), "text"),
    Column("score", N_("得分"), "score"),
    Column("previous_rank", N_("上期名次"), "int"),
    Column("score_change", N_("得分变化"), "change"),
    Column("tickets_served", N_("办结号票"), "int"),
    Column("avg_wait_seconds", N_("平均等候(分)"), "minutes"),
    Column("p90_wait_seconds", N_("P90等候(分)"), "minutes"),
    Column("avg_service_seconds", N_("平均办理(分)"), "minutes"),
    Column("p90_service_seconds", N_("P90办理(分)"), "minutes"),
    Column("cases_completed", N_("办结办件"), "int"),
    Column("cases_on_time", N_("按时办结"), "int"),
    Column("cases_late", N_("逾期办结"), "int"),
    Column("cases_open_overdue", N_("超期未结"), "int"),
    Column("on_time_rate", N_("按时率"), "percent"),
    Column("ratings", N_("评价数"), "int"),
    Column("satisfaction", N_("满意率"), "percent"),
    Column("ratings_bad", N_("差评"), "int"),
    Column("rectification_rate", N_("整改率"), "percent"),
)

RATING_COLUMNS: tuple[Column, ...] = (
    Column("name", N_("部门"), "text"),
    Column("total", N_("有效评价"), "int"),
    Column("satisfied", N_("满意(≥基本满意)"), "int"),
    Column("satisfaction_rate", N_("满意率"), "percent"),
    Column("bad", N_("差评"), "int"),
    Column("called_back", N_("已回访"), "int"),
    Column("callback_rate", N_("回访率"), "percent"),
    Column("rectified", N_("已整改"), "int"),
    Column("rectification_rate", N_("整改率"), "percent"),
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
    translate: Translate = field(default=same_text, repr=False, compare=False)

    @property
    def group_label(self) -> str:
        return self.translate(GROUP_LABELS.get(self.group_by, self.group_by))

    @property
    def period_text(self) -> str:
        kind = PERIOD_KIND_LABELS.get(self.period.kind)
        return self.translate(N_("%(kind)s %(label)s（%(start)s 至 %(end)s）")) % {
            "kind": self.translate(kind) if kind else "",
            "label": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
        }

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
    translate: Translate = same_text,
) -> PerformanceReport:
    """Everything one report shows, for one hall (and one department for a lead),
    worded by ``translate``."""
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
            "rank": translate(INSUFFICIENT_LABEL),
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
    scope_label = translate(N_("全部部门"))
    if department_id is not None:
        scope_label = (
            session.execute(
                select(Department.name).where(Department.id == department_id)
            ).scalar_one_or_none()
            or "—"
        )
    return PerformanceReport(
        title=translate(N_("%(hall)s绩效评估报表")) % {"hall": hall_name},
        hall_name=hall_name,
        scope_label=scope_label,
        period=period,
        previous_period=performance.previous_period(period),
        group_by=group_by,
        generated_at=now,
        weights=dict(performance.WEIGHTS),
        rows=rows,
        totals=totals,
        ratings=[
            {**group, "name": group.get("name") or translate(N_("未指定"))}
            for group in rating_groups
        ],
        ratings_total=rating_total,
        heat=heat,
        translate=translate,
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


WEIGHT_TEXT = N_(
    "得分 = %(satisfaction).2f×满意率 + %(on_time).2f×按时办结率 + "
    "%(waiting).2f×等候得分 + %(rectification).2f×整改率（各项按百分制）；"
    "等候得分：P90 等候 ≤ %(full)g 分钟为 100，≥ %(zero)g 分钟为 0，之间线性；"
    "无数据的项不计，其余权重按比例放大。"
)
RANKING_RULE_TEXT = N_(
    "数据少于 %(sample)d 条的项不算已计量；已计量项的权重合计不足 %(weight)g 的不参与排名，"
    "列为“%(label)s”；超期未办结的办件计入其超期的每个期间的按时办结率。"
)


def weight_text(translate: Translate = same_text) -> str:
    """The score formula in words, from the service's own constants."""
    w = performance.WEIGHTS
    return translate(WEIGHT_TEXT) % {
        "satisfaction": w["satisfaction"],
        "on_time": w["on_time"],
        "waiting": w["waiting"],
        "rectification": w["rectification"],
        "full": performance.WAIT_FULL_MINUTES,
        "zero": performance.WAIT_ZERO_MINUTES,
    } + translate(RANKING_RULE_TEXT) % {
        "sample": performance.MIN_SAMPLE,
        "weight": performance.MIN_MEASURED_WEIGHT,
        "label": translate(INSUFFICIENT_LABEL),
    }
