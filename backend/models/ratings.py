"""好差评: ratings, rate-now requests and rectification of bad ratings."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from backend.models.base import Base, utcnow
from backend.models.org import enum_column
from backend.privacy import redact_text


class RatingLevel(int, enum.Enum):
    VERY_SATISFIED = 5  # 非常满意
    SATISFIED = 4  # 满意
    BASICALLY_SATISFIED = 3  # 基本满意
    DISSATISFIED = 2  # 不满意
    VERY_DISSATISFIED = 1  # 非常不满意

    @property
    def label(self) -> str:
        return RATING_LABELS[self]

    @property
    def is_bad(self) -> bool:
        return self.value <= 2


RATING_LABELS = {
    RatingLevel.VERY_SATISFIED: "非常满意",
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASICALLY_SATISFIED: "基本满意",
    RatingLevel.DISSATISFIED: "不满意",
    RatingLevel.VERY_DISSATISFIED: "非常不满意",
}


class RatingChannel(enum.StrEnum):
    EVALUATOR = "evaluator"
    KIOSK = "kiosk"
    PHONE = "phone"
    WEB = "web"


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The client's own id: a retried message carries the same one and is stored once.
    rating_uid: Mapped[str] = mapped_column(String(64), unique=True)
    # "ticket:<id>" or "case:<id>": one rating per service (一次一评).
    service_key: Mapped[str] = mapped_column(String(40), unique=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    matter_version_id: Mapped[int | None] = mapped_column(ForeignKey("matter_versions.id"))
    matter_code: Mapped[str] = mapped_column(String(40), default="")
    matter_version: Mapped[int | None] = mapped_column(Integer)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    channel: Mapped[RatingChannel] = mapped_column(enum_column(RatingChannel))
    device_id: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What the rater wrote, with phone and ID numbers and e-mail addresses masked
    # as it is assigned: every page, API answer and export shows this form.
    note: Mapped[str] = mapped_column(Text, default="")
    # The note as written, sealed (IdentityProtector.seal_text), only for a bad
    # rating whose note held something the mask hid: a 差评 must be called back
    # (回访, 国办发〔2019〕51号) and a rater writing "手机…联系我" gives the only number
    # the hall has for that. Other ratings are never called back, so their
    # originals are not kept (个人信息保护法 Art. 6, 19: no more, no longer).
    note_sealed: Mapped[str] = mapped_column(Text, default="")
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rated_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Appeals void a rating with a recorded reason; nothing is ever deleted.
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    void_reason: Mapped[str] = mapped_column(Text, default="")
    voided_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    voided_at: Mapped[datetime | None] = mapped_column()

    @validates("note", "void_reason")
    def _redacted(self, _key: str, value: str) -> str:
        return redact_text(value)


class RatingRequestState(enum.StrEnum):
    OPEN = "open"
    RATED = "rated"
    EXPIRED = "expired"


class RatingRequest(Base):
    """A "rate now" sent to a window's evaluator. Expiry records no rating."""

    __tablename__ = "rating_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_uid: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    state: Mapped[RatingRequestState] = mapped_column(
        enum_column(RatingRequestState), default=RatingRequestState.OPEN
    )


class RectificationState(enum.StrEnum):
    OPEN = "open"
    CALLED_BACK = "called_back"
    RECTIFIED = "rectified"
    CLOSED = "closed"
    VOIDED = "voided"


class Rectification(Base):
    """整改: opened for every 差评; callback and rectification have working-day deadlines."""

    __tablename__ = "rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[RectificationState] = mapped_column(
        enum_column(RectificationState), default=RectificationState.OPEN
    )
    callback_due: Mapped[date] = mapped_column(Date)
    rectify_due: Mapped[date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_at: Mapped[datetime | None] = mapped_column()
    callback_note: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    rectified_at: Mapped[datetime | None] = mapped_column()
    follow_up_level: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # A callback record naturally names the number that was called; it is
    # shown on pages and exports, so it is masked like the rating's note.
    @validates("callback_note", "outcome")
    def _redacted(self, _key: str, value: str) -> str:
        return redact_text(value)


class AppealState(enum.StrEnum):
    PENDING = "pending"  # 待复核
    UPHELD = "upheld"  # 申诉成立: the rating is set aside (voided), never deleted
    REJECTED = "rejected"  # 申诉不成立: the rating stays, the appeal stays on record


class RatingAppeal(Base):
    """申诉: the rated clerk disputes a 差评; a supervisor decides with a reason.

    At most one appeal per rating is pending at a time (partial unique index);
    a rejected appeal stays on record next to the rating it did not change."""

    __tablename__ = "rating_appeals"
    __table_args__ = (
        Index(
            "uq_rating_appeals_pending",
            "rating_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    filed_by_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column()
    # Working-day deadline for the supervisor's decision (shown on the workbench).
    decide_due: Mapped[date] = mapped_column(Date)
    state: Mapped[AppealState] = mapped_column(
        enum_column(AppealState), default=AppealState.PENDING
    )
    decided_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str] = mapped_column(Text, default="")
