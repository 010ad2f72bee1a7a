"""Pending store and delivery worker: kept until acknowledged, resent with the same id."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

from evaluator.delivery import RatingDelivery
from evaluator.pending import PendingRatings
from evaluator.testing import rate_now_command
from hallbus.client import RequestFailed, RequestTimeout
from hallbus.errors import ErrorCode
from hallbus.messages import ErrorDetail, RatingAccepted, RequestBody, SubmitRating
from tests.devices.ptypeer import wait_until
from tests.evaluator.conftest import FakeClock, make_view_model


class ScriptedTransport:
    """Answers each request with the next scripted outcome (an exception or 'ack')."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes: queue.Queue[Any] = queue.Queue()
        for outcome in outcomes:
            self.outcomes.put(outcome)
        self.sent: list[SubmitRating] = []
        self.connected = threading.Event()
        self.connected.set()

    def wait_connected(self, timeout: float) -> None:
        if not self.connected.wait(timeout):
            raise TimeoutError

    def request(self, body: RequestBody, reply_model: type[Any], *, timeout: float = 5.0) -> Any:
        assert isinstance(body, SubmitRating)
        self.sent.append(body)
        outcome = self.outcomes.get(timeout=5)
        if isinstance(outcome, Exception):
            raise outcome
        return RatingAccepted(rating_id=body.rating_id, duplicate=outcome == "duplicate")


def finished_rating(store: PendingRatings, clock: FakeClock, level: int = 5) -> SubmitRating:
    view_model, _ = make_view_model(store, clock)
    view_model.rate_now(rate_now_command("3", now=clock.now))
    view_model.choose_level(level)
    return store.all()[-1].rating


def test_pending_store_survives_reopen_and_refuses_second_rating_per_request(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "pending.db"
    store = PendingRatings(path)
    rating = finished_rating(store, clock)
    again = rating.model_copy(update={"rating_id": "f" * 32})
    assert not store.store_rating(again)  # same request_id: never a second rating
    store.close()
    reopened = PendingRatings(path)
    assert reopened.next_pending() == rating
    assert reopened.was_answered(rating.request_id or "")
    reopened.mark_delivered(rating.rating_id)
    assert reopened.next_pending() is None and reopened.pending_count() == 0
    reopened.close()


def test_lost_reply_is_resent_with_the_same_rating_id(
    store: PendingRatings, clock: FakeClock
) -> None:
    rating = finished_rating(store, clock)
    transport = ScriptedTransport([RequestTimeout("submit_rating", 0.1), "duplicate"])
    counts: list[int] = []
    delivery = RatingDelivery(
        store, transport, backoff_initial_s=0.01, on_pending_count=counts.append
    )
    delivery.start()
    try:
        assert wait_until(lambda: store.pending_count() == 0)
    finally:
        delivery.stop()
    assert [sent.rating_id for sent in transport.sent] == [rating.rating_id] * 2
    item = store.get(rating.rating_id)
    assert item is not None and item.state == "delivered" and item.attempts == 2
    assert counts[-1] == 0


def test_refusal_settles_the_rating_and_is_not_retried(
    store: PendingRatings, clock: FakeClock
) -> None:
    rating = finished_rating(store, clock)
    refusal = RequestFailed(
        ErrorDetail(code=ErrorCode.CONFLICT, message="该次服务已评价过", retry=False)
    )
    transport = ScriptedTransport([refusal])
    delivery = RatingDelivery(store, transport, backoff_initial_s=0.01)
    delivery.start()
    try:
        assert wait_until(lambda: store.pending_count() == 0)
    finally:
        delivery.stop()
    item = store.get(rating.rating_id)
    assert item is not None and item.state == "refused" and "conflict" in item.last_error
    assert len(transport.sent) == 1 and delivery.refused == 1


def test_nothing_is_sent_while_offline(store: PendingRatings, clock: FakeClock) -> None:
    transport = ScriptedTransport(["ack"])
    transport.connected.clear()
    delivery = RatingDelivery(store, transport, backoff_initial_s=0.01)
    store.on_stored = delivery.wake
    delivery.start()
    try:
        rating = finished_rating(store, clock)
        assert not wait_until(lambda: bool(transport.sent), timeout=0.3)
        transport.connected.set()
        assert wait_until(lambda: store.pending_count() == 0)
    finally:
        delivery.stop()
    assert [sent.rating_id for sent in transport.sent] == [rating.rating_id]
