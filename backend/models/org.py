"""Organisation: halls and their hierarchy, floors, departments, windows, staff."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, utcnow
from hallbus.localtime import DEFAULT_TIMEZONE


def enum_column(enum_class: type[enum.Enum]) -> Enum:
    """Store enum values (not names) as plain strings: readable in SQL and portable."""
    return Enum(
        enum_class,
        values_callable=lambda members: [member.value for member in members],
        native_enum=False,
        validate_strings=True,
        length=24,
    )


class HallKind(enum.StrEnum):
    CENTRE = "centre"  # 中心
    BRANCH = "branch"  # 分厅
    SUBCENTRE = "subcentre"  # 分中心 (街道/镇便民服务中心)
    STATION = "station"  # 代办站


class WindowState(enum.StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # 暂停服务, with a reason and expected return
    RESTING = "resting"  # 休息
    CLOSED = "closed"  # 未开放


class Role(enum.StrEnum):
    CLERK = "clerk"
    DEPARTMENT_LEAD = "department_lead"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"


class Hall(Base):
    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[HallKind] = mapped_column(enum_column(HallKind))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    run_by_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    address: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    # The call-order policy (see backend.services.policy.py); JSON so a hall
    # can change it without a migration, validated by HallPolicy on every write.
    call_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the hall hub last said about itself (PUT hub-state): its console's
    # address on the hall network, whether it decides the queue (offline /
    # replaying) and how many outbox entries it still has to replay.
    hub_console_url: Mapped[str] = mapped_column(String(300), default="")
    hub_mode: Mapped[str] = mapped_column(String(16), default="online")
    hub_mode_at: Mapped[datetime | None] = mapped_column()
    hub_pending: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Hall | None] = relationship(remote_side="Hall.id")
    floors: Mapped[list[Floor]] = relationship(back_populates="hall", order_by="Floor.number")


class Floor(Base):
    __tablename__ = "floors"
    __table_args__ = (UniqueConstraint("hall_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))

    hall: Mapped[Hall] = relationship(back_populates="floors")


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(40), default="")
    line: Mapped[str] = mapped_column(String(100), default="")  # 主线 / 项目建设线 …


class WindowDepartment(Base):
    __tablename__ = "window_departments"

    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)


class WindowCategory(Base):
    """Which queue categories a window serves, and how strongly it prefers them."""

    __tablename__ = "window_categories"

    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)


class Window(Base):
    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    number: Mapped[str] = mapped_column(String(16))
    floor_id: Mapped[int | None] = mapped_column(ForeignKey("floors.id"))
    name: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[WindowState] = mapped_column(enum_column(WindowState), default=WindowState.CLOSED)
    pause_reason: Mapped[str] = mapped_column(String(200), default="")
    expected_back_at: Mapped[datetime | None] = mapped_column()
    signed_in_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    current_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", use_alter=True, name="fk_windows_current_ticket_id_tickets")
    )
    # Ordinary tickets called since the last priority/appointment ticket; drives
    # the optional "N ordinary : 1 priority" anti-starvation ratio. None until the
    # window's first call after opening, so a waiting priority ticket goes first.
    ordinary_streak: Mapped[int | None] = mapped_column(Integer, default=None)

    hall: Mapped[Hall] = relationship()
    floor: Mapped[Floor | None] = relationship()


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(32), unique=True)  # 工号
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    photo_path: Mapped[str] = mapped_column(String(300), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship()

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles


class StaffPost(Base):
    """A/B post (AB岗): the B clerk covers the window when the A clerk is away."""

    __tablename__ = "staff_posts"
    __table_args__ = (UniqueConstraint("window_id", "post", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"))
    post: Mapped[str] = mapped_column(String(1))  # "A" or "B"


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class BadRatingReason(Base):
    __tablename__ = "bad_rating_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class WorkdayOverride(Base):
    """Administrator-entered holidays and 调休 working days; they win over the
    calendar package and cover years it does not know yet."""

    __tablename__ = "workday_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarYear(Base):
    """A year whose State Council holiday notice (国务院办公厅节假日安排通知) has
    been entered in full.  Its days no longer count as provisional: a date the
    notice does not mention follows the Monday-Friday rule for certain."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The notice as the administrator identified it, e.g. "国办发明电〔2026〕7号".
    source: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
