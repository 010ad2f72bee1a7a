"""scheduled performance reports (report_schedules)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("recipient_staff_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(length=100), nullable=False),
        sa.Column("recipient_email", sa.String(length=200), nullable=False),
        sa.Column("group_by", sa.String(length=16), nullable=False),
        sa.Column("report_format", sa.String(length=8), nullable=False),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_period", sa.String(length=40), nullable=False),
        sa.Column("last_sent_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_staff_id"], ["staff.id"],
            name=op.f("fk_report_schedules_created_by_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"],
            name=op.f("fk_report_schedules_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_report_schedules_hall_id_halls")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_staff_id"], ["staff.id"],
            name=op.f("fk_report_schedules_recipient_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_schedules")),
    )
    with op.batch_alter_table("report_schedules") as batch:
        batch.create_index("ix_report_schedules_hall_id", ["hall_id"])


def downgrade() -> None:
    with op.batch_alter_table("report_schedules") as batch:
        batch.drop_index("ix_report_schedules_hall_id")
    op.drop_table("report_schedules")
