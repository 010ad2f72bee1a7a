"""calendar_years (a year's holiday notice confirmed) and rating_appeals (申诉)

Revision ID: 0008
Revises: 0007

A confirmed year's days stop being provisional (backend.workdays). The table
starts empty: every year the calendar package does not know stays provisional
until an administrator imports its notice and confirms it.

rating_appeals: the rated clerk's appeal against a 差评 and the supervisor's
decision; at most one pending appeal per rating (partial unique index).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    when = backend.models.base.UTCDateTime(timezone=True)
    op.create_table(
        "rating_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_staff_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_at", when, nullable=False),
        sa.Column("decide_due", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "upheld", "rejected", name="appealstate", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("decided_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", when, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_id"], ["ratings.id"], name=op.f("fk_rating_appeals_rating_id_ratings")
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_rating_appeals_filed_by_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_rating_appeals_decided_by_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_appeals")),
    )
    op.create_index(
        op.f("ix_rating_appeals_rating_id"), "rating_appeals", ["rating_id"], unique=False
    )
    op.create_index(
        "uq_rating_appeals_pending",
        "rating_appeals",
        ["rating_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_rating_appeals_pending", table_name="rating_appeals")
    op.drop_index(op.f("ix_rating_appeals_rating_id"), table_name="rating_appeals")
    op.drop_table("rating_appeals")
    op.drop_table("calendar_years")
