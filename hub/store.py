"""The hub's durable local state (one SQLite file): what must survive a restart.

- the event cursor: the last backend event whose effects the broker has accepted;
- the state sequence high-water mark: `seq` of published state only grows, even
  across restarts (devices ignore lower numbers);
- the outbox: tickets issued offline and ratings accepted while the backend was
  away, in arrival order, each with its idempotency key;
- reserved ticket blocks: numbers the backend set aside for offline issuing;
- rate-now requests seen in the event log: which backend ticket a rating answers;
- kept documents (meta `doc:<key>`): the offline queue (hub.offline_queue), saved
  with the outbox entry of the window action that changed it.

Every write commits before the call returns (synchronous=FULL), so an entry the
hub has confirmed to a device is on disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    device_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS ticket_blocks (
    category TEXT NOT NULL,
    service_day TEXT NOT NULL,
    first_number INTEGER NOT NULL,
    last_number INTEGER NOT NULL,
    next_number INTEGER NOT NULL,
    PRIMARY KEY (category, service_day, first_number)
);
CREATE TABLE IF NOT EXISTS rate_requests (
    request_id TEXT PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    window TEXT NOT NULL
);
"""

CURSOR_KEY: Final = "event_cursor"
SEQ_KEY: Final = "state_seq_high_water"
# seq numbers are reserved on disk in steps of this size, so a publish costs no
# disk write; after a crash the next run starts above everything handed out.
SEQ_STEP: Final = 1000


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    kind: str
    key: str
    device_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class TicketBlock:
    category: str
    service_day: date
    first_number: int
    last_number: int
    next_number: int

    @property
    def remaining(self) -> int:
        return self.last_number - self.next_number + 1


class HubStore:
    """Thread-safe access to the hub's SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._seq = 0
        self._seq_limit = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ----------------------------------------------------------------- cursor, seq

    def cursor(self) -> int:
        with self._lock:
            value = self._meta(CURSOR_KEY)
        return int(value) if value is not None else 0

    def save_cursor(self, cursor: int) -> None:
        with self._transaction() as db:
            self._set_meta(db, CURSOR_KEY, str(cursor))

    def next_seq(self) -> int:
        """A state sequence number larger than any handed out before, in this run or earlier."""
        with self._lock:
            if self._seq >= self._seq_limit:
                stored = self._meta(SEQ_KEY)
                base = max(int(stored) if stored is not None else 0, self._seq)
                self._db.execute("BEGIN IMMEDIATE")
                self._set_meta(self._db, SEQ_KEY, str(base + SEQ_STEP))
                self._db.execute("COMMIT")
                self._seq, self._seq_limit = base, base + SEQ_STEP
            self._seq += 1
            return self._seq

    # ------------------------------------------------------------------- outbox

    def enqueue(self, kind: str, key: str, device_id: str, payload: dict[str, Any]) -> bool:
        """Add an entry; False if an entry with this key is already queued (a retry)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO outbox (kind, key, device_id, payload) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO NOTHING",
                (kind, key, device_id, json.dumps(payload, ensure_ascii=False)),
            )
            return cursor.rowcount == 1

    def queued(self, key: str) -> OutboxEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, kind, key, device_id, payload, attempts FROM outbox WHERE key = ?",
                (key,),
            ).fetchone()
        return None if row is None else _entry(row)

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """Oldest first: replayed in the order the hall produced them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, key, device_id, payload, attempts FROM outbox "
                "ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def outbox_depth(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    def delivered(self, entry_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def attempt_failed(self, entry_id: int, error: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], entry_id),
            )

    def dead_letter(self, entry: OutboxEntry, reason: str) -> None:
        """The backend refused an entry for good: keep it for an operator, stop retrying."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO dead_letters (kind, key, device_id, payload, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    entry.kind,
                    entry.key,
                    entry.device_id,
                    json.dumps(entry.payload, ensure_ascii=False),
                    reason[:500],
                ),
            )
            db.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))

    def dead_letter_reason(self, key: str) -> str | None:
        """Why the backend refused the entry with this key for good (latest), if it did."""
        with self._lock:
            row = self._db.execute(
                "SELECT reason FROM dead_letters WHERE key = ? ORDER BY id DESC LIMIT 1", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def dead_letter_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM dead_letters").fetchone()
        return int(row[0])

    # ---------------------------------------------------------------- ticket blocks

    def add_block(self, category: str, service_day: date, first: int, last: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO ticket_blocks VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (category, service_day.isoformat(), first, last, first),
            )

    def blocks(self, service_day: date) -> list[TicketBlock]:
        with self._lock:
            rows = self._db.execute(
                "SELECT category, service_day, first_number, last_number, next_number "
                "FROM ticket_blocks WHERE service_day = ? ORDER BY category, first_number",
                (service_day.isoformat(),),
            ).fetchall()
        return [
            TicketBlock(str(r[0]), date.fromisoformat(r[1]), int(r[2]), int(r[3]), int(r[4]))
            for r in rows
        ]

    def take_offline_ticket(
        self, category: str, service_day: date, key: str, device_id: str, payload: dict[str, Any]
    ) -> int | None:
        """Take the next reserved number and queue the ticket, in one transaction.

        None when no reserved number is left for this category and day. The
        queued payload gets `number` and `display` (the printed ticket number,
        zero-padded to payload["display_digits"] digits as the backend does).
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT first_number, next_number FROM ticket_blocks "
                "WHERE category = ? AND service_day = ? AND next_number <= last_number "
                "ORDER BY first_number LIMIT 1",
                (category, service_day.isoformat()),
            ).fetchone()
            if row is None:
                return None
            first, number = int(row[0]), int(row[1])
            db.execute(
                "UPDATE ticket_blocks SET next_number = next_number + 1 "
                "WHERE category = ? AND service_day = ? AND first_number = ?",
                (category, service_day.isoformat(), first),
            )
            record = {k: v for k, v in payload.items() if k != "display_digits"}
            digits = int(payload.get("display_digits", 3))
            record.update(number=number, display=f"{category}{number:0{digits}d}")
            db.execute(
                "INSERT INTO outbox (kind, key, device_id, payload) VALUES ('ticket', ?, ?, ?)",
                (key, device_id, json.dumps(record, ensure_ascii=False)),
            )
            return number

    def forget_blocks_before(self, service_day: date) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM ticket_blocks WHERE service_day < ?", (service_day.isoformat(),)
            )

    # ------------------------------------------------------------- kept documents

    def document(self, key: str) -> dict[str, Any] | None:
        """A JSON document kept in the meta table (e.g. the offline queue), or None."""
        with self._lock:
            value = self._meta(f"doc:{key}")
        if value is None:
            return None
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else None

    def save_document(self, key: str, document: dict[str, Any]) -> None:
        with self._transaction() as db:
            self._set_meta(db, f"doc:{key}", json.dumps(document, ensure_ascii=False))

    def enqueue_with_document(
        self,
        kind: str,
        key: str,
        device_id: str,
        payload: dict[str, Any],
        doc_key: str,
        document: dict[str, Any],
    ) -> bool:
        """Queue an entry and save a document in one transaction: an offline window
        action and the queue state it produced are on disk together or not at all."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO outbox (kind, key, device_id, payload) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO NOTHING",
                (kind, key, device_id, json.dumps(payload, ensure_ascii=False)),
            )
            self._set_meta(db, f"doc:{doc_key}", json.dumps(document, ensure_ascii=False))
            return cursor.rowcount == 1

    def pending_of_kind(self, kind: str) -> list[OutboxEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, key, device_id, payload, attempts FROM outbox "
                "WHERE kind = ? ORDER BY id",
                (kind,),
            ).fetchall()
        return [_entry(row) for row in rows]

    # -------------------------------------------------------------- rate requests

    def remember_rate_request(self, request_id: str, ticket_id: int, window: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO rate_requests VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (request_id, ticket_id, window),
            )

    def rate_request_ticket(self, request_id: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT ticket_id FROM rate_requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        return None if row is None else int(row[0])


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(
        id=int(row[0]),
        kind=str(row[1]),
        key=str(row[2]),
        device_id=str(row[3]),
        payload=json.loads(row[4]),
        attempts=int(row[5]),
    )
