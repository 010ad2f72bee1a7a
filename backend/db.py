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

import collections
import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

SQLITE_BEGIN_OPTION = "hallkit_sqlite_begin"
_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}


class FifoLock:
    """A re-entrant thread lock handed over to its waiters in arrival order.

    threading.Lock wakes an arbitrary waiter; measured under the call-next load,
    the unlucky thread of a worker then waited up to 20 ms for the write lock
    while its siblings went ahead, and that wait was most of the tail latency."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[tuple[int, threading.Lock]] = collections.deque()
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None:
                self._owner, self._depth = me, 1
                return
            baton = threading.Lock()
            baton.acquire()
            self._waiters.append((me, baton))
        baton.acquire()  # released by the previous owner once it made us the owner

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def __exit__(self, *_exc: object) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            if not self._waiters:
                self._owner = None
                return
            self._owner, baton = self._waiters.popleft()
            self._depth = 1
            baton.release()


class SqliteWriterLock:
    """One writer at a time across every thread and process using the file.

    SQLite already allows a single writer, but a writer that finds the database
    locked waits in SQLite's busy handler, which sleeps in growing steps (up to
    100 ms); under load that makes the tail latency of every write seconds long.
    A blocking flock() is woken by the kernel the moment the lock is released,
    so writers queue instead of sleeping. flock() is per open file, so threads
    of one process first queue on a FifoLock, in arrival order.

    Taken just before BEGIN IMMEDIATE and given back when the connection returns
    to the pool right after COMMIT or ROLLBACK (see _configure_sqlite), so
    setting up the session and checking out a connection happen outside it."""

    def __init__(self, database_path: str) -> None:
        # Re-entrant, so that a nested write in one thread does not deadlock here
        # (it would still wait on SQLite's own lock); only the outermost level
        # takes and releases the file lock.
        self._thread_lock = FifoLock()
        self._depth = 0
        self._path = database_path + "-writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self._thread_lock.__enter__()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.__exit__()
            raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                assert self._fd is not None
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.__exit__()


class WalCheckpointer:
    """Copies the WAL back into the database file from a background thread.

    By default SQLite checkpoints inside the commit that pushes the WAL past
    1,000 pages, and a checkpoint ends with an fsync of the database file: that
    commit, and every writer queued behind the write lock, waits for the disk.
    A PASSIVE checkpoint needs neither the write lock nor the readers to stop,
    so here it runs every `interval` seconds beside the writers. Their own
    automatic checkpoint stays on with a much higher threshold
    (BACKSTOP_PAGES), so the WAL stays bounded should this thread fall behind.

    Started lazily in the process that writes (a server forks its workers after
    creating the app, and threads do not survive a fork)."""

    BACKSTOP_PAGES = 20_000

    def __init__(self, path: str, interval: float = 0.2) -> None:
        self._path = path
        self._interval = interval
        self._pid: int | None = None
        self._stop = threading.Event()
        self._start_lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            thread.start()
            self._pid = os.getpid()

    def _run(self) -> None:
        import sqlite3

        stop = self._stop
        connection = sqlite3.connect(self._path, timeout=0, check_same_thread=False)
        try:
            while not stop.wait(self._interval):
                # Busy means another process is checkpointing: try again next time.
                with contextlib.suppress(sqlite3.OperationalError):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._pid = None


# On a pooled connection's record: it took the writer lock for its transaction.
_HOLDS_WRITER_LOCK = "hallkit_holds_writer_lock"


def _configure_sqlite(
    engine: Engine,
    *,
    autocheckpoint_pages: int | None = None,
    writer_lock: SqliteWriterLock | None = None,
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode across app crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if autocheckpoint_pages is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint_pages)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        pooled = connection.connection
        if mode == "IMMEDIATE" and writer_lock is not None:
            writer_lock.acquire()
            pooled.info[_HOLDS_WRITER_LOCK] = True
        try:
            # Straight to the driver: exec_driver_sql costs several times the BEGIN itself.
            pooled.driver_connection.execute(_BEGIN[mode])
        except BaseException:
            if pooled.info.pop(_HOLDS_WRITER_LOCK, False):
                writer_lock.release()  # type: ignore[union-attr]
            raise

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection goes back to the pool as soon as its transaction ended
        # (the Session gives it back at COMMIT or ROLLBACK), also when it was
        # invalidated by an error: the one place every write transaction passes.
        if record.info.pop(_HOLDS_WRITER_LOCK, False):
            assert writer_lock is not None
            writer_lock.release()


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
        background_checkpoints: bool = False,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._on_committed = on_committed
        self._checkpointer: WalCheckpointer | None = None
        if self.is_sqlite:
            self.engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 10},
                pool_size=16,
                max_overflow=16,
            )
            path = self.engine.url.database
            on_disk = bool(path) and path != ":memory:"
            if background_checkpoints and on_disk:
                assert path is not None
                self._checkpointer = WalCheckpointer(path)
            self._writer_lock = SqliteWriterLock(path) if on_disk and path else None
            _configure_sqlite(
                self.engine,
                autocheckpoint_pages=WalCheckpointer.BACKSTOP_PAGES if self._checkpointer else None,
                writer_lock=self._writer_lock,
            )
            write_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        else:
            # No pre-ping: it is a round trip on every checkout of the hot path;
            # connections are recycled instead, and a dropped one fails one request.
            self.engine = create_engine(
                url, echo=echo, pool_size=16, max_overflow=16, pool_recycle=1800
            )
            from backend.services.rawsql import send_deferred_before_other_statements

            send_deferred_before_other_statements(self.engine)
            write_engine = self.engine
            self._writer_lock = None
        # PostgreSQL reads run in READ ONLY transactions and end with COMMIT (see
        # reading()); SQLite's read sessions never take the write lock anyway.
        read_engine = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(postgresql_readonly=True)
        )
        self._read_factory = sessionmaker(read_engine, expire_on_commit=False)
        self._write_factory = sessionmaker(write_engine, expire_on_commit=False)
        from backend.services import eventlog  # imports the models, which import this module

        self._eventlog = eventlog
        for factory in (self._read_factory, self._write_factory):
            eventlog.install_session_hooks(factory, on_committed)

    @classmethod
    def with_wakeups(cls, url: str, var_dir: Path, *, echo: bool = False) -> Database:
        """A Database whose commits also wake event readers in other processes."""
        from backend.services.wakeup import DatagramNotifier

        notifier = DatagramNotifier(var_dir / "run" / "wake") if url.startswith("sqlite") else None
        return cls(url, echo=echo, on_committed=notifier, background_checkpoints=True)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_factory()
        try:
            yield session
            if not self.is_sqlite and session.in_transaction():
                # psycopg answers a ROLLBACK with DEALLOCATE ALL once it has prepared
                # statements, so ending every read with one (what close() does) threw
                # away the prepared statements of the write path sharing the pooled
                # connection. The transaction is READ ONLY: its COMMIT ends the same
                # nothing, and a write slipped into a read session fails loudly.
                session.commit()
        finally:
            # close() ends the transaction without expiring what was loaded, so
            # objects read here stay usable (detached) by the caller.
            session.close()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        if self._writer_lock is None:
            with self._transaction() as session:
                yield session
            return
        if self._checkpointer is not None:
            self._checkpointer.ensure_running()
        woken: set[int] = set()
        # The writer lock is taken by the transaction's BEGIN (see _configure_sqlite).
        with self._transaction(woken) as session:
            yield session
        # Readers are woken once the write lock is free: waking them is a few
        # system calls that the next writer need not wait for.
        if woken and self._on_committed is not None:
            self._eventlog.wake_readers(self._on_committed, woken)

    @contextmanager
    def _transaction(self, defer_wakeups: set[int] | None = None) -> Iterator[Session]:
        session = self._write_factory()
        if defer_wakeups is not None:
            session.info[self._eventlog.DEFERRED_WAKEUPS_KEY] = defer_wakeups
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()


def make_unpooled_engine(url: str) -> Engine:
    """For scripts and migrations that run once and exit."""
    return create_engine(url, poolclass=NullPool)
