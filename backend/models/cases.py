"""Cases (办件), their suspensions, joint handling, materials and the audit trail."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from backend.models.base import Base, utcnow
from backend.models.catalog import MatterVersion
from backend.models.org import enum_column


class CaseState(enum.StrEnum):
    ACCEPTED = "accepted"  # 受理
    UNDERTAKING = "undertaking"  # 承办
    REVIEWING = "reviewing"  # 审核
    APPROVED = "approved"  # 批准
    COMPLETED = "completed"  # 办结
    DELIVERED = "delivered"  # 发证/取件
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    DENIED = "denied"  # 不予许可
    WITHDRAWN = "withdrawn"  # 撤回


class ApplicantKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(24), unique=True)
    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    matter_version_id: Mapped[int] = mapped_column(ForeignKey("matter_versions.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    handler_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    registered_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    applicant_kind: Mapped[ApplicantKind] = mapped_column(enum_column(ApplicantKind))
    # An organisation's name in clear (it is public); a person's name sealed
    # (encrypted), which is several times longer than the name itself.
    applicant_name: Mapped[str] = mapped_column(Text)
    applicant_name_masked: Mapped[str] = mapped_column(String(200))
    applicant_id_cipher: Mapped[str] = mapped_column(String(400))
    applicant_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    applicant_id_masked: Mapped[str] = mapped_column(String(32))
    phone_cipher: Mapped[str] = mapped_column(String(400))
    phone_last4: Mapped[str] = mapped_column(String(4))
    state: Mapped[CaseState] = mapped_column(enum_column(CaseState), index=True)
    suspended_kind: Mapped[str | None] = mapped_column(String(16))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_on: Mapped[date] = mapped_column(Date)
    promised_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    joint: Mapped[bool] = mapped_column(Boolean, default=False)  # 并联审批
    public_disclosure: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None] = mapped_column()
    # 收费: what was charged, in fen (分); None until a fee is recorded. Checked
    # against the catalog's 收费标准 by the supervision scan (收费异常).
    fee_charged_fen: Mapped[int | None] = mapped_column(BigInteger)
    collected_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    matter_version: Mapped[MatterVersion] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id")
    suspensions: Mapped[list[CaseSuspension]] = relationship(order_by="CaseSuspension.id")
    participants: Mapped[list[CaseParticipant]] = relationship(order_by="CaseParticipant.id")


class CaseSuspension(Base):
    __tablename__ = "case_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")


class CaseParticipant(Base):
    """A department that must sign off a jointly handled case (并联审批)."""

    __tablename__ = "case_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    decision: Mapped[str] = mapped_column(String(16), default="pending")  # approved / denied
    decided_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")


class CaseEvent(Base):
    """Append-only audit trail of a case: rows are never updated or deleted."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _case_events_are_append_only(
    _mapper: Mapper[CaseEvent], _conn: object, _target: object
) -> None:
    raise PermissionError("case events are an audit trail and are never rewritten")
