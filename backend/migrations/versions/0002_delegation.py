"""delegations (委托)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delegator_staff_id", sa.Integer(), nullable=False),
        sa.Column("delegate_staff_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("matter_codes", sa.JSON(), nullable=False),
        sa.Column("starts_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegator_staff_id"],
            ["staff.id"],
            name=op.f("fk_delegations_delegator_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["delegate_staff_id"],
            ["staff.id"],
            name=op.f("fk_delegations_delegate_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    op.create_index(
        "ix_delegations_delegate_period", "delegations", ["delegate_staff_id", "ends_at"]
    )
    op.create_index(
        "ix_delegations_delegator_period", "delegations", ["delegator_staff_id", "ends_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_delegations_delegator_period", table_name="delegations")
    op.drop_index("ix_delegations_delegate_period", table_name="delegations")
    op.drop_table("delegations")
