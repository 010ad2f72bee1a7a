"""Every error leaves the API as JSON with a stable code, in one place."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from backend.errors import DatabaseUnavailable, DomainError
from backend.services.audit import record_refusal

log = logging.getLogger("hallkit.api")

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(code: str, message: str, /, **detail: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if detail:
        body["error"]["detail"] = detail
    return body


def audit_refusal(reason: str, status: int) -> None:
    """Log and audit a refused attempt of the current request (API or page)."""
    principal = g.get("principal")
    if principal is None:
        from flask_login import current_user

        if current_user.is_authenticated:
            principal = getattr(current_user, "principal", None)
    actor = principal.label if principal is not None else "public"
    log.info("refused %s %s for %s: %s", request.method, request.path, actor, reason)
    try:
        record_refusal(
            current_app.extensions["hallkit"].db,
            actor,
            method=request.method,
            path=request.path,
            reason=reason,
            status=status,
        )
    except Exception:  # the refusal stands; its audit entry must not turn it into a 500
        log.exception("refusal of %s %s not audited", request.method, request.path)


# PostgreSQL SQLSTATEs that mean the database is not there to answer: connection
# exceptions (class 08), the server shutting down or starting (57P01-57P03), the
# database missing (3D000), no connection slot left (53300).
_PG_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "3D000", "53300")
# SQLite: the file cannot be opened or read (removed, unmounted, not a database).
_SQLITE_UNAVAILABLE = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_NOTADB")


def database_unavailable(error: Exception) -> bool:
    """Whether a database error means the database cannot be reached (503, the
    hub goes on offline), rather than a fault of the request or the code (500)."""
    if isinstance(error, DisconnectionError | InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    sqlite_name = getattr(original, "sqlite_errorname", None)
    if sqlite_name is not None:
        return str(sqlite_name).startswith(_SQLITE_UNAVAILABLE)
    state = getattr(original, "sqlstate", None)
    # psycopg raises a connection failure (refused, timed out) without a SQLSTATE.
    return state is None or str(state).startswith(_PG_UNAVAILABLE)


def install(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Any:
        if error.refusal:
            audit_refusal(error.message, error.status)
        if error.status >= 500:
            log.error("%s: %s", error.code, error.message)
        else:
            log.info("rejected %s: %s", error.code, error.message)
        return jsonify(error_body(error.code, error.message, **error.detail)), error.status

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        if status == 403:
            audit_refusal(error.description or "forbidden", status)
        code = HTTP_CODES.get(status, "http_error")
        message = {
            413: "请求体过大 / request body too large",
            404: "没有这个地址 / no such endpoint",
            405: "不支持该请求方法 / method not allowed",
        }.get(status, error.description or "")
        return jsonify(error_body(code, message)), status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error")
        return jsonify(error_body("internal", "服务器内部错误 / internal error")), 500

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)
    def _database_unavailable(error: Exception) -> Any:
        if not database_unavailable(error):
            return _unexpected(error)
        # 503, not 500: the hall hub treats it as "backend unavailable" and goes
        # on calling from its offline snapshot. Only the error's class is logged:
        # the driver's text may quote the statement's parameters.
        log.error(
            "database unavailable during %s %s: %s",
            request.method,
            request.path,
            type(getattr(error, "orig", None) or error).__name__,
        )
        body = error_body(
            DatabaseUnavailable.code,
            "数据库暂时不可用，请稍后再试 / the database is unavailable; try again shortly",
        )
        response = jsonify(body)
        response.headers["Retry-After"] = "5"
        return response, DatabaseUnavailable.status
