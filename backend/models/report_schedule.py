"""Scheduled performance reports (绩效报表定时发送, plan 3.1.1.3): who receives
which report, in which format, monthly or weekly by e-mail."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class ReportFrequency(enum.StrEnum):
    MONTHLY = "monthly"  # on `day` (1-28) of every month: the previous month
    WEEKLY = "weekly"  # on ISO weekday `day` (1 = Monday): the previous ISO week


class ReportFormat(enum.StrEnum):
    PDF = "pdf"
    XLSX = "xlsx"
    HTML = "html"


class ReportSchedule(Base):
    """One recurring e-mail of the performance report to one address.

    `last_period` is the label of the last period delivered ("2026-10",
    "2026-W44"): a period is sent once, however often the sender runs.
    """

    __tablename__ = "report_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    # None: every department (supervisors, administrators); a lead's schedules
    # are always limited to the lead's own department.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    recipient_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recipient_name: Mapped[str] = mapped_column(String(100))
    recipient_email: Mapped[str] = mapped_column(String(200))
    group_by: Mapped[str] = mapped_column(String(16), default="department")
    report_format: Mapped[str] = mapped_column(String(8), default=ReportFormat.PDF.value)
    frequency: Mapped[str] = mapped_column(String(8), default=ReportFrequency.MONTHLY.value)
    day: Mapped[int] = mapped_column(Integer, default=1)
    hour: Mapped[int] = mapped_column(Integer, default=8)  # hall-local
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_period: Mapped[str] = mapped_column(String(40), default="")
    last_sent_at: Mapped[datetime | None] = mapped_column()
    # Failures for the period now due; after MAX_FAILURES the period is skipped.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # The recipient's language for the e-mail and its report: "zh" or "en".
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")
