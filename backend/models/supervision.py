"""电子监察 (supervision, plan chapter 3.1.1): alerts, their deliveries, the
notification contacts and the scan's bookkeeping."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, utcnow


class AlertKind(enum.StrEnum):
    """The alert kinds of plan 3.1.1.1/3.1.1.2 and the 24-hour reminder of 2.2.1.3."""

    REMINDER = "提醒"  # 24 hours before the deadline (2.2.1.3)
    WARNING = "预警"  # open on the last working day of the promised period (3.1.1.2)
    YELLOW = "黄牌"  # one working day past the promised period (3.1.1.2)
    RED = "红牌"  # yellow card not cleared in the set time (3.1.1.2)
    PROCESS = "流程异常"  # step skipped / out of order / time reversed (3.1.1.1 过程/逻辑监察)
    ABNORMAL_END = (
        "异常办结"  # withdrawn, not accepted, denied, 补正 never returned (3.1.1.1 异常监察)
    )
    # A calendar change (holiday notice entered, year confirmed) moved the due
    # date of an open case: the handler is told the new date.
    DEADLINE_MOVED = "期限变更"
    FEE = "收费异常"  # charged other than the catalog's 收费标准 (3.1.1.2 违规收费)
    DURATION = "时长异常"  # decided abnormally fast or slow for its matter (3.1.1.1 异常监察)


# Severity shown in lists and used for sorting; higher is worse.
ALERT_LEVELS: dict[AlertKind, int] = {
    AlertKind.REMINDER: 0,
    AlertKind.DEADLINE_MOVED: 0,
    AlertKind.WARNING: 1,
    AlertKind.ABNORMAL_END: 1,
    AlertKind.DURATION: 1,
    AlertKind.FEE: 2,
    AlertKind.PROCESS: 2,
    AlertKind.YELLOW: 2,
    AlertKind.RED: 3,
}


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the retry limit
    SKIPPED = "skipped"  # no address for this channel
    OFF = "off"  # the channel is not configured (no SMS gateway / SMTP server): not sent


class Alert(Base):
    """One supervision alert about one case.

    Idempotency: at most one *uncleared* alert exists per (case, kind,
    condition); the partial unique index below enforces it in the database, so
    two scans running at once cannot both insert it either.
    """

    __tablename__ = "supervision_alerts"
    __table_args__ = (
        Index(
            "uq_supervision_alerts_open_condition",
            "case_id",
            "kind",
            "condition",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        # The alert lists: open ones newest first, filtered by kind.
        Index("ix_supervision_alerts_state", "cleared_at", "acknowledged_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # AlertKind value
    level: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    handler_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # What exactly was found, so a second finding of the same thing is the same
    # alert: "deadline:2026-09-30", "skipped:<event id>", "supplement:<suspension id>".
    condition: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_on: Mapped[date | None] = mapped_column(Date)
    # The hall-local day the alert was raised; the red card counts from the
    # yellow card's day (3.1.1.2 "出示黄牌警告信息后").
    raised_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    acknowledge_note: Mapped[str] = mapped_column(Text, default="")
    cleared_at: Mapped[datetime | None] = mapped_column()
    clear_reason: Mapped[str] = mapped_column(String(32), default="")
    # [{"role": "handler", "staff_id": 3, "name": "范鹏"}, {"role": "discipline", ...}]
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    deliveries: Mapped[list[AlertDelivery]] = relationship(
        order_by="AlertDelivery.id", back_populates="alert"
    )


class AlertDelivery(Base):
    """One message of one alert to one recipient over one channel."""

    __tablename__ = "supervision_alert_deliveries"
    __table_args__ = (
        Index(
            "ix_supervision_deliveries_pending",
            "id",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("supervision_alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email / sms / in_page
    recipient_role: Mapped[str] = mapped_column(String(24))
    recipient_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recipient_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("supervision_discipline_contacts.id")
    )
    recipient_name: Mapped[str] = mapped_column(String(100))
    address_masked: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set while one dispatcher sends it, so two dispatchers never send it twice;
    # a claim older than the dispatcher's timeout is taken over.
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()

    alert: Mapped[Alert] = relationship(back_populates="deliveries")


class StaffContact(Base):
    """Where to reach a staff member for alerts (the staff table has no address)."""

    __tablename__ = "supervision_staff_contacts"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    # A work mobile; shown masked everywhere, in full only to the SMS gateway.
    phone: Mapped[str] = mapped_column(String(32), default="")
    # The language alerts are sent in: "zh" (default) or "en".
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")


class DisciplineContact(Base):
    """红牌 recipients beyond the department (3.1.1.2): the district discipline
    commission secretary (区纪工委书记) and the discipline team leader stationed
    in the hall (驻中心纪检组长). Entered by the administrator."""

    __tablename__ = "supervision_discipline_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(100), default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")


class ScanCursor(Base):
    """How far the event-driven checks have read the case_events table."""

    __tablename__ = "supervision_scan_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# Indexes on other areas' tables that the supervision scan and the performance
# queries need; declared here so the metadata matches migration 0003.
def _declare_query_indexes() -> None:
    from backend.models.cases import Case, CaseEvent
    from backend.models.queue import Ticket
    from backend.models.ratings import Rating

    open_states = text("state IN ('accepted', 'undertaking', 'reviewing', 'approved')")
    Index("ix_case_events_at", CaseEvent.at)
    Index("ix_cases_open_due", Case.due_on, sqlite_where=open_states, postgresql_where=open_states)
    Index("ix_cases_completed_at", Case.completed_at)
    Index("ix_tickets_service_day", Ticket.service_day)
    Index("ix_ratings_rated_at", Rating.rated_at)


_declare_query_indexes()
