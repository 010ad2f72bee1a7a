"""Ratings kept on the device until the hub acknowledges them (a small SQLite file).

A finished rating is written here (synchronous=FULL: the commit is on disk when
`store_rating` returns) before the thank-you screen appears, and stays until the
hub answers `submit_rating` with RatingAccepted for its `rating_id`. Resending
after a lost reply, a broker restart or a device reboot reuses the same
`rating_id`, so the hub and backend store it once.

Settled rows (delivered or refused) are kept for a week: they let the device
recognise a `rate_now` it already answered, even after a restart, and give a
technician something to look at.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

from hallbus.messages import RatingOutcome, SubmitRating

KEEP_SETTLED: Final = timedelta(days=7)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ratings (
    rating_id   TEXT PRIMARY KEY,
    request_id  TEXT UNIQUE,
    body        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'refused')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    settled_at  TEXT
)
"""

RatingState = Literal["pending", "delivered", "refused"]


@dataclass(frozen=True, slots=True)
class StoredRating:
    rating: SubmitRating
    state: RatingState
    attempts: int
    last_error: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PendingRatings:
    """Thread-safe: the view-model writes, the delivery worker reads and settles."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Called after a rating is on disk (the delivery worker's wake()).
        self.on_stored: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is fsynced, in WAL mode too (NORMAL would not be).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self.prune()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------- RatingSink

    def store_rating(self, rating: SubmitRating) -> bool:
        """Keep a finished rating; False (nothing stored) if its rate_now already has one."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO ratings (rating_id, request_id, body, state, created_at) "
                    "VALUES (?, ?, ?, 'pending', ?)",
                    (rating.rating_id, rating.request_id, rating.model_dump_json(), _now()),
                )
            except sqlite3.IntegrityError:
                return False
        self.on_stored()
        return True

    def was_answered(self, request_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM ratings WHERE request_id = ?", (request_id,)
            ).fetchone()
        return row is not None

    # ------------------------------------------------------------- delivery

    def next_pending(self) -> SubmitRating | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM ratings WHERE state = 'pending' "
                "ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
        return SubmitRating.model_validate(json.loads(row[0])) if row else None

    def pending_count(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM ratings WHERE state = 'pending'"
            ).fetchone()
        return int(row[0])

    def record_attempt(self, rating_id: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE ratings SET attempts = attempts + 1, last_error = ? WHERE rating_id = ?",
                (error[:500], rating_id),
            )

    def mark_delivered(self, rating_id: str) -> None:
        self._settle(rating_id, "delivered", "")

    def mark_refused(self, rating_id: str, reason: str) -> None:
        """The hub refused it for good (another window's service, rated before, …)."""
        self._settle(rating_id, "refused", reason)

    def record_outcome(self, outcome: RatingOutcome) -> bool:
        """The backend's final word on a rating the hub had acknowledged `queued`:
        a refused rating is settled as refused even though it was delivered.
        False when this device has no such rating."""
        with self._lock:
            if outcome.outcome == "refused":
                cursor = self._db.execute(
                    "UPDATE ratings SET state = 'refused', last_error = ?, settled_at = ? "
                    "WHERE rating_id = ? AND state IN ('pending', 'delivered')",
                    (
                        f"{outcome.code}: {outcome.reason or ''}"[:500],
                        _now(),
                        outcome.rating_id,
                    ),
                )
            else:
                cursor = self._db.execute(
                    "UPDATE ratings SET state = 'delivered', settled_at = coalesce(settled_at, ?) "
                    "WHERE rating_id = ? AND state IN ('pending', 'delivered')",
                    (_now(), outcome.rating_id),
                )
        return cursor.rowcount == 1

    def _settle(self, rating_id: str, state: RatingState, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE ratings SET state = ?, attempts = attempts + 1, last_error = ?, "
                "settled_at = ? WHERE rating_id = ? AND state = 'pending'",
                (state, error[:500], _now(), rating_id),
            )

    def get(self, rating_id: str) -> StoredRating | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body, state, attempts, last_error FROM ratings WHERE rating_id = ?",
                (rating_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredRating(SubmitRating.model_validate(json.loads(row[0])), row[1], row[2], row[3])

    def all(self) -> list[StoredRating]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body, state, attempts, last_error FROM ratings ORDER BY created_at, rowid"
            ).fetchall()
        return [
            StoredRating(SubmitRating.model_validate(json.loads(r[0])), r[1], r[2], r[3])
            for r in rows
        ]

    def prune(self, now: datetime | None = None) -> int:
        cutoff = ((now or datetime.now(UTC)) - KEEP_SETTLED).isoformat()
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM ratings WHERE state != 'pending' AND settled_at < ?", (cutoff,)
            )
        return cursor.rowcount
