"""ticket contacts, the SMS outbox and the per-category turn-is-near count

Revision ID: 0009
Revises: 0008

``ticket_contacts`` holds the sealed mobile number a visitor left for a ticket;
``sms_messages`` is the outbox of backend.services.sms (state, attempts, the
gateway's request id); ``queue_categories.turn_near_ahead`` is how many people
ahead trigger the 到号提醒 (3 unless the administrator changes it, 0 = off).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, backend.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("queue_categories") as batch:
        batch.add_column(
            sa.Column("turn_near_ahead", sa.Integer(), nullable=False, server_default="3")
        )
    op.create_table(
        "ticket_contacts",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("phone_cipher", sa.String(length=300), nullable=False),
        sa.Column("phone_last4", sa.String(length=4), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_contacts_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_contacts")),
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("phone_cipher", sa.String(length=300), nullable=False),
        sa.Column("phone_masked", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("claimed_at"),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("provider_request_id", sa.String(length=64), nullable=False),
        sa.Column("provider_message_id", sa.String(length=64), nullable=False),
        _when("created_at", nullable=False),
        _when("sent_at"),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_sms_messages_hall_id_halls")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_sms_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.UniqueConstraint("purpose", "ticket_id", name=op.f("uq_sms_messages_purpose_ticket_id")),
    )
    op.create_index("ix_sms_messages_hall_id", "sms_messages", ["hall_id"])
    op.create_index(
        "ix_sms_messages_due",
        "sms_messages",
        ["next_attempt_at"],
        sqlite_where=sa.text("state = 'queued'"),
        postgresql_where=sa.text("state = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_sms_messages_due", table_name="sms_messages")
    op.drop_index("ix_sms_messages_hall_id", table_name="sms_messages")
    op.drop_table("sms_messages")
    op.drop_table("ticket_contacts")
    with op.batch_alter_table("queue_categories") as batch:
        batch.drop_column("turn_near_ahead")
