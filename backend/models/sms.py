"""Text messages to visitors: the number a visitor left for a ticket, and the
outbox of messages sent through the SMS gateway (backend.services.sms)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class SmsState(enum.StrEnum):
    OFF = "off"  # no gateway configured: the channel is off and nothing was sent
    QUEUED = "queued"  # waiting for its (next) attempt at next_attempt_at
    SENDING = "sending"  # claimed by one dispatcher
    SENT = "sent"  # the gateway accepted it (provider_request_id says which request)
    FAILED = "failed"  # the gateway refused it, or every attempt failed (last_error says why)
    CANCELLED = "cancelled"  # no longer true when its turn came (the ticket was already called)


OPEN_SMS_STATES = (SmsState.QUEUED, SmsState.SENDING)


class TicketContact(Base):
    """The mobile number a visitor gave for a ticket (at the kiosk, the desk, or
    in the booking the ticket came from), sealed like every personal number.

    ``armed`` is set when the number is given with more than the category's
    turn-is-near count of people ahead: someone already that close is in the
    hall and gets no message."""

    __tablename__ = "ticket_contacts"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    phone_cipher: Mapped[str] = mapped_column(String(300))
    phone_last4: Mapped[str] = mapped_column(String(4))
    armed: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsMessage(Base):
    """One text message and its delivery. The text itself is not stored: only the
    template's parameters (a ticket number, a window, a hall name), which is all
    a message may contain; the number is stored sealed.

    At most one message of a purpose per ticket (the unique constraint): two
    dispatchers that both see a ticket reach its turn insert one row."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        UniqueConstraint("purpose", "ticket_id"),
        Index(
            "ix_sms_messages_due",
            "next_attempt_at",
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(24))  # turn_near
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    phone_cipher: Mapped[str] = mapped_column(String(300))
    phone_masked: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default=SmsState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    provider_request_id: Mapped[str] = mapped_column(String(64), default="")
    provider_message_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
