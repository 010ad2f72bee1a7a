"""offline window actions of the hall hub, and the hub's reported mode on the hall

Revision ID: 0012
Revises: 0011

``offline_actions`` keeps every window action a hub relayed or replayed after an
outage under the hub's action id (idempotency, and the conflicts the
administrator's device page lists); ``halls.hub_*`` is what the hub last said
about itself (PUT hub-state): its console address, its mode and its backlog.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, backend.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # batch mode keeps the same code working on SQLite and PostgreSQL; existing
    # halls start "online", which is what they were until now.
    with op.batch_alter_table("halls") as batch:
        batch.add_column(
            sa.Column("hub_console_url", sa.String(300), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("hub_mode", sa.String(16), nullable=False, server_default="online")
        )
        batch.add_column(_when("hub_mode_at"))
        batch.add_column(sa.Column("hub_pending", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "offline_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("window_number", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("ticket_display", sa.String(length=16), nullable=True),
        sa.Column("employee_no", sa.String(length=32), nullable=True),
        _when("at", nullable=False),
        _when("received_at", nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_offline_actions_hall_id_halls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_actions")),
        sa.UniqueConstraint("action_id", name=op.f("uq_offline_actions_action_id")),
    )
    op.create_index("ix_offline_actions_hall_outcome", "offline_actions", ["hall_id", "outcome"])


def downgrade() -> None:
    op.drop_index("ix_offline_actions_hall_outcome", table_name="offline_actions")
    op.drop_table("offline_actions")
    with op.batch_alter_table("halls") as batch:
        batch.drop_column("hub_pending")
        batch.drop_column("hub_mode_at")
        batch.drop_column("hub_mode")
        batch.drop_column("hub_console_url")
