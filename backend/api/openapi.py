"""The OpenAPI 3.1 document, built from the operations the views registered."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify

from backend.api.framework import PUBLIC, REGISTRY

blueprint = Blueprint("openapi", __name__)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "bad_input",
                        "bad_request",
                        "not_authenticated",
                        "forbidden",
                        "not_found",
                        "conflict",
                        "invalid_transition",
                        "queue_unavailable",
                        "rate_limited",
                        "payload_too_large",
                        "unsupported_media_type",
                        "method_not_allowed",
                        "internal",
                    ],
                },
                "message": {"type": "string"},
                "detail": {"type": "object"},
            },
        }
    },
}


def _path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for op in REGISTRY:
        path = _path(op.path)
        slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.tag}_{op.method}_{slug}",
            "responses": {
                "200": {"description": "OK"},
                "4XX": {
                    "description": "Rejected; nothing was changed",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        if op.description:
            entry["description"] = op.description
        if op.auth != PUBLIC:
            entry["security"] = [{"bearer": []}]
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{([a-z_]+)}", path)
        ]
        if op.query is not None:
            schema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                parameters.append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[op.body.__name__] = schema
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                    }
                },
            }
        paths.setdefault(path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hallkit API",
            "version": "1",
            "description": "政务服务中心 hall system of record: catalog, queue, cases, ratings, "
            "hall events. Errors are JSON with a stable `error.code`.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@blueprint.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(build_document())


@blueprint.get("/api/docs")
def docs_page() -> str:
    """A dependency-free reference page; the JSON document is the contract."""
    rows = "".join(
        f"<tr><td><code>{op.method.upper()}</code></td><td><code>{_path(op.path)}</code></td>"
        f"<td>{op.summary}</td><td>{op.auth}</td></tr>"
        for op in sorted(REGISTRY, key=lambda o: (o.path, o.method))
    )
    return (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>hallkit API</title>"
        "<style>body{font-family:sans-serif;margin:2em}"
        "td{padding:4px 10px;border-bottom:1px solid #ddd}</style>"
        "<h1>hallkit API v1</h1><p>机器可读文档：<a href='/api/v1/openapi.json'>"
        "/api/v1/openapi.json</a></p><table>"
        "<tr><th>方法</th><th>路径</th><th>说明</th><th>认证</th></tr>"
        f"{rows}</table></html>"
    )
