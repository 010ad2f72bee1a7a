"""Service catalog (事项目录) with immutable versions.

A Matter is the stable identity (its code). Every edit appends a MatterVersion;
cases point at the version they were registered under, so editing the catalog
never changes a case already registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.catalog.spec import MatterSpec
from backend.models.base import Base, utcnow
from backend.models.org import Department


class Matter(Base):
    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    # Withdrawn matters stay for the cases registered under them but cannot be
    # registered again.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("matter_versions.id", use_alter=True, name="fk_matters_current_version")
    )

    current_version: Mapped[MatterVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )


class MatterVersion(Base):
    __tablename__ = "matter_versions"
    __table_args__ = (UniqueConstraint("matter_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id"))
    version: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    promised_days: Mapped[int] = mapped_column(Integer)
    statutory_days: Mapped[int] = mapped_column(Integer)
    queue_category: Mapped[str] = mapped_column(String(8))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    # The full validated MatterSpec: materials, conditions, basis, fee, steps …
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")

    matter: Mapped[Matter] = relationship(foreign_keys=[matter_id])
    department: Mapped[Department] = relationship()

    def as_spec(self) -> MatterSpec:
        return MatterSpec.model_validate(self.spec)
