"""End to end through a real broker, the real backend and the hub."""

from __future__ import annotations

import json
import statistics
import time
import urllib.request

from backend.models import Rating
from simulators.devices import RatingChoice
from tests.hub.conftest import WAIT_S, Hall, wait_until


def test_ticket_call_display_and_rating(hall: Hall) -> None:
    hub = hall.start_hub()
    window_display = hall.window_display()
    hall_display = hall.hall_display()
    evaluator = hall.evaluator(choice=RatingChoice(levels=(5,), weights=(1,)))
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")

    ticket = kiosk.take_ticket("A")
    assert ticket.category == "A" and not ticket.degraded

    called = clerk.call_next()
    called_at = time.monotonic()
    assert called == ticket.number
    shown = window_display.states.wait_for(lambda s: s.current_ticket == ticket.number, WAIT_S)
    assert shown.window == "1" and shown.state == "open" and shown.staff is not None
    call = hall_display.calls.wait_for(lambda c: c.ticket == ticket.number, WAIT_S)
    assert call.window == "1" and not call.recall
    hall_display.states.wait_for(
        lambda s: bool(s.recent_calls) and s.recent_calls[0].ticket == ticket.number, WAIT_S
    )
    display_latency = (
        next(
            item.received_at
            for item in window_display.states.items
            if item.message.current_ticket == ticket.number
        )
        - called_at
    )

    clerk.finish()
    command = evaluator.requests.wait_for(lambda r: r.ticket_number == ticket.number, WAIT_S)
    assert command.window == "1"
    wait_until(lambda: len(evaluator.accepted) == 1, what="the evaluator's rating")
    rating_id = evaluator.accepted[0].rating_id
    assert hall.count(Rating, Rating.rating_uid == rating_id) == 1

    # Relay round trip, measured from the kiosk (request out -> reply in).
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        kiosk.take_ticket("B")
        samples.append(time.perf_counter() - started)
    health = hub.health_report()
    assert health["backend_reachable"] and health["outbox_depth"] == 0
    assert health["messages_in"] > 0 and health["messages_out"] > 0
    print(
        json.dumps(
            {
                "broker": hall.broker.kind,
                "take_ticket_round_trip_ms_p50": round(statistics.median(samples) * 1000, 2),
                "take_ticket_round_trip_ms_max": round(max(samples) * 1000, 2),
                "call_to_window_display_ms": round(display_latency * 1000, 2),
                "hub_event_publish_latency": health["event_publish_latency"],
                "hub_relay_latency": health["relay_latency"],
            }
        )
    )


def test_health_endpoint_reports_counters(hall: Hall) -> None:
    hub = hall.start_hub()
    assert hub.health is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.health.port}/health", timeout=5) as reply:
        report = json.loads(reply.read())
    for key in (
        "messages_in",
        "messages_out",
        "relay_latency",
        "outbox_depth",
        "backend_reachable",
        "devices_online",
    ):
        assert key in report
    assert report["backend_reachable"] is True
