"""The hub's RatingOutcome settles a rating the device had sent while the backend was away."""

from __future__ import annotations

from typing import Any

from evaluator.pending import PendingRatings
from evaluator.service import EvaluatorService
from hallbus.bus import IncomingMessage, MessageHandler
from hallbus.codec import encode
from hallbus.errors import ErrorCode
from hallbus.messages import RatingOutcome
from hallbus.topics import Command, DeviceRef, DeviceType
from tests.evaluator.conftest import FakeClock, make_view_model
from tests.evaluator.test_delivery import finished_rating

DEVICE = DeviceRef("bh", DeviceType.EVALUATOR, "evaluator-1")


class RecordingBus:
    def __init__(self) -> None:
        self.handlers: dict[str, MessageHandler] = {}

    def publish(self, topic: str, payload: Any, *, qos: int = 1, retain: bool = False) -> None:
        raise AssertionError("the evaluator publishes nothing here")

    def subscribe(self, topic_filter: str, handler: MessageHandler, *, qos: int = 1) -> None:
        self.handlers[topic_filter] = handler

    def deliver(self, topic: str, payload: bytes) -> None:
        self.handlers[topic](IncomingMessage(topic, payload, 1, False))


def test_a_refused_outcome_settles_a_delivered_rating_as_refused(
    store: PendingRatings, clock: FakeClock
) -> None:
    rating = finished_rating(store, clock)
    store.mark_delivered(rating.rating_id)  # the hub acknowledged it `queued`
    view_model, _ = make_view_model(store, clock)
    bus = RecordingBus()
    EvaluatorService(DEVICE, view_model, bus, "hub-bh", on_outcome=store.record_outcome).attach()
    topic = DEVICE.command_topic(Command.RATING_OUTCOME)
    outcome = RatingOutcome(
        rating_id=rating.rating_id,
        outcome="refused",
        code=ErrorCode.CONFLICT,
        reason="该次服务已评价过（一次一评）",
    )
    bus.deliver(topic, encode(outcome))
    kept = store.get(rating.rating_id)
    assert kept is not None and kept.state == "refused"
    assert "conflict" in kept.last_error and "已评价" in kept.last_error
    bus.deliver(topic, b"{not json")  # dropped with a log line, nothing changes
    assert store.get(rating.rating_id).state == "refused"  # type: ignore[union-attr]


def test_a_stored_outcome_keeps_it_delivered_and_an_unknown_id_changes_nothing(
    store: PendingRatings, clock: FakeClock
) -> None:
    rating = finished_rating(store, clock)
    assert store.record_outcome(RatingOutcome(rating_id=rating.rating_id, outcome="stored"))
    assert store.get(rating.rating_id).state == "delivered"  # type: ignore[union-attr]
    assert not store.record_outcome(
        RatingOutcome(rating_id="e" * 32, outcome="refused", code=ErrorCode.CONFLICT)
    )
