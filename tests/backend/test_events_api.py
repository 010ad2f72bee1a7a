"""The hub's view of the event log: cursor reads, long-poll wake-up, SSE resume."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask

from tests.conftest import Api


def _issue(api: Api, token: str, request_id: str) -> None:
    status, body = api.post(
        "/api/v1/halls/BH/tickets", token, {"category": "A", "request_id": request_id}
    )
    assert status == 201, body


def test_cursor_read_returns_events_after_the_cursor(api: Api, device_token: Any) -> None:
    hub = device_token("hub-bh", "hub")
    kiosk = device_token()
    _issue(api, kiosk, "r1")
    _issue(api, kiosk, "r2")
    status, first = api.get("/api/v1/halls/BH/events?after=0", hub)
    assert status == 200
    kinds = [e["kind"] for e in first["events"]]
    assert kinds.count("ticket_issued") == 2
    seqs = [e["seq"] for e in first["events"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    _issue(api, kiosk, "r3")
    _status, second = api.get(f"/api/v1/halls/BH/events?after={first['next']}", hub)
    assert [e["data"]["ticket"] for e in second["events"]] == ["A003"]
    assert second["events"][0]["seq"] == first["next"] + 1


def test_long_poll_is_woken_by_a_commit_not_by_its_timeout(
    app: Flask, api: Api, device_token: Any
) -> None:
    hub = device_token("hub-bh", "hub")
    kiosk = device_token()
    _status, start = api.get("/api/v1/halls/BH/events?after=0", hub)
    cursor = start["next"]
    waiter = app.extensions["hallkit"].waiter()
    waiting = threading.Event()
    original = waiter.wait_for_change

    def signalling_wait(generation: int, timeout: float) -> bool:
        waiting.set()
        return original(generation, timeout)

    waiter.wait_for_change = signalling_wait  # type: ignore[method-assign]
    result: dict[str, Any] = {}

    def poll() -> None:
        begun = time.monotonic()
        client = app.test_client()
        response = client.get(
            f"/api/v1/halls/BH/events?after={cursor}&wait=20",
            headers={"Authorization": f"Bearer {hub}"},
        )
        result["elapsed"] = time.monotonic() - begun
        result["body"] = response.get_json()

    thread = threading.Thread(target=poll)
    thread.start()
    assert waiting.wait(10), "the long-poll never started waiting"
    committed = time.monotonic()
    _issue(api, kiosk, "wake-1")
    thread.join(20)
    woke_after = time.monotonic() - committed
    assert [e["kind"] for e in result["body"]["events"]] == ["ticket_issued"]
    assert woke_after < 5, f"reader slept {woke_after:.1f}s: it was not woken by the commit"


def test_sse_stream_resumes_from_last_event_id(app: Flask, api: Api, device_token: Any) -> None:
    hub = device_token("hub-bh", "hub")
    kiosk = device_token()
    _issue(api, kiosk, "s1")
    _issue(api, kiosk, "s2")
    _status, listing = api.get("/api/v1/halls/BH/events?after=0", hub)
    first_seq = listing["events"][0]["seq"]
    response = app.test_client().get(
        "/api/v1/halls/BH/events/stream",
        headers={"Authorization": f"Bearer {hub}", "Last-Event-ID": str(first_seq)},
        buffered=False,
    )
    assert response.mimetype == "text/event-stream"
    chunks = response.response  # type: ignore[attr-defined]
    received = ""
    for chunk in chunks:
        received += chunk.decode() if isinstance(chunk, bytes) else chunk
        if "A002" in received:
            break
    response.close()
    assert "A001" not in received  # already processed before the reconnect
    assert f"id: {first_seq + 1}" in received


def test_events_need_a_token_and_the_right_hall(api: Api, device_token: Any) -> None:
    status, body = api.get("/api/v1/halls/BH/events?after=0")
    assert status == 401 and body["error"]["code"] == "not_authenticated"
    other_hall = device_token("hub-xs", "hub", hall="BH-XS")
    status, body = api.get("/api/v1/halls/BH/events?after=0", other_hall)
    assert status == 403
