"""The reference point for the call-next targets: a bare Flask endpoint on
plain DB-API connections doing the core of call-next in one transaction (lock
the window, take the head of the queue, mark it called, point the window at
it, append one event), with none of hallkit's framework: no authentication,
no policy, no finishing of the previous ticket or rating invitation, no ORM
session. bench/baseline_bare.py serves it with gunicorn sync workers and drives
it with the same wrk script as bench/call_next.py.

Configured by the environment: BARE_DATABASE_URL, BARE_CATEGORY_ID, BARE_DAY.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import Flask

app = Flask(__name__)
_URL = os.environ.get("BARE_DATABASE_URL", "")
_CATEGORY = int(os.environ.get("BARE_CATEGORY_ID", "0"))
_DAY = os.environ.get("BARE_DAY", "")
_local = threading.local()

_STATEMENTS = (
    "SELECT w.id, w.hall_id FROM windows w JOIN halls h ON h.id = w.hall_id"
    " WHERE h.code = %s AND w.number = %s FOR UPDATE OF w",
    "SELECT id, display FROM tickets WHERE category_id = %s AND service_day = %s"
    " AND state = 'waiting' AND target_window_id IS NULL"
    " ORDER BY standing, sort_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
    "UPDATE tickets SET state = 'called', called_at = %s, window_id = %s WHERE id = %s",
    "UPDATE windows SET current_ticket_id = %s WHERE id = %s",
    "UPDATE counters SET value = value + 1 WHERE name = %s RETURNING value",
    "INSERT INTO hall_events (hall_id, seq, kind, payload, created_at) VALUES (%s, %s, %s, %s, %s)",
)


def _connection() -> Any:
    connection = getattr(_local, "connection", None)
    if connection is None:
        if _URL.startswith("sqlite"):
            connection = sqlite3.connect(
                _URL.removeprefix("sqlite:///"), isolation_level=None, timeout=10
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        else:
            connection = psycopg.connect(_URL.replace("postgresql+psycopg://", "postgresql://"))
        _local.connection = connection
    return connection


def _sqlite(sql: str) -> str:
    return (
        sql.replace("%s", "?")
        .replace(" FOR UPDATE OF w", "")
        .replace(" FOR UPDATE SKIP LOCKED", "")
    )


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/halls/<hall>/windows/<number>/call-next")
def call_next(hall: str, number: str) -> dict[str, Any]:
    connection = _connection()
    is_sqlite = isinstance(connection, sqlite3.Connection)
    now: Any = datetime.now(UTC)
    statements = [_sqlite(sql) for sql in _STATEMENTS] if is_sqlite else list(_STATEMENTS)
    if is_sqlite:
        connection.execute("BEGIN IMMEDIATE")
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    cursor = connection.cursor()
    cursor.execute(statements[0], (hall, number))
    window_id, hall_id = cursor.fetchone()
    cursor.execute(statements[1], (_CATEGORY, _DAY))
    ticket = cursor.fetchone()
    if ticket is not None:
        cursor.execute(statements[2], (now, window_id, ticket[0]))
        cursor.execute(statements[3], (ticket[0], window_id))
        cursor.execute(statements[4], (f"events:{hall_id}",))
        (seq,) = cursor.fetchone()
        payload = json.dumps({"ticket": ticket[1], "window": number})
        cursor.execute(statements[5], (hall_id, seq, "ticket_called", payload, now))
    if is_sqlite:
        connection.execute("COMMIT")
    else:
        connection.commit()
    return {"ticket": ticket[1] if ticket else None}
