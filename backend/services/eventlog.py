"""The hall event log: a durable, gap-free, commit-ordered sequence per hall.

Why not `id > cursor`: ids are handed out when a row is inserted, but rows
become visible when their transaction commits. Transaction T1 may insert id 7,
T2 insert id 8 and commit first; a reader that saw 8 and moved its cursor to 8
never sees 7. Here every transaction that appends events first takes the row
lock on the hall's counter (`UPDATE counters SET value = value + n … RETURNING`)
and holds it until it commits. The next writer of that hall waits for the lock
and reads the committed value, so sequence numbers are assigned in commit order
and without gaps (a rolled-back transaction releases the lock without advancing
the counter). A reader that takes `seq > cursor` therefore never misses a row.

The lock is taken in the session's before_commit hook, after all other work of
the transaction, so it is held only for the insert and the commit itself.
SQLite serialises writers anyway (BEGIN IMMEDIATE), the same code is correct there.

Readers are woken, not polling: PostgreSQL NOTIFY (sent inside the transaction,
delivered at commit), and on SQLite a datagram to every listening process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.models import Counter, HallEvent, utcnow

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "hallkit_events"
PENDING_KEY = "hallkit_pending_events"
COMMITTED_KEY = "hallkit_committed_halls"


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
    pending: list[tuple[int, str, dict[str, Any]]] = session.info.setdefault(PENDING_KEY, [])
    pending.append((hall_id, kind, payload))


def _ensure_counter(session: Session, name: str) -> None:
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(Counter).values(
        name=name, value=0
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["name"]))


def _reserve_sequence(session: Session, hall_id: int, count: int) -> int:
    """Lock the hall's counter until commit and return the first of `count` numbers."""
    name = counter_name(hall_id)
    statement = (
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + count)
        .returning(Counter.value)
    )
    connection = session.connection()
    last = connection.execute(statement).scalar_one_or_none()
    if last is None:
        _ensure_counter(session, name)
        last = connection.execute(statement).scalar_one()
    return int(last) - count + 1


def flush_pending(session: Session) -> None:
    """before_commit hook: assign sequence numbers and write the queued events."""
    pending: list[tuple[int, str, dict[str, Any]]] | None = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    session.flush()  # ORM work first, so the counter lock is the last lock taken
    by_hall: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for hall_id, kind, payload in pending:
        by_hall.setdefault(hall_id, []).append((kind, payload))
    now = utcnow()
    is_postgres = session.get_bind().dialect.name == "postgresql"
    committed: set[int] = session.info.setdefault(COMMITTED_KEY, set())
    # Always lock counters in hall order so two multi-hall transactions cannot deadlock.
    for hall_id in sorted(by_hall):
        events = by_hall[hall_id]
        rows = [
            {"hall_id": hall_id, "kind": kind, "payload": payload, "created_at": now}
            for kind, payload in events
        ]
        if is_postgres:
            _append_postgres(session, hall_id, rows)
        else:
            first = _reserve_sequence(session, hall_id, len(events))
            for offset, row in enumerate(rows):
                row["seq"] = first + offset
            session.connection().execute(insert(HallEvent.__table__), rows)
        committed.add(hall_id)


# PostgreSQL: the counter bump and the insert in one statement (one round trip);
# readers are notified by the statement trigger created in migration 0001.
_PG_APPEND = text(
    """
    WITH bumped AS (
        UPDATE counters SET value = value + :count WHERE name = :name RETURNING value
    )
    INSERT INTO hall_events (hall_id, seq, kind, payload, created_at)
    SELECT :hall_id, bumped.value - :count + item.ordinality, item.kind, item.payload,
           :created_at
    FROM bumped,
         ROWS FROM (jsonb_to_recordset(CAST(:items AS jsonb)) AS (kind text, payload json))
             WITH ORDINALITY AS item(kind, payload, ordinality)
    RETURNING seq
    """
)


def _append_postgres(session: Session, hall_id: int, rows: list[dict[str, Any]]) -> None:
    name = counter_name(hall_id)
    params = {
        "count": len(rows),
        "name": name,
        "hall_id": hall_id,
        "created_at": rows[0]["created_at"],
        "items": json.dumps(
            [{"kind": r["kind"], "payload": r["payload"]} for r in rows], ensure_ascii=False
        ),
    }
    connection = session.connection()
    inserted = connection.execute(_PG_APPEND, params).all()
    if not inserted:  # the hall's counter row does not exist yet
        _ensure_counter(session, name)
        connection.execute(_PG_APPEND, params).all()


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


def install_session_hooks(
    session_factory: Any, on_committed: Callable[[Iterable[int]], None] | None
) -> None:
    """Attach the event flush (and, for SQLite, the post-commit wake-up) to sessions."""
    from sqlalchemy import event as sa_event

    sa_event.listen(session_factory, "before_commit", flush_pending)

    def _after_commit(session: Session) -> None:
        halls: set[int] | None = session.info.pop(COMMITTED_KEY, None)
        if halls and on_committed is not None:
            try:
                on_committed(halls)
            except Exception:  # a missed wake-up only delays readers until their timeout
                log.exception("event wake-up failed")

    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)
        session.info.pop(COMMITTED_KEY, None)

    sa_event.listen(session_factory, "after_commit", _after_commit)
    sa_event.listen(session_factory, "after_soft_rollback", lambda s, _t: _after_rollback(s))


def dumps(record: EventRecord) -> str:
    return json.dumps(record.as_json(), ensure_ascii=False, separators=(",", ":"))
