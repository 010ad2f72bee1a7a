"""the fee charged for a case (cases.fee_charged_fen), checked against the catalog

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table in place beyond ADD COLUMN, and
    # keeps the same code working on both databases.
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("fee_charged_fen", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("fee_charged_fen")
