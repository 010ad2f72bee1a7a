"""ratings.note_sealed; free text of the public stored masked

Revision ID: 0006
Revises: 0005

Rating notes, void reasons, callback records and outcomes are masked as they
are written (backend.privacy.redact_text: phone and ID numbers, e-mail
addresses). Rows written before this revision hold them in clear; they are
masked here with the same function. Their originals are not kept: sealing
needs the hall's secret key, which migrations do not have, and a callback
due before the upgrade has had its chance to use the number.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.privacy import redact_text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FREE_TEXT = {"ratings": ("note", "void_reason"), "rectifications": ("callback_note", "outcome")}


def upgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("note_sealed", sa.Text(), nullable=False, server_default=""))
    connection = op.get_bind()
    for table_name, columns in _FREE_TEXT.items():
        table = sa.table(table_name, sa.column("id"), *(sa.column(name) for name in columns))
        rows = connection.execute(
            sa.select(table).where(sa.or_(*(table.c[name] != "" for name in columns)))
        ).all()
        for row in rows:
            masked = {name: redact_text(getattr(row, name)) for name in columns}
            if any(masked[name] != getattr(row, name) for name in columns):
                connection.execute(sa.update(table).where(table.c.id == row.id).values(**masked))


def downgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("note_sealed")
