"""Degraded mode: reserved ticket numbers and the outbox replay.

While the backend is reachable the hub keeps, per category, a block of ticket
numbers the backend reserved for it (POST /ticket-blocks), topped up when 80 %
is used. While the backend is away, kiosks get numbers from those blocks and
the tickets, like the ratings accepted meanwhile, wait in the outbox (SQLite).
The replay thread sends them in order as soon as the backend answers again;
idempotency keys (the request id of a ticket, the rating id of a rating) make
every entry land exactly once however often a send is retried.

Window actions the hub applied while it decided the queue (kind `action`) are
replayed the same way, in their place among the tickets and ratings (a ticket is
uploaded before the call that called it, a finish before the rating answering
its invitation). The backend answers `conflict` for an act its own record
contradicts (the first act by its original time wins): a normal answer, logged
and counted, never a dead letter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

from hallbus.messages import RatingOutcome, SubmitRating
from hallbus.topics import Command, DeviceRef, DeviceType
from hub.backend import BackendClient, BackendRejected, BackendUnavailable
from hub.kiosk_state import Publisher
from hub.metrics import HubMetrics
from hub.reachability import BackendReachability
from hub.store import HubStore, OutboxEntry
from hub.translate import contract_error, permanent, rating_body

log = logging.getLogger(__name__)

BACKEND_MAX_BLOCK: Final = 200  # POST /ticket-blocks accepts 1..200
REFILL_AT_USED: Final = 0.8
KIND_TICKET: Final = "ticket"
KIND_RATING: Final = "rating"
# A window action the hub applied while it decided the queue (hub.window_desk): the
# POST /window-actions body with offline true, idempotent on its action_id.
KIND_ACTION: Final = "action"


class TicketBlocks:
    """Keeps a reserved block per category for the current service day."""

    def __init__(self, store: HubStore, backend: BackendClient, block_size: int) -> None:
        self._store = store
        self._backend = backend
        self.block_size = min(block_size, BACKEND_MAX_BLOCK)
        if block_size > BACKEND_MAX_BLOCK:
            log.warning(
                "reserved_block_size %s is above the backend's limit; using %s",
                block_size,
                BACKEND_MAX_BLOCK,
            )
        self._lock = threading.Lock()

    def top_up(self, categories: list[str], service_day: date) -> None:
        """Reserve a block for every category whose reserve is missing or ≥ 80 % used.

        Raises BackendUnavailable (the caller retries after reconnecting).
        """
        if self.block_size == 0:
            return
        with self._lock:
            self._store.forget_blocks_before(service_day)
            remaining: dict[str, int] = {}
            for block in self._store.blocks(service_day):
                remaining[block.category] = remaining.get(block.category, 0) + block.remaining
            for category in categories:
                left = remaining.get(category, 0)
                if left > self.block_size * (1 - REFILL_AT_USED):
                    continue
                try:
                    reply = self._backend.reserve_block(category, self.block_size)
                except BackendRejected as exc:
                    log.warning("no offline block for category %s: %s", category, exc)
                    continue
                body = reply.body
                self._store.add_block(
                    category,
                    date.fromisoformat(body["service_day"]),
                    int(body["first"]),
                    int(body["last"]),
                )
                log.info(
                    "reserved offline numbers %s..%s for category %s",
                    body["first"],
                    body["last"],
                    category,
                )


class BlockKeeper:
    """Background thread keeping the reserved blocks topped up.

    Reserving costs one POST /ticket-blocks per category (about 30 in the demo
    hall). Done on the event reader's thread, as it first was, it held up every
    display update after each start and reconnect by 100–450 ms (a call made
    then reached the displays only after the last block). Here it runs beside
    the reader: when the reader has loaded a snapshot (`request`), and every
    `recheck_s` on its own, which also covers a new service day and blocks used
    up while the backend was away.
    """

    def __init__(
        self,
        blocks: TicketBlocks,
        backend: BackendClient,
        stopping: threading.Event,
        *,
        recheck_s: float = 300.0,
    ) -> None:
        self._blocks = blocks
        self._backend = backend
        self._stopping = stopping
        self._recheck_s = recheck_s
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: tuple[list[str], date] | None = None
        self._thread = threading.Thread(target=self._run, name="hub-blocks", daemon=True)
        # Set after the first attempt (successful or not), for HubService.wait_ready.
        self.first_pass = threading.Event()

    def start(self) -> None:
        if self._blocks.block_size == 0:
            self.first_pass.set()
            return
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def request(self, categories: list[str], service_day: date) -> None:
        """Top up for these categories soon (returns at once)."""
        with self._lock:
            self._pending = (list(categories), service_day)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._recheck_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            with self._lock:
                pending, self._pending = self._pending, None
            try:
                if pending is None:
                    status = self._backend.status().body
                    pending = (
                        [c["prefix"] for c in status.get("categories", [])],
                        date.fromisoformat(status["service_day"]),
                    )
                self._blocks.top_up(*pending)
            except BackendUnavailable as exc:
                # The reader notices too and requests a top-up after reconnecting.
                log.info("offline blocks not topped up (backend away): %s", exc)
            except BackendRejected as exc:
                log.warning("offline blocks not topped up: %s", exc)
            except Exception:
                log.exception("offline blocks not topped up")
            finally:
                self.first_pass.set()


class OutboxReplayer:
    """Background thread delivering outbox entries in order once the backend answers.

    A rating the hub acknowledged `queued` is judged by the backend only here;
    its final outcome (stored, or refused and why) goes to the evaluator that
    sent it as a RatingOutcome command (`hall_id` and `publisher` given)."""

    def __init__(
        self,
        store: HubStore,
        backend: BackendClient,
        reachability: BackendReachability,
        metrics: HubMetrics,
        stopping: threading.Event,
        *,
        retry_s: float = 2.0,
        hall_id: str | None = None,
        publisher: Publisher | None = None,
        on_replay_start: Callable[[], None] = lambda: None,
        on_drained: Callable[[], None] = lambda: None,
    ) -> None:
        # on_replay_start runs before the first entry of a drain is sent (the desk tells
        # the backend the hall is replaying); on_drained whenever the outbox is empty.
        self._on_replay_start = on_replay_start
        self._on_drained = on_drained
        self._hall_id = hall_id
        self._publisher = publisher
        self._store = store
        self._backend = backend
        self._reachability = reachability
        self._metrics = metrics
        self._stopping = stopping
        self._retry_s = retry_s
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-outbox", daemon=True)
        reachability.on_recovered(self.wake)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def join(self, timeout: float) -> None:
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._retry_s)
            self._wake.clear()
            try:
                self.drain()
            except BackendUnavailable as exc:
                self._reachability.failed(str(exc))
            except Exception:
                log.exception("outbox replay failed; retrying")

    def drain(self) -> int:
        """Send everything queued, oldest first; stops at the first unreachable error."""
        sent = 0
        started = False
        while not self._stopping.is_set():
            entries = self._store.pending(limit=50)
            if not entries:
                self._on_drained()
                return sent
            if not started:
                self._on_replay_start()
                started = True
            for entry in entries:
                try:
                    self._send(entry)
                except BackendRejected as exc:
                    if permanent(exc):
                        # Retrying cannot succeed: keep it for an operator, log why.
                        log.error(
                            "outbox %s %s refused by the backend, moved to dead letters: %s",
                            entry.kind,
                            entry.key,
                            exc,
                        )
                        self._store.dead_letter(entry, str(exc))
                        self._metrics.count("outbox_dead_letters")
                        if entry.kind == KIND_RATING:
                            self._tell_outcome(
                                entry,
                                RatingOutcome(
                                    rating_id=entry.key.removeprefix("rating:"),
                                    outcome="refused",
                                    code=contract_error(exc),
                                    reason=(exc.message or exc.code)[:2000],
                                ),
                            )
                        continue
                    self._store.attempt_failed(entry.id, str(exc))
                    raise BackendUnavailable(f"outbox entry {entry.key}: {exc}") from None
                self._store.delivered(entry.id)
                self._reachability.succeeded()
                self._metrics.count(f"outbox_delivered_{entry.kind}")
                sent += 1
        return sent

    def _tell_outcome(self, entry: OutboxEntry, outcome: RatingOutcome) -> None:
        """QoS 1 to the sender's command topic; kept by the broker in an offline
        evaluator's persistent session. Kiosks keep no ratings: nothing to tell."""
        device_type = DeviceType(entry.payload.get("device_type", DeviceType.EVALUATOR.value))
        if self._publisher is None or self._hall_id is None:
            return
        if device_type is not DeviceType.EVALUATOR:
            log.info("rating %s from %s: %s", outcome.rating_id, entry.device_id, outcome.outcome)
            return
        topic = DeviceRef(self._hall_id, device_type, entry.device_id).command_topic(
            Command.RATING_OUTCOME
        )
        try:
            self._publisher.publish(topic, outcome)
        except Exception:
            # A resend of the rating still learns the outcome (relay: dead letters).
            log.exception("rating outcome for %s not sent", entry.device_id)
            return
        self._metrics.count(f"published_rating_outcome_{outcome.outcome}")

    def _send(self, entry: OutboxEntry) -> None:
        if entry.kind == KIND_TICKET:
            self._send_ticket(entry)
        elif entry.kind == KIND_ACTION:
            self._send_action(entry)
        elif entry.kind == KIND_RATING:
            rating = SubmitRating.model_validate(entry.payload["rating"])
            device_type = DeviceType(entry.payload["device_type"])
            body = rating_body(rating, device_type, self._backend, self._store.rate_request_ticket)
            reply = self._backend.submit_rating(body, entry.device_id)
            self._tell_outcome(
                entry,
                RatingOutcome(
                    rating_id=rating.rating_id,
                    outcome="stored",
                    duplicate=bool(reply.body.get("duplicate")),
                ),
            )
        else:
            raise BackendRejected(400, "bad_input", f"unknown outbox kind {entry.kind!r}")

    def _send_action(self, entry: OutboxEntry) -> None:
        reply = self._backend.window_action(dict(entry.payload))
        body = reply.body
        if body.get("outcome") == "conflict":
            # The first act by its original time wins: the backend kept this one as a
            # conflict (listed on the device page); nothing to retry, nothing lost.
            self._metrics.count("outbox_action_conflicts")
            log.warning(
                "offline %s at window %s (%s) conflicts with the backend's record: %s",
                entry.payload.get("action"),
                entry.payload.get("window"),
                entry.payload.get("ticket"),
                body.get("detail"),
            )
        elif body.get("duplicate"):
            self._metrics.count("outbox_action_duplicates")

    def _send_ticket(self, entry: OutboxEntry) -> None:
        payload: dict[str, Any] = dict(entry.payload)
        held = payload.pop("display")
        reply = self._backend.upload_offline_ticket(payload)
        if reply.body.get("number") == held:
            return
        # The same request id already has an online ticket: the kiosk's first
        # attempt reached the backend but its answer did not come back, so the
        # hub printed an offline number. The person holds the offline number,
        # so that one must exist; the unseen online ticket is withdrawn.
        ghost = str(reply.body.get("number"))
        log.warning(
            "request %s has online ticket %s and offline ticket %s; keeping %s",
            payload["request_id"],
            ghost,
            held,
            held,
        )
        retry_id = f"{payload['request_id']}.offline"
        self._backend.upload_offline_ticket({**payload, "request_id": retry_id})
        try:
            self._backend.cancel_ticket(ghost, entry.device_id)
        except BackendRejected as exc:
            log.warning("could not withdraw unseen ticket %s: %s", ghost, exc)


def offline_ticket_payload(
    *,
    category: str,
    display_digits: int,
    issued_at: datetime,
    request_id: str,
    device_id: str,
    priority_kind: str | None,
) -> dict[str, Any]:
    """Outbox payload of an offline ticket: the POST /tickets/offline body.

    HubStore.take_offline_ticket adds `number` and the printed `display`.
    """
    return {
        "category": category,
        "issued_at": issued_at.isoformat(),
        "request_id": request_id,
        "device_id": device_id,
        "priority_kind": priority_kind,
        "display_digits": display_digits,
    }
