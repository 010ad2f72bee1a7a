"""The small layer every API view goes through: authentication, body and query
validation with pydantic, and registration for the OpenAPI document.

A view declares what it takes; it never parses JSON or checks tokens itself:

    @operation(bp, "/tickets", "POST", body=IssueTicket, auth=DEVICE_OR_STAFF,
               summary="取号 Issue a ticket")
    def issue(body: IssueTicket) -> Reply: ...
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from backend.errors import BadInput, Forbidden, NotAuthenticated
from backend.models import Role
from backend.services import access
from backend.services.access import Access, Resource
from backend.services.auth import Principal

PUBLIC = "public"
DEVICE = "device"
STAFF = "staff"
DEVICE_OR_STAFF = "device_or_staff"

Reply = dict[str, Any] | tuple[dict[str, Any], int] | Response


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tag: str
    auth: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    roles: tuple[Role, ...]
    description: str = ""
    responses: dict[str, str] = field(default_factory=dict)


REGISTRY: list[Operation] = []


def _validation_details(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]),
            "reason": item["msg"],
            "value": item.get("input") if not isinstance(item.get("input"), dict) else None,
        }
        for item in error.errors(include_url=False)
    ]


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise BadInput("请求体须为 JSON（Content-Type: application/json）/ body must be JSON")
    raw = request.get_data(cache=False)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body has no Content-Length to refuse up front, and Werkzeug
        # stops reading it at the limit instead of refusing it: the handler would
        # get the first `limit` bytes. Refuse it as a declared one would be.
        raise RequestEntityTooLarge()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput(f"JSON 格式错误 / malformed JSON: {error}") from error
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadInput(
            "请求内容不合法 / invalid request body", errors=_validation_details(error)
        ) from error


def _parse_query(model: type[BaseModel]) -> BaseModel:
    values: dict[str, Any] = {}
    for key in request.args:
        items = request.args.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise BadInput(
            "查询参数不合法 / invalid query parameters", errors=_validation_details(error)
        ) from error


def authenticate(
    required: str,
    roles: tuple[Role, ...] = (),
    permission: tuple[Resource, Access] | None = None,
) -> Principal | None:
    header = request.headers.get("Authorization", "")
    principal: Principal | None = None
    if header.startswith("Bearer "):
        extension = current_app.extensions["hallkit"]
        principal = extension.tokens.resolve(
            extension.db.reading, header.removeprefix("Bearer ").strip(), extension.clock()
        )
    elif header:
        raise NotAuthenticated("仅支持 Bearer 令牌 / only Bearer tokens are accepted")
    g.principal = principal  # known to the refusal audit even when refused below
    if required == PUBLIC:
        return principal
    if principal is None:
        raise NotAuthenticated("需要登录或设备令牌 / authentication required")
    if required == DEVICE and principal.kind != "device":
        raise Forbidden("仅限大厅设备 / devices only")
    if required == STAFF and principal.kind != "staff":
        raise Forbidden("仅限工作人员 / staff only")
    if roles and principal.kind == "staff" and not principal.has_role(*roles):
        raise Forbidden("没有执行该操作的权限 / your role does not allow this")
    if permission is not None:
        access.require(principal, *permission)  # the pages' rule too
    return principal


def operation(
    blueprint: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    auth: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    roles: tuple[Role, ...] = (),
    permission: tuple[Resource, Access] | None = None,
    description: str = "",
) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """`permission`: (resource, read/write) checked by backend.services.access, the
    rule the staff pages apply; prefer it to `roles` for anything a page also offers."""
    if permission is not None:
        roles = tuple(sorted(access.roles_for(*permission)))

    def decorate(view: Callable[..., Reply]) -> Callable[..., Reply]:
        @functools.wraps(view)
        def wrapper(**path_args: Any) -> Reply:
            g.principal = authenticate(auth, () if permission else roles, permission)
            kwargs: dict[str, Any] = dict(path_args)
            if body is not None:
                kwargs["body"] = _parse_body(body)
            if query is not None:
                kwargs["query"] = _parse_query(query)
            return view(**kwargs)

        blueprint.add_url_rule(rule, view.__name__, wrapper, methods=[method])
        prefix = blueprint.url_prefix or ""
        REGISTRY.append(
            Operation(
                path=prefix + rule,
                method=method.lower(),
                summary=summary,
                tag=blueprint.name,
                auth=auth,
                body=body,
                query=query,
                roles=roles,
                description=description or (view.__doc__ or "").strip(),
            )
        )
        return wrapper

    return decorate


def principal() -> Principal:
    value: Principal | None = g.get("principal")
    if value is None:
        raise NotAuthenticated("需要登录或设备令牌 / authentication required")
    return value


def optional_principal() -> Principal | None:
    value: Principal | None = g.get("principal")
    return value
