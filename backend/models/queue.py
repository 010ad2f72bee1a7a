"""Queue: categories, per-day number sequences, tickets and appointments."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, utcnow
from backend.models.org import enum_column


class TicketState(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    # 挂起: the visitor went to fetch a missing paper; the window serves others
    # meanwhile and resumes this ticket later. Neither waiting nor finished.
    HELD = "held"
    DONE = "done"
    NO_SHOW = "no_show"  # 过号
    CANCELLED = "cancelled"
    CLOSED = "closed"  # still open at the end of the day, archived


OPEN_TICKET_STATES = (
    TicketState.WAITING,
    TicketState.CALLED,
    TicketState.SERVING,
    TicketState.HELD,
)


class Standing(int, enum.Enum):
    """Call order between classes of tickets; lower is called first."""

    PRIORITY = 0  # 绿色通道: 老年人 / 残疾人 / 军人 / 孕妇
    APPOINTMENT = 1  # checked-in 预约
    ORDINARY = 2


class Channel(enum.StrEnum):
    KIOSK = "kiosk"
    STAFF = "staff"
    APPOINTMENT = "appointment"
    PHONE = "phone"
    HUB_OFFLINE = "hub_offline"  # issued by the hub from a reserved block during an outage


class QueueCategory(Base):
    __tablename__ = "queue_categories"
    __table_args__ = (UniqueConstraint("hall_id", "prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    prefix: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(100))
    floor_number: Mapped[int | None] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(100), default="")  # printed on the ticket
    daily_cap: Mapped[int] = mapped_column(Integer, default=999)
    number_start: Mapped[int] = mapped_column(Integer, default=1)
    number_end: Mapped[int] = mapped_column(Integer, default=999)
    issue_from: Mapped[time] = mapped_column(Time, default=time(8, 30))
    issue_until: Mapped[time] = mapped_column(Time, default=time(17, 0))
    priority_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Rolling average of service time, updated when a ticket is finished; feeds
    # the estimated wait. Seeded with a hall-typical value.
    avg_service_seconds: Mapped[float] = mapped_column(default=300.0)
    # 到号提醒: a visitor who left a number is texted (and the phone page shows a
    # banner) once this many people or fewer are ahead; 0 turns the reminder off.
    turn_near_ahead: Mapped[int] = mapped_column(Integer, default=3)


class CategoryDepartment(Base):
    __tablename__ = "category_departments"

    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)


class DailySequence(Base):
    """Last ticket number handed out per hall, category and day. Incremented
    with a single UPDATE … RETURNING so concurrent issuers never share a number;
    the hub's offline blocks are carved out of the same sequence."""

    __tablename__ = "daily_sequences"

    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"), primary_key=True)
    service_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)


class TicketBlock(Base):
    """Numbers reserved in advance for the hub to issue while the backend is unreachable."""

    __tablename__ = "ticket_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    service_day: Mapped[date] = mapped_column(Date)
    first_number: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer)
    reserved_by: Mapped[str] = mapped_column(String(64))
    reserved_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # A ticket keeps its number when transferred to another category, so
        # uniqueness is on the category that issued the number.
        UniqueConstraint("issue_category_id", "service_day", "number"),
        UniqueConstraint("hall_id", "client_request_id"),
        # Call-next seeks the head of one category and standing class: only
        # waiting tickets are in the index, already in call order.
        Index(
            "ix_tickets_waiting",
            "category_id",
            "service_day",
            "standing",
            "sort_at",
            "id",
            sqlite_where=text("state = 'waiting'"),
            postgresql_where=text("state = 'waiting'"),
        ),
        Index(
            "ix_tickets_waiting_for_window",
            "target_window_id",
            "standing",
            "sort_at",
            sqlite_where=text("state = 'waiting' AND target_window_id IS NOT NULL"),
            postgresql_where=text("state = 'waiting' AND target_window_id IS NOT NULL"),
        ),
        Index("ix_tickets_day_number", "hall_id", "service_day", "display"),
        Index("ix_tickets_day_called", "hall_id", "service_day", "called_at"),
        Index("ix_tickets_category_finished", "category_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    issue_category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    service_day: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    display: Mapped[str] = mapped_column(String(16))  # "A001"
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    standing: Mapped[int] = mapped_column(Integer, default=Standing.ORDINARY.value)
    priority_kind: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[TicketState] = mapped_column(
        enum_column(TicketState), default=TicketState.WAITING
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Position in the queue: the original issue time, kept across transfers and
    # moved to "now" when a no-show is requeued at the back.
    sort_at: Mapped[datetime] = mapped_column(default=utcnow)
    target_window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    called_at: Mapped[datetime | None] = mapped_column()
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    no_show_count: Mapped[int] = mapped_column(Integer, default=0)
    matter_version_id: Mapped[int | None] = mapped_column(ForeignKey("matter_versions.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    id_lookup_hash: Mapped[str | None] = mapped_column(String(64))
    out_of_order_reason: Mapped[str] = mapped_column(String(200), default="")
    # 挂起: when the ticket was last put on hold and resumed, and why (the clerk's words).
    held_at: Mapped[datetime | None] = mapped_column()
    resumed_at: Mapped[datetime | None] = mapped_column()
    hold_reason: Mapped[str] = mapped_column(String(200), default="")
    # Why a ticket ended without being served (e.g. a hold left open past its day).
    closed_reason: Mapped[str] = mapped_column(String(200), default="")

    category: Mapped[QueueCategory] = relationship(foreign_keys=[category_id])


class AppointmentState(enum.StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    MISSED = "missed"


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    matter_version_id: Mapped[int | None] = mapped_column(ForeignKey("matter_versions.id"))
    day: Mapped[date] = mapped_column(Date)
    slot_start: Mapped[time] = mapped_column(Time)
    slot_end: Mapped[time] = mapped_column(Time)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # checked in at the kiosk
    name_masked: Mapped[str] = mapped_column(String(64))
    phone_last4: Mapped[str] = mapped_column(String(4), default="")
    phone_cipher: Mapped[str] = mapped_column(String(300), default="")
    id_lookup_hash: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[AppointmentState] = mapped_column(
        enum_column(AppointmentState), default=AppointmentState.BOOKED
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", use_alter=True, name="fk_appointments_ticket_id_tickets")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
