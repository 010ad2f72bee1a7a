"""委托: a staff member hands all or part of their work to a colleague for a period.

A delegation is in force while `starts_at <= now < ends_at` and it has not been
revoked; nothing has to run at the end time, the check itself makes it lapse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

# What part of the work is delegated: everything, or only cases of some matters.
DELEGATION_SCOPE_ALL = "all"
DELEGATION_SCOPE_MATTERS = "matters"


class Delegation(Base):
    __tablename__ = "delegations"
    __table_args__ = (
        Index("ix_delegations_delegate_period", "delegate_staff_id", "ends_at"),
        Index("ix_delegations_delegator_period", "delegator_staff_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delegator_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    delegate_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    scope: Mapped[str] = mapped_column(String(16), default=DELEGATION_SCOPE_ALL)
    # Matter codes when scope == "matters"; empty otherwise.
    matter_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    def in_force(self, now: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= now < self.ends_at

    def covers_matter(self, matter_code: str) -> bool:
        return self.scope == DELEGATION_SCOPE_ALL or matter_code in self.matter_codes

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delegator_staff_id": self.delegator_staff_id,
            "delegate_staff_id": self.delegate_staff_id,
            "scope": self.scope,
            "matter_codes": list(self.matter_codes),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "reason": self.reason,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }
