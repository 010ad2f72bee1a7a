"""The Database's write path: a failed event append commits nothing, SQLite
readers are woken only after the write lock is free, the write lock spans the
transaction only and is handed over in arrival order, and the background WAL
checkpoint keeps the database file current without a writer doing it."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import select, text

from backend.db import Database, FifoLock, WalCheckpointer
from backend.models import Counter, Hall
from backend.services import eventlog
from backend.services.rawsql import RawSql

CHECKPOINT_DEADLINE_S = 10.0
# The append runs on the driver's own cursor, so the driver's error arrives unwrapped.
REFUSED_BY_THE_DATABASE = (
    sqlalchemy.exc.IntegrityError,
    psycopg.errors.IntegrityError,
    sqlite3.IntegrityError,
)


def _hall_id(database: Database) -> int:
    with database.reading() as session:
        return int(session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one())


def test_a_failed_event_append_commits_nothing(db: Database) -> None:
    hall = _hall_id(db)
    before = _latest(db, hall)
    with pytest.raises(REFUSED_BY_THE_DATABASE), db.writing() as session:
        session.add(Counter(name="probe", value=1))
        eventlog.emit(session, hall, "ticket_called", {"ticket": "A001"})
        # No such hall: the append fails on its foreign key, after the good event.
        eventlog.emit(session, hall + 10_000, "ticket_called", {"ticket": "A002"})
    with db.reading() as session:
        assert session.get(Counter, "probe") is None
    assert _latest(db, hall) == before


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_read_sessions_keep_prepared_statements_and_refuse_writes(
    database: Database,
) -> None:
    # psycopg prepares a statement on its fifth run and, after any ROLLBACK, sends
    # DEALLOCATE ALL: read sessions must not end with one.
    code = select(Hall.id).where(Hall.code == "BH")
    for _ in range(6):  # one pooled connection: this thread never holds two
        with database.writing() as session:
            session.execute(code)
    with database.reading() as session:
        session.execute(code)
    with database.writing() as session:
        prepared = session.execute(text("SELECT count(*) FROM pg_prepared_statements"))
        assert prepared.scalar_one() >= 1
    refused = pytest.raises(sqlalchemy.exc.InternalError, match="read-only")
    with refused, database.reading() as session:
        session.add(Counter(name="written-in-a-read", value=1))
        session.flush()


def test_events_and_the_work_they_describe_commit_together(db: Database) -> None:
    hall = _hall_id(db)
    before = _latest(db, hall)
    with db.writing() as session:
        session.add(Counter(name="probe", value=1))
        eventlog.emit(session, hall, "ticket_called", {"ticket": "A001"})
        eventlog.emit(session, hall, "ticket_called", {"ticket": "A002"})
    with db.reading() as session:
        assert session.get(Counter, "probe") is not None
        events = eventlog.read_events(session, hall, before)
    assert [event.payload["ticket"] for event in events] == ["A001", "A002"]
    assert [event.seq for event in events] == [before + 1, before + 2]


def _counter(database: Database, name: str) -> int | None:
    with database.reading() as session:
        found = session.get(Counter, name)
        return None if found is None else found.value


def test_deferred_writes_keep_program_order_and_commit_with_the_transaction(
    db: Database,
) -> None:
    with db.writing() as session:
        raw = RawSql.of(session)
        raw.defer("INSERT INTO counters (name, value) VALUES (%s, %s)", ("deferred", 1))
        raw.defer("UPDATE counters SET value = value + 1 WHERE name = %s", ("deferred",))
        # A later statement of either kind sees them, in order.
        assert raw.one("SELECT value FROM counters WHERE name = %s", ("deferred",)) == (2,)
        raw.defer("UPDATE counters SET value = value * 10 WHERE name = %s", ("deferred",))
        assert session.get(Counter, "deferred").value == 20  # an ORM read
        raw.defer("UPDATE counters SET value = value + 1 WHERE name = %s", ("deferred",))
        # No event in this transaction: the deferred write goes with COMMIT alone.
    assert _counter(db, "deferred") == 21


def test_deferred_writes_go_with_the_events_or_not_at_all(db: Database) -> None:
    hall = _hall_id(db)
    before = _latest(db, hall)
    with db.writing() as session:
        RawSql.of(session).defer(
            "INSERT INTO counters (name, value) VALUES (%s, %s)", ("with-events", 7)
        )
        eventlog.emit(session, hall, "ticket_called", {"ticket": "A001"})
    assert _counter(db, "with-events") == 7
    assert _latest(db, hall) == before + 1

    with pytest.raises(LookupError), db.writing() as session:
        RawSql.of(session).defer(
            "INSERT INTO counters (name, value) VALUES (%s, %s)", ("rolled-back", 1)
        )
        raise LookupError("the caller gave up")
    assert _counter(db, "rolled-back") is None

    # A deferred write that fails fails the commit: nothing of the transaction stays.
    with pytest.raises(REFUSED_BY_THE_DATABASE), db.writing() as session:
        session.add(Counter(name="beside-a-bad-write", value=1))
        RawSql.of(session).defer(
            "INSERT INTO counters (name, value) VALUES (%s, %s)", ("with-events", 8)
        )
        eventlog.emit(session, hall, "ticket_called", {"ticket": "A002"})
    assert _counter(db, "beside-a-bad-write") is None
    assert _counter(db, "with-events") == 7
    assert _latest(db, hall) == before + 1

    with db.writing() as session:  # the pooled connection carries nothing over
        session.add(Counter(name="next-transaction", value=1))
    assert _counter(db, "next-transaction") == 1
    assert _counter(db, "rolled-back") is None


def _latest(database: Database, hall: int) -> int:
    with database.reading() as session:
        return eventlog.latest_seq(session, hall)


@pytest.fixture
def sqlite_file(sqlite_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "hall.db"
    shutil.copyfile(sqlite_template, target)
    return target


def _writer_lock_is_free(sqlite_file: Path) -> bool:
    """Could another process's writer take the lock right now?"""
    descriptor = os.open(f"{sqlite_file}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)


def test_sqlite_readers_are_woken_after_the_write_lock_is_released(sqlite_file: Path) -> None:
    lock_free_when_woken: list[bool] = []

    def wake(halls: Iterable[int]) -> None:
        lock_free_when_woken.append(_writer_lock_is_free(sqlite_file))

    database = Database(f"sqlite:///{sqlite_file}", on_committed=wake)
    try:
        hall = _hall_id(database)
        with database.writing() as session:
            eventlog.emit(session, hall, "window_paused", {"window": "101"})
    finally:
        database.dispose()
    assert lock_free_when_woken == [True]


def test_sqlite_write_lock_spans_the_transaction_and_nothing_else(sqlite_file: Path) -> None:
    database = Database(f"sqlite:///{sqlite_file}")
    try:
        with database.writing() as session:
            assert _writer_lock_is_free(sqlite_file)  # a session alone takes nothing
            session.execute(text("SELECT 1"))
            assert not _writer_lock_is_free(sqlite_file)  # BEGIN IMMEDIATE took it
        assert _writer_lock_is_free(sqlite_file)  # given back at COMMIT

        with pytest.raises(REFUSED_BY_THE_DATABASE), database.writing() as session:
            session.add(Counter(name="twice", value=1))
            session.flush()
            session.add(Counter(name="twice", value=2))
            session.flush()
        assert _writer_lock_is_free(sqlite_file)  # given back at ROLLBACK after an error

        with pytest.raises(LookupError), database.writing() as session:
            session.execute(text("SELECT 1"))
            raise LookupError("the caller gave up")
        assert _writer_lock_is_free(sqlite_file)
    finally:
        database.dispose()


def test_fifo_lock_is_handed_over_in_arrival_order() -> None:
    lock = FifoLock()
    order: list[int] = []

    def take(number: int) -> None:
        with lock:
            order.append(number)

    threads = []
    with lock, lock:  # re-entrant
        for number in range(6):
            thread = threading.Thread(target=take, args=(number,))
            thread.start()
            threads.append(thread)
            # No event tells that a thread is blocked inside the lock: poll, bounded.
            deadline = time.monotonic() + 5
            while lock.waiting < number + 1:
                assert time.monotonic() < deadline, "a thread never queued"
                time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=5)
    assert order == list(range(6))


def test_background_checkpoint_keeps_the_database_file_current(
    sqlite_file: Path, tmp_path: Path
) -> None:
    database = Database(f"sqlite:///{sqlite_file}", background_checkpoints=True)
    try:
        with database.writing() as session:
            threshold = session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
            # Far above what this test writes: no commit checkpoints by itself.
            assert threshold == WalCheckpointer.BACKSTOP_PAGES
            session.add(Counter(name="checkpointed", value=42))
        deadline = time.monotonic() + CHECKPOINT_DEADLINE_S
        while not _in_main_file(sqlite_file, tmp_path / "copy.db"):
            assert time.monotonic() < deadline, "the WAL was never copied into the database"
            time.sleep(0.05)
    finally:
        database.dispose()


def _in_main_file(database_file: Path, copy: Path) -> bool:
    """Read the database file alone: a copy without its -wal shows only what
    has been checkpointed."""
    shutil.copyfile(database_file, copy)
    connection = sqlite3.connect(copy)
    try:
        row = connection.execute(
            "SELECT value FROM counters WHERE name = 'checkpointed'"
        ).fetchone()
        return row is not None and row[0] == 42
    except sqlite3.DatabaseError:
        return False  # copied halfway through a checkpoint write
    finally:
        connection.close()
        copy.unlink(missing_ok=True)
        Path(f"{copy}-wal").unlink(missing_ok=True)
        Path(f"{copy}-shm").unlink(missing_ok=True)
