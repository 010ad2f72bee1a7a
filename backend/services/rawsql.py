"""Plain DB-API statements for the few hottest writes (call-next and what it
triggers), run on the session's own connection and transaction.

SQLAlchemy Core costs 0.1–0.3 ms of CPU per statement on this class of machine
(cache keys, compilation lookup, result wrapping) — more than SQLite needs to run
the statement. Call-next runs about ten statements for every press of the button
in every window, so those go straight to the driver's cursor. Everything else in
hallkit uses SQLAlchemy.

The SQL is written once with %s placeholders; SQLite gets "?" instead. Values are
converted to what SQLAlchemy itself stores, so both paths read and write the
same rows: on SQLite, UTC datetimes as "YYYY-MM-DD HH:MM:SS.ffffff" text and
dates as ISO text; on PostgreSQL, native timestamptz and date.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from psycopg import ClientCursor
from sqlalchemy import event
from sqlalchemy.orm import Session

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_SESSION_KEY = "hallkit_raw_sql"


@lru_cache(maxsize=256)
def _for_sqlite(sql: str) -> str:
    return sql.replace("%s", "?")


class RawSql:
    """The session's DB-API connection, with value conversion per dialect."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()  # begins the transaction (BEGIN IMMEDIATE on SQLite)
        self.sqlite = connection.dialect.name == "sqlite"
        self._dbapi: Any = connection.connection.driver_connection

    @classmethod
    def of(cls, session: Session) -> RawSql:
        """The transaction's RawSql: asking the session for its connection costs
        more than a SQLite statement, and call-next needs it eight times."""
        raw: RawSql | None = session.info.get(_SESSION_KEY)
        if raw is None:
            raw = session.info[_SESSION_KEY] = cls(session)
        return raw

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        cursor = self._dbapi.cursor()
        cursor.execute(_for_sqlite(sql) if self.sqlite else sql, params)
        return cursor

    def execute_and_commit(self, sql: str, params: tuple[Any, ...]) -> None:
        """PostgreSQL only: `sql` (one or more statements) and COMMIT in one message."""
        with ClientCursor(self._dbapi) as cursor:
            cursor.execute(sql + ";COMMIT", params)

    def run_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        cursor = self._dbapi.cursor()
        try:
            cursor.executemany(_for_sqlite(sql) if self.sqlite else sql, rows)
        finally:
            cursor.close()

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        cursor = self.execute(sql, params)
        try:
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
        finally:
            cursor.close()

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        cursor = self.execute(sql, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    # -- values ---------------------------------------------------------------------
    def when(self, value: datetime) -> Any:
        if self.sqlite:
            return value.astimezone(UTC).strftime(SQLITE_DATETIME)
        return value

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def json(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def json_param(self) -> str:
        """Placeholder for a JSON column: PostgreSQL needs the text cast."""
        return "%s" if self.sqlite else "CAST(%s AS json)"

    def read_when(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, _transaction: Any) -> None:
    # The next transaction may run on another pooled connection.
    session.info.pop(_SESSION_KEY, None)
