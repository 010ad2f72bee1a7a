"""好差评 reports for supervisors and department leads.

GET /api/v1/reports/ratings?group_by=window|staff|department|matter|hall|day|month
    &from=YYYY-MM-DD&to=YYYY-MM-DD[&hall=BH]
GET /api/v1/reports/ratings/export.csv | export.json  (same filters)

Supervisors (电子监察) and administrators see every department; a department
lead sees only ratings of their own department; clerks see no reports (a clerk
must not learn who rated them, and per-service rows would tell).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Blueprint, Response, current_app
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.framework import STAFF, Reply, operation, principal
from backend.api.v1.common import ext, hall_id, now
from backend.errors import Forbidden
from backend.models import Hall, Role
from backend.services import reporting
from backend.services.access import Access, Resource, roles_for
from backend.services.auth import Principal
from hallbus.localtime import DEFAULT_TIMEZONE, hall_zone

blueprint = Blueprint("reports", __name__, url_prefix="/api/v1/reports")

REPORT_ROLES = tuple(sorted(roles_for(Resource.PERFORMANCE, Access.READ)))
REGION_CODE_CONFIG = "HALLKIT_REGION_CODE"


class RatingReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    group_by: Literal["window", "staff", "department", "matter", "hall", "day", "month"] = Field(
        default="window", description="分组维度 / grouping"
    )
    from_: date | None = Field(default=None, alias="from", description="起始日期（含）")
    to: date | None = Field(default=None, description="截止日期（含）")
    hall: str | None = Field(default=None, max_length=32, description="大厅编码，缺省为全部")


class RatingExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    hall: str | None = Field(default=None, max_length=32)


def _scope(session: Session, who: Principal, hall: str | None) -> tuple[reporting.ReportScope, str]:
    """What this caller may see, and the time zone the dates are read in."""
    timezone = DEFAULT_TIMEZONE
    hid = None
    if hall is not None:
        hid = hall_id(session, hall)
        found = session.execute(select(Hall.timezone).where(Hall.id == hid)).scalar_one()
        timezone = found or timezone
    if who.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        return reporting.ReportScope(hall_id=hid), timezone
    if who.has_role(Role.DEPARTMENT_LEAD) and who.department_id is not None:
        return reporting.ReportScope(department_id=who.department_id, hall_id=hid), timezone
    raise Forbidden("仅电子监察、部门负责人可查看评价报表 / reports are for supervisors and leads")


def _period(first: date | None, last: date | None, timezone: str) -> reporting.Period:
    """Defaults: from the first of the current month to today, in the hall's time."""
    today = now().astimezone(hall_zone(timezone)).date()
    return reporting.Period(first or today.replace(day=1), last or today, timezone)


@operation(
    blueprint,
    "/ratings",
    "GET",
    query=RatingReportQuery,
    auth=STAFF,
    roles=REPORT_ROLES,
    summary="好差评统计（满意度、回访率、整改率）/ rating report",
)
def ratings_report(query: RatingReportQuery) -> Reply:
    who = principal()
    with ext().db.reading() as session:
        scope, timezone = _scope(session, who, query.hall)
        period = _period(query.from_, query.to, timezone)
        return reporting.rating_report(session, group_by=query.group_by, period=period, scope=scope)


def _export(query: RatingExportQuery) -> tuple[list[dict[str, object]], reporting.Period]:
    who = principal()
    region = reporting.region_code_setting(current_app.config.get(REGION_CODE_CONFIG))
    with ext().db.reading() as session:
        scope, timezone = _scope(session, who, query.hall)
        period = _period(query.from_, query.to, timezone)
        rows = list(reporting.export_rows(session, period=period, scope=scope, region_code=region))
    return rows, period


@operation(
    blueprint,
    "/ratings/export.json",
    "GET",
    query=RatingExportQuery,
    auth=STAFF,
    roles=REPORT_ROLES,
    summary="好差评数据导出（国家字段，JSON）/ export as JSON",
)
def ratings_export_json(query: RatingExportQuery) -> Reply:
    rows, period = _export(query)
    return {
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "fields": [{"key": key, "name": name} for key, name in reporting.EXPORT_FIELDS],
        "count": len(rows),
        "items": rows,
    }


@operation(
    blueprint,
    "/ratings/export.csv",
    "GET",
    query=RatingExportQuery,
    auth=STAFF,
    roles=REPORT_ROLES,
    summary="好差评数据导出（国家字段，CSV）/ export as CSV",
)
def ratings_export_csv(query: RatingExportQuery) -> Reply:
    rows, period = _export(query)
    filename = f"ratings-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    return Response(
        reporting.rows_as_csv(iter(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
