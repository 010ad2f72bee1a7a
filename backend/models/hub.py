"""Window actions a hall hub relays or replays (issue 15: calling through an outage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class OfflineAction(Base):
    """One window action the hub sent (a key box online, or replayed after an
    outage), kept under the hub's action_id so a repeat — the hub crashed mid
    replay — gets the first answer back and changes nothing. Conflicts stay here
    too, for the administrator's device page: never silently dropped."""

    __tablename__ = "offline_actions"
    __table_args__ = (Index("ix_offline_actions_hall_outcome", "hall_id", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    action_id: Mapped[str] = mapped_column(String(64), unique=True)
    window_number: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    ticket_display: Mapped[str | None] = mapped_column(String(16))
    employee_no: Mapped[str | None] = mapped_column(String(32))
    # The original time of the act (offline) or when the backend applied it (online).
    at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(16))  # "applied" | "conflict"
    # Ticket number, window, what the centre had, times: no personal data.
    detail: Mapped[str] = mapped_column(String(500), default="")
    reply: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
