"""Append-only audit log: who changed what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.models import AuditEntry, utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=detail or {},
        )
    )


def record_refusal(
    database: Any, actor: str, *, method: str, path: str, reason: str, status: int
) -> None:
    """A refused attempt, in a transaction of its own (the request's was rolled back).

    The path without its query string (which may hold what someone searched for),
    the refusal's fixed reason text; no personal data.
    """
    with database.writing() as session:
        record(
            session,
            actor,
            "access.refused",
            "request",
            path[:64],
            {"method": method, "path": path[:300], "reason": reason[:200], "status": status},
        )
