"""电子监察 over HTTP (plan 3.1.1.1-3.1.1.2): the live hall view, alerts and
their acknowledgement, and the overdue-case list.

Who sees what: supervisors and administrators everything; a department lead
the department's cases; a clerk the cases they handle.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from pydantic import Field

from backend.api.framework import STAFF, Reply, operation, principal
from backend.api.v1.common import ext, now
from backend.api.v1.schemas import Strict
from backend.errors import BadInput, Forbidden
from backend.models import Role
from backend.models.supervision import AlertKind
from backend.services import supervision as supervision_service
from backend.services.access import Access, Resource, roles_for

blueprint = Blueprint("supervision", __name__, url_prefix="/api/v1/supervision")

HALL_VIEW_ROLES = tuple(sorted(roles_for(Resource.SUPERVISION, Access.READ)))
KIND_VALUES = tuple(kind.value for kind in AlertKind)


class AlertQuery(Strict):
    state: Literal["open", "acknowledged", "cleared"] | None = None
    kind: str | None = Field(
        default=None, description="预警/黄牌/红牌/流程异常/异常办结/收费异常/时长异常/提醒"
    )
    case_id: int | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class Acknowledge(Strict):
    note: str = Field(default="", max_length=500)


class OverdueQuery(Strict):
    limit: int = Field(default=200, ge=1, le=1000)


@operation(
    blueprint,
    "/hall/<hall>",
    "GET",
    auth=STAFF,
    roles=HALL_VIEW_ROLES,
    summary="实时监察：大厅窗口与排队 / live hall view",
)
def hall_view(hall: str) -> Reply:
    with ext().db.reading() as session:
        return supervision_service.hall_snapshot(session, hall, now())


@operation(
    blueprint,
    "/alerts",
    "GET",
    query=AlertQuery,
    auth=STAFF,
    summary="预警、黄牌、红牌与异常 / supervision alerts",
)
def alerts(query: AlertQuery) -> Reply:
    if query.kind is not None and query.kind not in KIND_VALUES:
        raise BadInput("未知的预警类别 / unknown alert kind", kind=query.kind)
    with ext().db.reading() as session:
        return supervision_service.list_alerts(
            session,
            principal(),
            state=query.state,
            kind=query.kind,
            case_id=query.case_id,
            limit=query.limit,
            offset=query.offset,
        )


@operation(
    blueprint,
    "/alerts/<int:alert_id>/acknowledge",
    "POST",
    body=Acknowledge,
    auth=STAFF,
    summary="签收预警 / acknowledge an alert",
)
def acknowledge(alert_id: int, body: Acknowledge) -> Reply:
    who = principal()
    with ext().db.writing() as session:
        alert = supervision_service.acknowledge(session, alert_id, who, now(), body.note)
        session.flush()
        return supervision_service.alert_json(alert)


@operation(
    blueprint,
    "/cases/overdue",
    "GET",
    query=OverdueQuery,
    auth=STAFF,
    summary="超期办件 / open cases past their due date",
)
def overdue(query: OverdueQuery) -> Reply:
    who = principal()
    if not who.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR, Role.DEPARTMENT_LEAD, Role.CLERK):
        raise Forbidden("没有查看权限 / your role does not allow this")
    with ext().db.reading() as session:
        return supervision_service.overdue_cases(session, who, now(), limit=query.limit)
