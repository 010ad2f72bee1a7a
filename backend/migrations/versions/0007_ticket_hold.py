"""ticket hold (挂起): held_at, resumed_at, hold_reason, closed_reason

Revision ID: 0007
Revises: 0006

The ticket state column is a plain VARCHAR(24) without a CHECK constraint
(enum_column: native_enum=False), so the new state "held" needs no change to it
on either database.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(
            sa.Column("held_at", backend.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resumed_at", backend.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("hold_reason", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("closed_reason", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("resumed_at")
        batch_op.drop_column("held_at")
