"""事项目录: search, detail, versions, edits."""

from __future__ import annotations

from flask import Blueprint
from pydantic import ValidationError
from sqlalchemy import select

from backend.api.framework import PUBLIC, STAFF, Reply, operation, optional_principal
from backend.api.v1.common import actor_label, ext
from backend.api.v1.schemas import Empty, SearchQuery
from backend.catalog.spec import MatterSpec
from backend.errors import BadInput, NotFound
from backend.models import Department, Hall, Role
from backend.services import catalog as catalog_service

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
    hits = index.search(
        query.q,
        department=query.department,
        type=query.type,
        life_event=query.life_event,
        limit=query.limit,
    )
    return {
        "query": query.q,
        "count": len(hits),
        "results": [
            {"code": h.code, "name": h.name, "score": h.score, "matched": h.matched} for h in hits
        ],
    }


@operation(blueprint, "/departments", "GET", auth=PUBLIC, summary="职能部门 / departments")
def departments() -> Reply:
    with ext().db.reading() as session:
        rows = session.execute(select(Department).order_by(Department.code)).scalars()
        return {
            "departments": [
                {"code": d.code, "name": d.name, "short_name": d.short_name, "line": d.line}
                for d in rows
            ]
        }


@operation(
    blueprint, "/matters/<code>", "GET", auth=PUBLIC, summary="事项详情（办事指南）/ matter detail"
)
def matter(code: str) -> Reply:
    with ext().db.reading() as session:
        version = catalog_service.current_version(session, code)
        department = session.get(Department, version.department_id)
        assert department is not None
        return catalog_service.matter_detail(version, department)


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
    roles=(Role.ADMINISTRATOR,),
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
    roles=(Role.ADMINISTRATOR,),
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
