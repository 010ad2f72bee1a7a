"""事项目录: search, detail, versions, edits."""

from __future__ import annotations

from flask import Blueprint
from pydantic import ValidationError
from sqlalchemy import select

from backend.api.framework import PUBLIC, STAFF, Reply, operation, optional_principal
from backend.api.v1.common import actor_label, ext, hall_id
from backend.api.v1.schemas import Empty, HallFilter, SearchQuery
from backend.catalog.spec import MatterSpec
from backend.errors import BadInput, NotFound
from backend.models import Department, Hall
from backend.services import catalog as catalog_service
from backend.services import hall_catalog
from backend.services.access import Access, Resource

blueprint = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog")


@operation(
    blueprint,
    "/search",
    "GET",
    query=SearchQuery,
    auth=PUBLIC,
    summary="事项搜索（中文、拼音、首字母）/ catalog search by Chinese, pinyin or initials",
)
def search(query: SearchQuery) -> Reply:
    with ext().db.reading() as session:
        index = ext().search_index.get(session)
        handled = (
            hall_catalog.hall_catalog(session, hall_id(session, query.hall)).categories
            if query.hall
            else None
        )
    hits = index.search(
        query.q,
        department=query.department,
        type=query.type,
        life_event=query.life_event,
        limit=query.limit,
        codes=handled,
    )
    return {
        "query": query.q,
        "count": len(hits),
        "results": [
            {"code": h.code, "name": h.name, "score": h.score, "matched": h.matched} for h in hits
        ],
    }


@operation(
    blueprint,
    "/departments",
    "GET",
    query=HallFilter,
    auth=PUBLIC,
    summary="职能部门（可按大厅筛选）/ departments (optionally those a hall handles)",
)
def departments(query: HallFilter) -> Reply:
    with ext().db.reading() as session:
        selected = select(Department).order_by(Department.code)
        if query.hall:
            handled = hall_catalog.hall_catalog(session, hall_id(session, query.hall))
            selected = selected.where(Department.id.in_(handled.departments or {-1}))
        rows = session.execute(selected).scalars()
        return {
            "departments": [
                {"code": d.code, "name": d.name, "short_name": d.short_name, "line": d.line}
                for d in rows
            ]
        }


@operation(
    blueprint,
    "/matters/<code>",
    "GET",
    query=HallFilter,
    auth=PUBLIC,
    summary="事项详情（办事指南；可按大厅）/ matter detail (with hall: its category, windows)",
)
def matter(code: str, query: HallFilter) -> Reply:
    with ext().db.reading() as session:
        version = catalog_service.current_version(session, code)
        department = session.get(Department, version.department_id)
        assert department is not None
        detail = catalog_service.matter_detail(version, department)
        if query.hall:
            hid = hall_id(session, query.hall)
            category = hall_catalog.matter_category(session, hid, version)
            if category is None:
                raise NotFound(f"本大厅不办理事项 {code} / this hall does not handle the matter")
            detail["queue_category"] = category
            detail["windows"] = hall_catalog.category_windows(session, hid, category)
        return detail


@operation(
    blueprint,
    "/matters/<code>/versions",
    "GET",
    auth=STAFF,
    summary="事项历史版本 / versions of a matter",
)
def versions(code: str) -> Reply:
    with ext().db.reading() as session:
        rows = catalog_service.versions_of(session, code)
        if not rows:
            raise NotFound(f"事项 {code} 不存在 / unknown matter")
        return {
            "code": code,
            "versions": [
                {
                    "version": v.version,
                    "name": v.name,
                    "created_at": v.created_at.isoformat(),
                    "created_by": v.created_by,
                    "spec": v.spec,
                }
                for v in rows
            ],
        }


@operation(
    blueprint,
    "/matters/<code>",
    "PUT",
    body=MatterSpec,
    auth=STAFF,
    permission=(Resource.CATALOG, Access.WRITE),
    summary="新增或修改事项（生成新版本）/ create or edit a matter (adds a version)",
)
def put_matter(code: str, body: MatterSpec) -> Reply:
    if body.code != code:
        raise BadInput("路径中的事项编码与内容不一致 / code in path and body differ")
    with ext().db.writing() as session:
        halls = list(session.execute(select(Hall.id)).scalars())
        report = catalog_service.upsert_matters(
            session, [body], actor=actor_label(optional_principal()), hall_ids_to_notify=halls
        )
        version = catalog_service.current_version(session, code)
        return {
            "code": code,
            "version": version.version,
            "created": bool(report.created),
            "changed": bool(report.created or report.new_versions),
        }


@operation(
    blueprint,
    "/matters/<code>/withdraw",
    "POST",
    body=Empty,
    auth=STAFF,
    permission=(Resource.CATALOG, Access.WRITE),
    summary="撤销事项 / withdraw a matter from the catalog",
)
def withdraw(code: str, body: Empty) -> Reply:
    with ext().db.writing() as session:
        catalog_service.withdraw_matter(session, code, actor=actor_label(optional_principal()))
    return {"code": code, "active": False}


def validate_spec(data: object) -> MatterSpec:
    try:
        return MatterSpec.model_validate(data)
    except ValidationError as error:
        raise BadInput("事项内容不合法 / invalid matter", errors=error.errors()) from error
