"""The hall event log for the hub: a long-poll and a server-sent-event stream,
both resuming from a cursor (the last `seq` the reader processed)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Blueprint, Response, request, stream_with_context

from backend.api.framework import DEVICE_OR_STAFF, Reply, operation, principal
from backend.api.v1.common import ext, hall_id, require_hall
from backend.api.v1.schemas import EventsQuery
from backend.services import eventlog

blueprint = Blueprint("events", __name__, url_prefix="/api/v1/halls/<hall>/events")

SSE_HEARTBEAT_SECONDS = 15.0


@operation(
    blueprint,
    "",
    "GET",
    query=EventsQuery,
    auth=DEVICE_OR_STAFF,
    summary="读取大厅事件（游标之后，可长轮询）/ hall events after a cursor (long-poll)",
)
def read(hall: str, query: EventsQuery) -> Reply:
    """Returns events with seq > after, in order. With `wait`, blocks until at
    least one exists or the time is up. `next` is the cursor to send next time."""
    who = principal()
    extension = ext()
    with extension.db.reading() as session:
        hid = hall_id(session, hall)
    require_hall(who, hid)
    deadline = time.monotonic() + query.wait
    waiter = extension.waiter() if query.wait else None
    while True:
        generation = waiter.generation() if waiter else 0
        with extension.db.reading() as session:
            events = eventlog.read_events(session, hid, query.after, query.limit)
        remaining = deadline - time.monotonic()
        if events or waiter is None or remaining <= 0:
            break
        waiter.wait_for_change(generation, remaining)
    return {
        "events": [e.as_json() for e in events],
        "next": events[-1].seq if events else query.after,
    }


@operation(
    blueprint,
    "/stream",
    "GET",
    query=EventsQuery,
    auth=DEVICE_OR_STAFF,
    summary="大厅事件流（SSE，支持 Last-Event-ID）/ hall events as server-sent events",
)
def stream(hall: str, query: EventsQuery) -> Reply:
    who = principal()
    extension = ext()
    with extension.db.reading() as session:
        hid = hall_id(session, hall)
    require_hall(who, hid)
    last_id = request.headers.get("Last-Event-ID", "")
    cursor = int(last_id) if last_id.isdigit() else query.after
    waiter = extension.waiter()

    def generate() -> Iterator[str]:
        position = cursor
        yield "retry: 1000\n\n"
        while True:
            generation = waiter.generation()
            with extension.db.reading() as session:
                events = eventlog.read_events(session, hid, position, query.limit)
            for event in events:
                position = event.seq
                payload = json.dumps(event.as_json(), ensure_ascii=False, separators=(",", ":"))
                yield f"id: {event.seq}\nevent: {event.kind}\ndata: {payload}\n\n"
            if not events and not waiter.wait_for_change(generation, SSE_HEARTBEAT_SECONDS):
                yield ": keep-alive\n\n"

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
