"""daily performance roll-ups (perf_*_days) and ix_ratings_voided_at

Revision ID: 0005
Revises: 0004

The tables of backend/models/rollup.py. They start empty: until
``hall performance-rollup --from … --to …`` (or the supervision scheduler)
fills a day, the performance queries read that day from the raw tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTOGRAM_BUCKETS = 61  # frozen copy of backend.models.rollup.HISTOGRAM_BUCKETS


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "perf_ticket_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        _count("issued"),
        _count("served"),
        _count("wait_count"),
        sa.Column("wait_sum", sa.Float(), nullable=False, server_default="0"),
        sa.Column("wait_max", sa.Float(), nullable=True),
        _count("service_count"),
        sa.Column("service_sum", sa.Float(), nullable=False, server_default="0"),
        sa.Column("service_max", sa.Float(), nullable=True),
        *(_count(f"w{index:02d}") for index in range(HISTOGRAM_BUCKETS)),
        *(_count(f"s{index:02d}") for index in range(HISTOGRAM_BUCKETS)),
        _fk("perf_ticket_days", "hall_id", "halls"),
        _fk("perf_ticket_days", "window_id", "windows"),
        _fk("perf_ticket_days", "staff_id", "staff"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perf_ticket_days")),
    )
    op.create_index("ix_perf_ticket_days_day", "perf_ticket_days", ["day", "hall_id"])
    op.create_table(
        "perf_case_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        _count("completed"),
        _count("on_time"),
        _fk("perf_case_days", "hall_id", "halls"),
        _fk("perf_case_days", "department_id", "departments"),
        _fk("perf_case_days", "window_id", "windows"),
        _fk("perf_case_days", "staff_id", "staff"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perf_case_days")),
    )
    op.create_index("ix_perf_case_days_day", "perf_case_days", ["day", "hall_id"])
    op.create_table(
        "perf_rating_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        *(_count(f"level{level}") for level in range(1, 6)),
        _count("voided"),
        _count("rectifications"),
        _count("rectified"),
        _count("bad_called_back"),
        _count("bad_rectified"),
        _fk("perf_rating_days", "hall_id", "halls"),
        _fk("perf_rating_days", "department_id", "departments"),
        _fk("perf_rating_days", "window_id", "windows"),
        _fk("perf_rating_days", "staff_id", "staff"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perf_rating_days")),
    )
    op.create_index("ix_perf_rating_days_day", "perf_rating_days", ["day", "hall_id"])
    op.create_table(
        "perf_heat_days",
        _id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        _count("tickets"),
        _count("wait_count"),
        sa.Column("wait_sum", sa.Float(), nullable=False, server_default="0"),
        _fk("perf_heat_days", "hall_id", "halls"),
        _fk("perf_heat_days", "staff_id", "staff"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perf_heat_days")),
    )
    op.create_index("ix_perf_heat_days_day", "perf_heat_days", ["day", "hall_id"])
    op.create_table(
        "perf_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("refreshed_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_perf_rollup_days")),
    )
    op.create_table(
        "perf_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "changes_checked_at", backend.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perf_rollup_state")),
    )
    voided = sa.text("voided_at IS NOT NULL")
    op.create_index(
        "ix_ratings_voided_at",
        "ratings",
        ["voided_at"],
        sqlite_where=voided,
        postgresql_where=voided,
    )


def downgrade() -> None:
    op.drop_index("ix_ratings_voided_at", table_name="ratings")
    op.drop_table("perf_rollup_state")
    op.drop_table("perf_rollup_days")
    for table in ("perf_heat_days", "perf_rating_days", "perf_case_days", "perf_ticket_days"):
        op.drop_index(f"ix_{table}_day", table_name=table)
        op.drop_table(table)
