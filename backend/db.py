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

import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

SQLITE_BEGIN_OPTION = "hallkit_sqlite_begin"


class SqliteWriterLock:
    """One writer at a time across every thread and process using the file.

    SQLite already allows a single writer, but a writer that finds the database
    locked waits in SQLite's busy handler, which sleeps in growing steps (up to
    100 ms); under load that makes the tail latency of every write seconds long.
    A blocking flock() is woken by the kernel the moment the lock is released,
    so writers queue in order instead of sleeping. flock() is per open file, so
    threads of one process first take a threading.Lock.
    """

    def __init__(self, database_path: str) -> None:
        # Re-entrant, so that a nested write in one thread does not deadlock here
        # (it would still wait on SQLite's own lock); only the outermost level
        # takes and releases the file lock.
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._path = database_path + "-writer.lock"
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)


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
            path = self.engine.url.database
            self._writer_lock = SqliteWriterLock(path) if path and path != ":memory:" else None
        else:
            # No pre-ping: it is a round trip on every checkout of the hot path;
            # connections are recycled instead, and a dropped one fails one request.
            self.engine = create_engine(
                url, echo=echo, pool_size=16, max_overflow=16, pool_recycle=1800
            )
            write_engine = self.engine
            self._writer_lock = None
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
        lock = self._writer_lock.held() if self._writer_lock is not None else nullcontext()
        with lock:
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
