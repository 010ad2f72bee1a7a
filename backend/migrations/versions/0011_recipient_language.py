"""the recipient's language ("zh" or "en") of report schedules and alert contacts

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("report_schedules", "supervision_staff_contacts", "supervision_discipline_contacts")


def upgrade() -> None:
    # batch mode keeps the same code working on SQLite and PostgreSQL; existing
    # rows get "zh", what they were sent in until now.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("language", sa.String(8), nullable=False, server_default="zh")
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
