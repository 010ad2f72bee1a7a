"""The service catalog: versioned upserts, lookups and the search index cache."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.catalog.search import CatalogIndex, SearchEntry
from backend.catalog.spec import MatterSpec
from backend.errors import BadInput, NotFound
from backend.models import Department, Matter, MatterVersion
from backend.services import eventlog
from backend.services.audit import record


@dataclass(frozen=True)
class UpsertReport:
    created: int
    new_versions: int
    unchanged: int


def _departments_by_code(session: Session) -> dict[str, Department]:
    return {d.code: d for d in session.execute(select(Department)).scalars()}


def upsert_matters(
    session: Session,
    specs: Sequence[MatterSpec],
    *,
    actor: str,
    hall_ids_to_notify: Iterable[int] = (),
) -> UpsertReport:
    """Add new matters and append a version to each changed one; unchanged ones are left."""
    departments = _departments_by_code(session)
    unknown = sorted({s.department for s in specs if s.department not in departments})
    if unknown:
        raise BadInput(f"未知的实施部门 / unknown departments: {', '.join(unknown)}")
    existing = {
        m.code: m
        for m in session.execute(
            select(Matter).where(Matter.code.in_([s.code for s in specs]))
        ).scalars()
    }
    created = new_versions = unchanged = 0
    for spec in specs:
        payload = spec.model_dump(mode="json")
        matter = existing.get(spec.code)
        if matter is None:
            matter = Matter(code=spec.code, active=True)
            session.add(matter)
            session.flush()
            version_number = 1
            created += 1
        else:
            current = session.get(MatterVersion, matter.current_version_id)
            if current is not None and current.spec == payload and matter.active:
                unchanged += 1
                continue
            version_number = (current.version + 1) if current else 1
            matter.active = True
            new_versions += 1
        version = MatterVersion(
            matter_id=matter.id,
            version=version_number,
            code=spec.code,
            name=spec.name,
            type=spec.type.value,
            department_id=departments[spec.department].id,
            promised_days=spec.promised_days,
            statutory_days=spec.statutory_days,
            queue_category=spec.queue_category,
            online=spec.online,
            spec=payload,
            created_by=actor,
        )
        session.add(version)
        session.flush()
        matter.current_version_id = version.id
    if created or new_versions:
        record(
            session,
            actor,
            "catalog.upsert",
            "catalog",
            "-",
            {"created": created, "new_versions": new_versions},
        )
        for hall_id in hall_ids_to_notify:
            eventlog.emit(
                session,
                hall_id,
                "catalog_changed",
                {"created": created, "new_versions": new_versions},
            )
    return UpsertReport(created, new_versions, unchanged)


def withdraw_matter(session: Session, code: str, *, actor: str) -> None:
    matter = session.execute(select(Matter).where(Matter.code == code)).scalar_one_or_none()
    if matter is None:
        raise NotFound(f"事项 {code} 不存在 / unknown matter", code=code)
    matter.active = False
    record(session, actor, "catalog.withdraw", "matter", code)


def current_version(session: Session, code: str) -> MatterVersion:
    """The version a new case or ticket is registered under; withdrawn matters refuse."""
    row = session.execute(
        select(MatterVersion)
        .join(Matter, Matter.current_version_id == MatterVersion.id)
        .where(Matter.code == code, Matter.active.is_(True))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"事项 {code} 不在事项目录中 / matter not in the catalog", code=code)
    return row


def versions_of(session: Session, code: str) -> list[MatterVersion]:
    return list(
        session.execute(
            select(MatterVersion).where(MatterVersion.code == code).order_by(MatterVersion.version)
        ).scalars()
    )


def all_current(session: Session) -> list[tuple[MatterVersion, Department]]:
    rows = session.execute(
        select(MatterVersion, Department)
        .join(Matter, Matter.current_version_id == MatterVersion.id)
        .join(Department, Department.id == MatterVersion.department_id)
        .where(Matter.active.is_(True))
        .order_by(MatterVersion.code)
    ).all()
    return [(row[0], row[1]) for row in rows]


def matter_detail(version: MatterVersion, department: Department) -> dict[str, Any]:
    spec = version.as_spec()
    return {
        **spec.model_dump(mode="json"),
        "version": version.version,
        "department_name": department.name,
        "is_free": spec.is_free,
    }


def catalog_revision(session: Session) -> tuple[int, int]:
    """Changes whenever a version is added or a matter withdrawn/restored."""
    newest = session.execute(select(func.max(MatterVersion.id))).scalar_one()
    active = session.execute(
        select(func.count()).select_from(Matter).where(Matter.active.is_(True))
    ).scalar_one()
    return int(newest or 0), int(active)


class SearchIndexCache:
    """One CatalogIndex per process, rebuilt when the catalog revision changes.
    Checking the revision costs one small query; rebuilding happens only after
    an edit, in whichever worker sees it first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: tuple[int, int] | None = None
        self._index: CatalogIndex | None = None

    def get(self, session: Session) -> CatalogIndex:
        revision = catalog_revision(session)
        if self._index is not None and revision == self._revision:
            return self._index
        with self._lock:
            if self._index is None or revision != self._revision:
                entries = [
                    SearchEntry(
                        matter_id=version.matter_id,
                        code=version.code,
                        name=version.name,
                        department=department.code,
                        department_name=department.name,
                        type=version.type,
                        keywords=tuple(version.spec.get("keywords", ())),
                        aliases=tuple(version.spec.get("aliases", ())),
                        life_events=tuple(version.spec.get("life_events", ())),
                    )
                    for version, department in all_current(session)
                ]
                self._index = CatalogIndex.build(entries)
                self._revision = revision
            return self._index
