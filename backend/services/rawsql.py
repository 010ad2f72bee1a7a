"""Plain DB-API statements for the few hottest writes (call-next and what it
triggers), run on the session's own connection and transaction.

SQLAlchemy Core costs 0.1–0.3 ms of CPU per statement on this class of machine
(cache keys, compilation lookup, result wrapping) — more than SQLite needs to run
the statement. Call-next runs about ten statements for every press of the button
in every window, so those go straight to the driver's cursor. Everything else in
hallkit uses SQLAlchemy.

On PostgreSQL every statement is a round trip, which costs both the server and
this process more CPU than most of these statements take to run. Writes whose
outcome the transaction never reads back (`defer`) therefore travel in the same
message as the transaction's next statement or as its COMMIT; any other
statement on the connection, ORM ones included, sends them first, so program
order is kept. A rollback drops them unsent, as it would have undone them.
Defer the last writes of a transaction: a statement that carries deferred
writes goes unprepared (planned afresh), which for a query costs more than the
round trip saved. Call-next defers finishing the current ticket, its rating
invitation and marking the next ticket called: 9 round trips per press became 4
(with the other changes in queue.call_next; docs/benchmarks.md has the numbers).

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
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_SESSION_KEY = "hallkit_raw_sql"
# On the pooled connection's info: the deferred writes of its current transaction.
_DEFERRED_KEY = "hallkit_deferred_writes"


@lru_cache(maxsize=256)
def _for_sqlite(sql: str) -> str:
    return sql.replace("%s", "?")


class RawSql:
    """The session's DB-API connection, with value conversion per dialect."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()  # begins the transaction (BEGIN IMMEDIATE on SQLite)
        self.sqlite = connection.dialect.name == "sqlite"
        self._dbapi: Any = connection.connection.driver_connection
        self._connection_info = connection.info
        self._deferred: list[tuple[str, tuple[Any, ...]]] = []

    @classmethod
    def of(cls, session: Session) -> RawSql:
        """The transaction's RawSql: asking the session for its connection costs
        more than a SQLite statement, and call-next needs it eight times."""
        raw: RawSql | None = session.info.get(_SESSION_KEY)
        if raw is None:
            raw = session.info[_SESSION_KEY] = cls(session)
        return raw

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self._deferred:
            return self._send_with_deferred(sql, params)
        cursor = self._dbapi.cursor()
        cursor.execute(_for_sqlite(sql) if self.sqlite else sql, params)
        return cursor

    def defer(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """A write whose outcome this transaction does not read (no result, no row
        count): sent with the next statement or with COMMIT on PostgreSQL (see the
        module's docstring); run at once on SQLite, where it costs no round trip."""
        if self.sqlite:
            self.run(sql, params)
            return
        if not self._deferred:
            self._connection_info[_DEFERRED_KEY] = self
        self._deferred.append((sql, params))

    def flush_deferred(self) -> None:
        """Send the deferred writes now (before a statement that bypasses this object)."""
        if self._deferred:
            self._send_with_deferred("", ()).close()

    def execute_and_commit(self, sql: str, params: tuple[Any, ...]) -> None:
        """PostgreSQL only: the deferred writes, `sql` (one or more statements) and
        COMMIT in one message."""
        self._send_with_deferred(sql + ";COMMIT" if sql else "COMMIT", params).close()

    def _send_with_deferred(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One simple-protocol query (client-side binding: the only way to put several
        statements in one message): the deferred writes, then `sql`. The cursor is
        left on the last statement's result. When a statement fails the server skips
        the rest, and the caller's exception rolls the transaction back."""
        statements = [statement for statement, _ in self._deferred]
        values = [value for _, statement_params in self._deferred for value in statement_params]
        self._forget_deferred()
        if sql:
            statements.append(sql)
            values.extend(params)
        cursor = ClientCursor(self._dbapi)
        cursor.execute(";".join(statements), tuple(values))
        while cursor.nextset():
            pass
        return cursor

    def _forget_deferred(self) -> None:
        self._deferred = []
        self._connection_info.pop(_DEFERRED_KEY, None)

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
    # The next transaction may run on another pooled connection; writes still
    # deferred here belong to a transaction that rolled back.
    raw: RawSql | None = session.info.pop(_SESSION_KEY, None)
    if raw is not None:
        raw._forget_deferred()


def commit_deferred(session: Session) -> None:
    """PostgreSQL, from before_commit when no events carry them: the deferred
    writes and COMMIT in one message."""
    raw: RawSql | None = session.info.get(_SESSION_KEY)
    if raw is not None and raw._deferred:
        session.flush()  # ORM work first: it would otherwise follow the COMMIT
        raw.execute_and_commit("", ())


def send_deferred_before_other_statements(engine: Engine) -> None:
    """Keep program order on PostgreSQL: a statement that does not go through
    RawSql (the ORM, Core) first sends the writes deferred before it."""

    @event.listens_for(engine, "before_cursor_execute")
    def _send_deferred(connection: Any, *_args: Any) -> None:
        raw: RawSql | None = connection.info.get(_DEFERRED_KEY)
        if raw is not None:
            raw.flush_deferred()
