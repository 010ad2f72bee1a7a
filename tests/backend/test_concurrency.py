"""Concurrency: call-next is atomic, and the event log never loses or repeats an
event for a cursor reader while many transactions commit at once.

Threads with their own database connections give real concurrency at the
database (the GIL is released while waiting on it); the multi-process test adds
separate interpreters with separate connection pools. Both run on PostgreSQL
and SQLite; the rounds and counts are fixed so the tests are bounded.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.db import Database
from backend.models import Hall, Ticket, TicketState, Window, WindowCategory, WindowState
from backend.services import eventlog, queue

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
CLERKS = 8
ROUNDS = 3
TICKETS_PER_ROUND = 120


def _hall_id(db: Database) -> int:
    with db.reading() as session:
        return session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()


def _open_windows_serving_a(db: Database, count: int) -> list[int]:
    """Open `count` windows and make each serve category A (weight 1)."""
    hall_id = _hall_id(db)
    with db.writing() as session:
        windows = (
            session.execute(
                select(Window).where(Window.hall_id == hall_id).order_by(Window.id).limit(count)
            )
            .scalars()
            .all()
        )
        category_id = queue.category_by_prefix(session, hall_id, "A").id
        for window in windows:
            window.state = WindowState.OPEN
            link = session.get(WindowCategory, (window.id, category_id))
            if link is None:
                session.add(WindowCategory(window_id=window.id, category_id=category_id, weight=1))
        return [w.id for w in windows]


def _issue_many(db: Database, count: int, start: datetime) -> list[str]:
    hall_id = _hall_id(db)
    numbers = []
    with db.writing() as session:
        for i in range(count):
            numbers.append(
                queue.issue_ticket(
                    session,
                    hall_id=hall_id,
                    category_prefix="A",
                    now=start + timedelta(milliseconds=i),
                    actor="test",
                ).number
            )
    return numbers


def _clerk_loop(url: str, window_id: int, at: datetime, results: list[tuple[str, int]]) -> None:
    database = Database(url)
    try:
        while True:
            with database.writing() as session:
                called = queue.call_next(
                    session, window_id=window_id, staff_id=None, now=at, actor="test"
                )
            if called.ticket is None:
                return
            results.append((called.ticket.number, window_id))
    finally:
        database.dispose()


def _only_category_a(db: Database, window_ids: list[int]) -> None:
    hall_id = _hall_id(db)
    with db.writing() as session:
        category_id = queue.category_by_prefix(session, hall_id, "A").id
        for link in session.execute(
            select(WindowCategory).where(WindowCategory.window_id.in_(window_ids))
        ).scalars():
            if link.category_id != category_id:
                session.delete(link)


def test_concurrent_call_next_never_duplicates_or_skips(db: Database) -> None:
    windows = _open_windows_serving_a(db, CLERKS)
    _only_category_a(db, windows)
    for round_number in range(ROUNDS):
        start = T0 + timedelta(minutes=10 * round_number)
        issued = _issue_many(db, TICKETS_PER_ROUND, start)
        results: list[tuple[str, int]] = []
        threads = [
            threading.Thread(
                target=_clerk_loop, args=(db.url, w, start + timedelta(minutes=5), results)
            )
            for w in windows
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        called = [number for number, _window in results]
        duplicates = [n for n, c in Counter(called).items() if c > 1]
        assert duplicates == []
        assert sorted(called) == sorted(issued)  # nobody skipped, nobody invented
        # FCFS per window: each clerk's calls come in issue order.
        for window in windows:
            mine = [n for n, w in results if w == window]
            assert mine == sorted(mine)
        with db.reading() as session:
            waiting = session.execute(
                select(Ticket.id).where(Ticket.state == TicketState.WAITING)
            ).all()
        assert waiting == []


def _process_clerk(url: str, window_id: int, at_iso: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results: list[tuple[str, int]] = []
    _clerk_loop(url, window_id, datetime.fromisoformat(at_iso), results)
    out.put(results)


def test_call_next_across_processes(db: Database) -> None:
    windows = _open_windows_serving_a(db, 4)
    _only_category_a(db, windows)
    issued = _issue_many(db, 80, T0)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [
        context.Process(
            target=_process_clerk, args=(db.url, w, (T0 + timedelta(minutes=5)).isoformat(), out)
        )
        for w in windows
    ]
    for process in processes:
        process.start()
    collected: list[tuple[str, int]] = []
    for _ in processes:
        collected.extend(out.get(timeout=120))
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    called = [number for number, _w in collected]
    assert len(called) == len(set(called))
    assert sorted(called) == sorted(issued)


def test_event_log_cursor_sees_every_commit_once_in_order(db: Database) -> None:
    """Writers commit in an order different from their insert order (a slow
    transaction holds its events while others commit); a reader polling
    `seq > cursor` must still see every event exactly once, with no gaps."""
    hall_id = _hall_id(db)
    writers, events_per_writer = 6, 40
    stop = threading.Event()
    seen: list[tuple[int, str]] = []

    def writer(index: int) -> None:
        database = Database(db.url)
        try:
            for n in range(events_per_writer):
                with database.writing() as session:
                    eventlog.emit(session, hall_id, "test", {"writer": index, "n": n})
                    if n % 7 == 0:  # a transaction that did other work first
                        session.execute(select(Ticket.id).limit(1)).all()
        finally:
            database.dispose()

    def reader() -> None:
        database = Database(db.url)
        cursor = 0
        try:
            while True:
                # Read the flag before reading: when it was already set, every
                # writer had committed, so an empty batch really is the end.
                writers_done = stop.is_set()
                with database.reading() as session:
                    batch = eventlog.read_events(session, hall_id, cursor, limit=50)
                for record in batch:
                    assert record.seq == cursor + 1, f"gap or repeat at {record.seq}"
                    cursor = record.seq
                    seen.append((record.seq, f"{record.payload['writer']}:{record.payload['n']}"))
                if not batch and writers_done:
                    break
        finally:
            database.dispose()

    reader_thread = threading.Thread(target=reader)
    reader_thread.start()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    reader_thread.join(timeout=60)
    assert not reader_thread.is_alive()
    payloads = [p for _seq, p in seen]
    assert len(payloads) == writers * events_per_writer
    assert len(set(payloads)) == len(payloads)
    # Each writer's own events appear in the order it committed them.
    for index in range(writers):
        mine = [int(p.split(":")[1]) for p in payloads if p.startswith(f"{index}:")]
        assert mine == list(range(events_per_writer))


def test_rolled_back_transaction_leaves_no_gap(db: Database) -> None:
    hall_id = _hall_id(db)
    with db.reading() as session:
        before = eventlog.latest_seq(session, hall_id)
    try:
        with db.writing() as session:
            eventlog.emit(session, hall_id, "test", {"n": 1})
            session.flush()
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with db.writing() as session:
        eventlog.emit(session, hall_id, "test", {"n": 2})
    with db.reading() as session:
        events = eventlog.read_events(session, hall_id, before)
    assert [(e.seq, e.payload["n"]) for e in events] == [(before + 1, 2)]
