"""Sends stored ratings to the hub until each is acknowledged, in order, one at a time.

The worker waits for the broker connection before sending, so nothing is left
in the MQTT client's offline queue to be flushed as an extra copy on reconnect.
A lost reply is retried with the same `rating_id` (the hub answers
`duplicate: true`); an error the hub marks `retry: false` (a service of another
window, a service already rated, a malformed rating) settles the rating as
refused with that reason, because sending it again cannot succeed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from pydantic import BaseModel

from evaluator.pending import PendingRatings
from hallbus.client import AuthenticationFailed, NotConnected, RequestFailed, RequestTimeout
from hallbus.errors import ContractError
from hallbus.messages import RatingAccepted, RequestBody, SubmitRating

log = logging.getLogger(__name__)

ReplyT = TypeVar("ReplyT", bound=BaseModel)


class RequestTransport(Protocol):
    """The part of hallbus.client.DeviceClient the delivery worker uses."""

    def wait_connected(self, timeout: float) -> None: ...

    def request(
        self, body: RequestBody, reply_model: type[ReplyT], *, timeout: float = 5.0
    ) -> ReplyT: ...


class RatingDelivery:
    def __init__(
        self,
        store: PendingRatings,
        transport: RequestTransport,
        *,
        request_timeout_s: float = 5.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        on_pending_count: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._request_timeout_s = request_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._on_pending_count = on_pending_count or (lambda _count: None)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.refused = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("rating delivery already started")
        self._thread = threading.Thread(target=self._run, name="evaluator-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """A new rating was stored: send it now."""
        self._wake.set()

    def _run(self) -> None:
        backoff = self._backoff_initial_s
        self._on_pending_count(self._store.pending_count())
        while not self._stopping.is_set():
            rating = self._store.next_pending()
            if rating is None:
                self._wake.wait()
                self._wake.clear()
                continue
            try:
                self._transport.wait_connected(1.0)
            except TimeoutError:
                continue  # still offline; look at the stop flag, then wait again
            except AuthenticationFailed:
                log.error("broker refused this evaluator; ratings stay on the device")
                self._stopping.wait()
                return
            if self._send(rating):
                backoff = self._backoff_initial_s
                self._on_pending_count(self._store.pending_count())
            else:
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._backoff_max_s)

    def _send(self, rating: SubmitRating) -> bool:
        """True when the rating is settled (delivered or refused for good)."""
        try:
            reply = self._transport.request(rating, RatingAccepted, timeout=self._request_timeout_s)
        except RequestFailed as error:
            if error.retry:
                self._store.record_attempt(rating.rating_id, str(error))
                log.warning("rating %s not stored yet (%s); will retry", rating.rating_id, error)
                return False
            self._store.mark_refused(rating.rating_id, str(error))
            self.refused += 1
            log.warning("rating %s refused by the hub: %s", rating.rating_id, error)
            return True
        except (RequestTimeout, NotConnected, ContractError) as error:
            self._store.record_attempt(rating.rating_id, str(error))
            log.warning("rating %s: %s; will retry", rating.rating_id, error)
            return False
        if reply.rating_id != rating.rating_id:
            self._store.record_attempt(rating.rating_id, f"ack for {reply.rating_id}")
            log.error("hub acknowledged %s for rating %s", reply.rating_id, rating.rating_id)
            return False
        self._store.mark_delivered(rating.rating_id)
        self.delivered += 1
        log.info(
            "rating %s delivered (duplicate=%s, queued=%s)",
            rating.rating_id,
            reply.duplicate,
            bool(reply.queued),
        )
        return True
