"""Engine and sessions for SQLite and PostgreSQL.

SQLite: WAL mode so readers never block the writer, and write transactions
start with BEGIN IMMEDIATE. A deferred transaction that reads and then writes
can fail with "database is locked" when another writer got in between (the
lock upgrade is refused rather than waited for); taking the write lock up
front turns that into an ordinary wait under busy_timeout. Read-only sessions
use a plain BEGIN and never take the lock.

PostgreSQL: READ COMMITTED; the code that must be atomic (call-next, event
sequence numbers, counters) locks the rows it depends on explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

SQLITE_BEGIN_OPTION = "hallkit_sqlite_begin"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode across app crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine per process, with separate factories for reading and writing.

    Every session of this Database writes the hall events queued with
    `eventlog.emit` when it commits, so a service used from a script or the CLI
    behaves exactly as it does behind the API. `on_committed` is told which
    halls got new events (the SQLite wake-up of event readers)."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        on_committed: Callable[[Iterable[int]], None] | None = None,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 10},
                pool_size=16,
                max_overflow=16,
            )
            _configure_sqlite(self.engine)
            write_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        else:
            self.engine = create_engine(
                url, echo=echo, pool_size=16, max_overflow=16, pool_pre_ping=True
            )
            write_engine = self.engine
        self._read_factory = sessionmaker(self.engine, expire_on_commit=False)
        self._write_factory = sessionmaker(write_engine, expire_on_commit=False)
        from backend.services import eventlog

        for factory in (self._read_factory, self._write_factory):
            eventlog.install_session_hooks(factory, on_committed)

    @classmethod
    def with_wakeups(cls, url: str, var_dir: Path, *, echo: bool = False) -> Database:
        """A Database whose commits also wake event readers in other processes."""
        from backend.services.wakeup import DatagramNotifier

        notifier = DatagramNotifier(var_dir / "run" / "wake") if url.startswith("sqlite") else None
        return cls(url, echo=echo, on_committed=notifier)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_factory()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring what was loaded, so
            # objects read here stay usable (detached) by the caller.
            session.close()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        session = self._write_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def make_unpooled_engine(url: str) -> Engine:
    """For scripts and migrations that run once and exit."""
    return create_engine(url, poolclass=NullPool)
