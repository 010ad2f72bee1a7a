"""绩效评估 and 决策分析 over HTTP (plan 3.1.1.3-3.1.1.4): summary, ranking,
heat map and trend. Supervisors and administrators see every department; a
department lead only their own."""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Blueprint
from pydantic import Field
from sqlalchemy.orm import Session

from backend.api.framework import STAFF, Reply, operation, principal
from backend.api.v1.common import ext, hall_id, now
from backend.api.v1.schemas import Strict
from backend.models import Role
from backend.services import performance as performance_service
from backend.services.access import Access, Resource, roles_for
from backend.services.auth import Principal
from backend.services.supervision import DEFAULT_POLICY, local_today

blueprint = Blueprint("performance", __name__, url_prefix="/api/v1/performance")

ROLES = tuple(sorted(roles_for(Resource.PERFORMANCE, Access.READ)))  # the pages' rule
GroupBy = Literal["department", "window", "clerk", "hall"]


class PerformanceQuery(Strict):
    period: str | None = Field(
        default=None,
        max_length=40,
        description="2026 | 2026-Q4 | 2026-11 | 2026-W48 | 2026-11-26 | start..end",
    )
    group_by: GroupBy = "department"
    hall: str | None = Field(default=None, max_length=32)


class TrendQuery(PerformanceQuery):
    period: str | None = Field(
        default=None, max_length=40, description="defaults to the last twelve months"
    )
    bucket: Literal["day", "week", "month"] = "month"
    group_by: GroupBy = "hall"
    group_id: int | None = None


def _scope(session: Session, who: Principal, hall: str | None) -> performance_service.Scope:
    hid = hall_id(session, hall) if hall else None
    if who.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        return performance_service.Scope(hall_id=hid)
    return performance_service.Scope(hall_id=hid, department_id=who.department_id or -1)


def _today() -> date:
    return local_today(now(), DEFAULT_POLICY)


@operation(
    blueprint,
    "/summary",
    "GET",
    query=PerformanceQuery,
    auth=STAFF,
    roles=ROLES,
    summary="绩效汇总 / performance per group and period",
)
def summary(query: PerformanceQuery) -> Reply:
    today = _today()
    with ext().db.reading() as session:
        period = performance_service.parse_period(query.period, today)
        return performance_service.summary(
            session, period, query.group_by, _scope(session, principal(), query.hall), today
        )


@operation(
    blueprint,
    "/ranking",
    "GET",
    query=PerformanceQuery,
    auth=STAFF,
    roles=ROLES,
    summary="绩效排名（横向、纵向）/ ranking across groups and periods",
)
def ranking(query: PerformanceQuery) -> Reply:
    today = _today()
    with ext().db.reading() as session:
        period = performance_service.parse_period(query.period, today)
        return performance_service.ranking(
            session, period, query.group_by, _scope(session, principal(), query.hall), today
        )


@operation(
    blueprint,
    "/heatmap",
    "GET",
    query=PerformanceQuery,
    auth=STAFF,
    roles=ROLES,
    summary="等候热力图（星期 × 小时）/ waiting by weekday and hour",
)
def heatmap(query: PerformanceQuery) -> Reply:
    today = _today()
    with ext().db.reading() as session:
        period = performance_service.parse_period(query.period, today)
        return performance_service.heatmap(
            session, period, _scope(session, principal(), query.hall)
        )


@operation(
    blueprint,
    "/trend",
    "GET",
    query=TrendQuery,
    auth=STAFF,
    roles=ROLES,
    summary="趋势 / trend lines per day, week or month",
)
def trend(query: TrendQuery) -> Reply:
    today = _today()
    with ext().db.reading() as session:
        period = performance_service.parse_period(
            query.period or performance_service.last_twelve_months(today), today
        )
        return performance_service.trend(
            session,
            period,
            query.bucket,
            _scope(session, principal(), query.hall),
            today,
            group_by=query.group_by,
            group_id=query.group_id,
        )
