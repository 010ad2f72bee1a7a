"""Live updates for the pages: server-sent events from the hall event log.

`GET /live/events?kinds=ticket_called,ticket_issued` streams the signed-in
staff member's hall events (resuming from Last-Event-ID). Pages do not use it
directly: `static/js/live.js` reads `data-live-*` attributes and refreshes the
marked part of the page when a matching event arrives (see docs/web.md).

The stream waits on the app's EventWaiter (PostgreSQL NOTIFY / SQLite
datagrams), so an event reaches the browser as soon as its transaction commits,
with no polling. A stream ends after `STREAM_SECONDS`; the browser's
EventSource reconnects by itself with Last-Event-ID, which bounds how long one
connection holds a worker thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from backend.services import eventlog
from backend.web.auth import current_staff, staff_required
from backend.web.layout import page_errors

blueprint = Blueprint("live", __name__, url_prefix="/live")
page_errors(blueprint)

# The hall events that change what a queue view shows (waiting lists, calls,
# window states); pages that show more add their own kinds.
QUEUE_EVENTS = (
    "ticket_issued",
    "ticket_called",
    "ticket_recalled",
    "ticket_serving",
    "ticket_finished",
    "ticket_no_show",
    "ticket_transferred",
    "ticket_cancelled",
    "ticket_requeued",
    "ticket_held",
    "ticket_resumed",
    "ticket_hold_closed",
    "window_state",
    "day_closed",
)
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0


def sse_response(body: Iterator[str]) -> Response:
    return Response(
        stream_with_context(body),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def hall_event_stream(hall_id: int, after: int, kinds: set[str]) -> Iterator[str]:
    extension = current_app.extensions["hallkit"]
    waiter = extension.waiter()
    position = after
    ends = time.monotonic() + STREAM_SECONDS
    yield "retry: 1000\n\n"
    while time.monotonic() < ends:
        generation = waiter.generation()
        with extension.db.reading() as session:
            events = eventlog.read_events(session, hall_id, position, 200)
        for event in events:
            position = event.seq
            if kinds and event.kind not in kinds:
                # Still advance the client's cursor, so a reconnect skips it.
                yield f"id: {event.seq}\n\n"
                continue
            payload = json.dumps(event.as_json(), ensure_ascii=False, separators=(",", ":"))
            yield f"id: {event.seq}\nevent: {event.kind}\ndata: {payload}\n\n"
        if not events and not waiter.wait_for_change(
            generation, min(HEARTBEAT_SECONDS, max(0.0, ends - time.monotonic()))
        ):
            yield ": keep-alive\n\n"


def change_stream(snapshot: Callable[[], object]) -> Iterator[str]:
    """For pages that only need "something you show changed": sends `changed`
    whenever `snapshot()` differs after a hall commit. Used by the phone pages,
    whose readers must not see other people's events."""
    extension = current_app.extensions["hallkit"]
    waiter = extension.waiter()
    ends = time.monotonic() + STREAM_SECONDS
    yield "retry: 2000\n\n"
    last = snapshot()
    while time.monotonic() < ends:
        generation = waiter.generation()
        if not waiter.wait_for_change(
            generation, min(HEARTBEAT_SECONDS, max(0.0, ends - time.monotonic()))
        ):
            yield ": keep-alive\n\n"
            continue
        current = snapshot()
        if current != last:
            last = current
            yield "event: changed\ndata: {}\n\n"


@blueprint.get("/events")
@staff_required()
def events() -> Response:
    user = current_staff()
    hall_id = user.principal.hall_id
    if hall_id is None:
        return Response("retry: 60000\n\n", mimetype="text/event-stream")
    last_id = request.headers.get("Last-Event-ID", "")
    extension = current_app.extensions["hallkit"]
    after_param = request.args.get("after", "")
    if last_id.isdigit():
        after = int(last_id)
    elif after_param.isdigit():
        # The page says which event its content already includes.
        after = int(after_param)
    else:
        # A fresh page was rendered from the current state: start from now.
        with extension.db.reading() as session:
            after = eventlog.latest_seq(session, hall_id)
    kinds = {k for k in request.args.get("kinds", "").split(",") if k}
    return sse_response(hall_event_stream(hall_id, after, kinds))


def live_cursor() -> int:
    """The hall's latest event number, rendered into a page as `data-live-after`
    (and `data-live-seq`) so its stream starts exactly after what the page shows.

    Read once per request, and a view that renders a live part calls this before it
    reads the data it shows: a cursor read after the data could name an event that
    committed in between, which the page does not show and would then never
    refresh for. Read first, the cursor can only be older than the data (at worst
    one needless refresh)."""
    from flask_login import current_user

    if "live_cursor" in g:
        return int(g.live_cursor)
    cursor = 0
    if current_user.is_authenticated and current_user.principal.hall_id is not None:
        with current_app.extensions["hallkit"].db.reading() as session:
            cursor = eventlog.latest_seq(session, current_user.principal.hall_id)
    g.live_cursor = cursor
    return cursor
