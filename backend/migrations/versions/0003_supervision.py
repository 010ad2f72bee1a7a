"""supervision (电子监察) alerts and the indexes of the performance queries

Revision ID: 0003
Revises: 0002

Indexes added on existing tables, each for a query in backend/services/
supervision.py or performance.py (measured with bench/supervision_queries.py):

* ix_case_events_at: the event-driven checks re-read the last minutes of events.
* ix_cases_open_due: time-limit monitoring reads only open cases by due date.
* ix_cases_completed_at: on-time / overdue counts per period.
* ix_tickets_service_day: every performance query filters tickets by day.
* ix_ratings_rated_at: satisfaction per period.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CASE_STATES = "state IN ('accepted', 'undertaking', 'reviewing', 'approved')"


def upgrade() -> None:
    op.create_table(
        "supervision_discipline_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"],
            name=op.f("fk_supervision_discipline_contacts_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_discipline_contacts")),
    )
    op.create_table(
        "supervision_staff_contacts",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_supervision_staff_contacts_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_supervision_staff_contacts")),
    )
    op.create_table(
        "supervision_scan_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_supervision_scan_cursors")),
    )
    op.create_table(
        "supervision_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("handler_staff_id", sa.Integer(), nullable=True),
        sa.Column("condition", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("acknowledge_note", sa.Text(), nullable=False),
        sa.Column("cleared_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("clear_reason", sa.String(length=32), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_staff_id"], ["staff.id"],
            name=op.f("fk_supervision_alerts_acknowledged_by_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_supervision_alerts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"],
            name=op.f("fk_supervision_alerts_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_supervision_alerts_hall_id_halls")
        ),
        sa.ForeignKeyConstraint(
            ["handler_staff_id"], ["staff.id"],
            name=op.f("fk_supervision_alerts_handler_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_alerts")),
    )
    with op.batch_alter_table("supervision_alerts") as batch:
        batch.create_index("ix_supervision_alerts_case_id", ["case_id"])
        batch.create_index("ix_supervision_alerts_department_id", ["department_id"])
        batch.create_index("ix_supervision_alerts_handler_staff_id", ["handler_staff_id"])
        batch.create_index(
            "ix_supervision_alerts_state", ["cleared_at", "acknowledged_at", "created_at"]
        )
        batch.create_index(
            "uq_supervision_alerts_open_condition",
            ["case_id", "kind", "condition"],
            unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )
    op.create_table(
        "supervision_alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient_role", sa.String(length=24), nullable=False),
        sa.Column("recipient_staff_id", sa.Integer(), nullable=True),
        sa.Column("recipient_contact_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(length=100), nullable=False),
        sa.Column("address_masked", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["supervision_alerts.id"],
            name=op.f("fk_supervision_alert_deliveries_alert_id_supervision_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_contact_id"], ["supervision_discipline_contacts.id"],
            name=op.f(
                "fk_supervision_alert_deliveries_recipient_contact_id_supervision_discipline_contacts"
            ),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_staff_id"], ["staff.id"],
            name=op.f("fk_supervision_alert_deliveries_recipient_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_alert_deliveries")),
    )
    with op.batch_alter_table("supervision_alert_deliveries") as batch:
        batch.create_index("ix_supervision_alert_deliveries_alert_id", ["alert_id"])
        batch.create_index(
            "ix_supervision_deliveries_pending",
            ["id"],
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        )

    # Indexes on existing tables for the scan and the performance queries.
    op.create_index("ix_case_events_at", "case_events", ["at"])
    op.create_index(
        "ix_cases_open_due",
        "cases",
        ["due_on"],
        sqlite_where=sa.text(OPEN_CASE_STATES),
        postgresql_where=sa.text(OPEN_CASE_STATES),
    )
    op.create_index("ix_cases_completed_at", "cases", ["completed_at"])
    op.create_index("ix_tickets_service_day", "tickets", ["service_day"])
    op.create_index("ix_ratings_rated_at", "ratings", ["rated_at"])


def downgrade() -> None:
    op.drop_index("ix_ratings_rated_at", table_name="ratings")
    op.drop_index("ix_tickets_service_day", table_name="tickets")
    op.drop_index("ix_cases_completed_at", table_name="cases")
    op.drop_index("ix_cases_open_due", table_name="cases")
    op.drop_index("ix_case_events_at", table_name="case_events")
    op.drop_table("supervision_alert_deliveries")
    op.drop_table("supervision_alerts")
    op.drop_table("supervision_scan_cursors")
    op.drop_table("supervision_staff_contacts")
    op.drop_table("supervision_discipline_contacts")
