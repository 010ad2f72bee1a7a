"""The hall event log: a durable, gap-free, commit-ordered sequence per hall.

Why not `id > cursor`: ids are handed out when a row is inserted, but rows
become visible when their transaction commits. Transaction T1 may insert id 7,
T2 insert id 8 and commit first; a reader that saw 8 and moved its cursor to 8
never sees 7. Here every transaction that appends events first takes the row
lock on the hall's counter (`UPDATE counters SET value = value + n … RETURNING`;
on PostgreSQL an upsert sent together with COMMIT, see
_append_and_commit_postgres) and holds it until it commits. The next writer of
that hall waits for the lock and reads the committed value, so sequence numbers
are assigned in commit order and without gaps (a rolled-back transaction
releases the lock without advancing the counter). A reader that takes
`seq > cursor` therefore never misses a row.

The lock is taken in the session's before_commit hook, after all other work of
the transaction, so it is held only for the insert and the commit itself.
SQLite serialises writers anyway (BEGIN IMMEDIATE), the same code is correct there.

Readers are woken, not polling: PostgreSQL NOTIFY (sent inside the transaction,
delivered at commit), and on SQLite a datagram to every listening process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.models import Counter, HallEvent, utcnow
from backend.services.rawsql import RawSql, commit_deferred

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "hallkit_events"
PENDING_KEY = "hallkit_pending_events"
COMMITTED_KEY = "hallkit_committed_halls"
DEFERRED_WAKEUPS_KEY = "hallkit_deferred_wakeups"
TAGS_KEY = "hallkit_event_tags"


def counter_name(hall_id: int) -> str:
    return f"events:{hall_id}"


@dataclass(frozen=True)
class EventRecord:
    seq: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.created_at.isoformat(),
            "data": self.payload,
        }


def emit(session: Session, hall_id: int, kind: str, payload: dict[str, Any]) -> None:
    """Queue an event; it is written with its sequence number when the session commits."""
    tags: dict[str, Any] | None = session.info.get(TAGS_KEY)
    if tags:
        payload = {**payload, **tags}
    pending: list[tuple[int, str, dict[str, Any]]] = session.info.setdefault(PENDING_KEY, [])
    pending.append((hall_id, kind, payload))


@contextmanager
def tagged(session: Session, **tags: Any) -> Iterator[None]:
    """Every event emitted meanwhile carries `tags` in its data. A window action
    the hub replays after an outage is emitted with `offline: true`, so the hub,
    which announced that call when it was made, does not announce it again."""
    previous: dict[str, Any] | None = session.info.get(TAGS_KEY)
    session.info[TAGS_KEY] = {**(previous or {}), **tags}
    try:
        yield
    finally:
        if previous is None:
            session.info.pop(TAGS_KEY, None)
        else:
            session.info[TAGS_KEY] = previous


def pending_count(session: Session) -> int:
    """Events queued in this session and not yet written."""
    return len(session.info.get(PENDING_KEY, ()))


def _ensure_counter(session: Session, name: str) -> None:
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(Counter).values(
        name=name, value=0
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["name"]))


def _reserve_sequence(session: Session, hall_id: int, count: int) -> int:
    """Lock the hall's counter until commit and return the first of `count` numbers."""
    name = counter_name(hall_id)
    raw = RawSql.of(session)
    sql = "UPDATE counters SET value = value + %s WHERE name = %s RETURNING value"
    row = raw.one(sql, (count, name))
    if row is None:
        _ensure_counter(session, name)
        row = raw.one(sql, (count, name))
        assert row is not None
    return int(row[0]) - count + 1


def flush_pending(session: Session) -> None:
    """before_commit hook: assign sequence numbers and write the queued events.

    On PostgreSQL this also commits, together with the writes RawSql deferred
    (see _append_and_commit_postgres)."""
    pending: list[tuple[int, str, dict[str, Any]]] | None = session.info.pop(PENDING_KEY, None)
    if not pending:
        commit_deferred(session)
        return
    session.flush()  # ORM work first, so the counter lock is the last lock taken
    by_hall: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for hall_id, kind, payload in pending:
        by_hall.setdefault(hall_id, []).append((kind, payload))
    now = utcnow()
    is_postgres = session.get_bind().dialect.name == "postgresql"
    committed: set[int] = session.info.setdefault(COMMITTED_KEY, set())
    # Always lock counters in hall order so two multi-hall transactions cannot deadlock.
    raw = RawSql.of(session)
    if is_postgres:
        _append_and_commit_postgres(raw, [(h, by_hall[h]) for h in sorted(by_hall)], now)
        committed.update(by_hall)
        return
    for hall_id in sorted(by_hall):
        events = by_hall[hall_id]
        first = _reserve_sequence(session, hall_id, len(events))
        raw.run_many(
            "INSERT INTO hall_events (hall_id, seq, kind, payload, created_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (hall_id, first + offset, kind, raw.json(payload), raw.when(now))
                for offset, (kind, payload) in enumerate(events)
            ],
        )
        committed.add(hall_id)


# PostgreSQL: the counter bump and the insert in one statement. The upsert
# creates a hall's counter on its first event, so the statement never has to be
# retried and its result is not needed. Readers are notified by the statement
# trigger created in migration 0001.
_PG_APPEND = """
    WITH bumped AS (
        INSERT INTO counters (name, value) VALUES (%s, %s)
        ON CONFLICT (name) DO UPDATE SET value = counters.value + EXCLUDED.value
        RETURNING value
    )
    INSERT INTO hall_events (hall_id, seq, kind, payload, created_at)
    SELECT %s, bumped.value - %s + item.ordinality, item.kind, item.payload, %s
    FROM bumped,
         ROWS FROM (jsonb_to_recordset(CAST(%s AS jsonb)) AS (kind text, payload json))
             WITH ORDINALITY AS item(kind, payload, ordinality)
"""


def _append_and_commit_postgres(
    raw: RawSql, batches: list[tuple[int, list[tuple[str, dict[str, Any]]]]], now: datetime
) -> None:
    """Append every hall's events and COMMIT, all in one message to the server.

    The counter row stays locked until the transaction ends. Were COMMIT sent
    after the append's reply, the lock would be held while this process waits
    to be scheduled again, and under load every other writer of the hall queues
    behind that wait (measured: most of PostgreSQL's waits during the call-next
    benchmark were for a client that had the counter locked). Sent together,
    the server releases the lock as soon as the commit is durable.

    The statements go as one simple-protocol query with client-side binding,
    the only way to put several statements in one message. When any of them
    fails the server skips the rest, COMMIT included, and the caller rolls back
    as usual. SQLAlchemy's own COMMIT that follows finds no open transaction and
    sends nothing."""
    statements = []
    params: list[Any] = []
    for hall_id, events in batches:
        items = raw.json([{"kind": kind, "payload": payload} for kind, payload in events])
        statements.append(_PG_APPEND)
        params += [counter_name(hall_id), len(events), hall_id, len(events), now, items]
    raw.execute_and_commit(";".join(statements), tuple(params))


def read_events(session: Session, hall_id: int, after: int, limit: int = 500) -> list[EventRecord]:
    rows = session.execute(
        select(HallEvent.seq, HallEvent.kind, HallEvent.payload, HallEvent.created_at)
        .where(HallEvent.hall_id == hall_id, HallEvent.seq > after)
        .order_by(HallEvent.seq)
        .limit(limit)
    ).all()
    return [EventRecord(int(row.seq), row.kind, row.payload, row.created_at) for row in rows]


def latest_seq(session: Session, hall_id: int) -> int:
    value = session.execute(
        select(Counter.value).where(Counter.name == counter_name(hall_id))
    ).scalar_one_or_none()
    return int(value or 0)


def wake_readers(on_committed: Callable[[Iterable[int]], None], halls: Iterable[int]) -> None:
    try:
        on_committed(halls)
    except Exception:  # a missed wake-up only delays readers until their timeout
        log.exception("event wake-up failed")


def install_session_hooks(
    session_factory: Any, on_committed: Callable[[Iterable[int]], None] | None
) -> None:
    """Attach the event flush (and, for SQLite, the post-commit wake-up) to sessions."""
    from sqlalchemy import event as sa_event

    sa_event.listen(session_factory, "before_commit", flush_pending)

    def _after_commit(session: Session) -> None:
        halls: set[int] | None = session.info.pop(COMMITTED_KEY, None)
        if not halls or on_committed is None:
            return
        deferred: set[int] | None = session.info.get(DEFERRED_WAKEUPS_KEY)
        if deferred is not None:
            deferred.update(halls)  # the Database wakes them after releasing its write lock
        else:
            wake_readers(on_committed, halls)

    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)
        session.info.pop(COMMITTED_KEY, None)

    sa_event.listen(session_factory, "after_commit", _after_commit)
    sa_event.listen(session_factory, "after_soft_rollback", lambda s, _t: _after_rollback(s))


def dumps(record: EventRecord) -> str:
    return json.dumps(record.as_json(), ensure_ascii=False, separators=(",", ":"))
