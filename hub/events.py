"""Backend event log → display state, call events and rate-now commands.

The reader long-polls GET /events from the persisted cursor. For each batch it
folds the events into the display model, publishes what changed, waits until
the broker has acknowledged every message, and only then stores the new cursor:
after a crash the batch is read again and published again (at least once);
devices drop repeats by `seq` (call events carry the backend event's seq, so a
repeated call has the same seq). After every (re)connect to the backend the
model is rebuilt from GET /status, so nothing the hub missed stays wrong.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any, Final, Protocol

from pydantic import BaseModel

from hallbus.client import PublishReceipt
from hub.backend import BackendClient, BackendRejected, BackendUnavailable
from hub.display import CategoryView, HallDisplayModel, Outgoing
from hub.kiosk_state import HallView
from hub.metrics import HubMetrics
from hub.reachability import BackendReachability
from hub.store import HubStore

log = logging.getLogger(__name__)

LONG_POLL_S: Final = 20.0
PUBLISH_ACK_TIMEOUT_S: Final = 5.0
BACKOFF_MIN_S: Final = 0.5
BACKOFF_MAX_S: Final = 10.0


class TrackedPublisher(Protocol):
    def publish_tracked(
        self, topic: str, payload: BaseModel | bytes | str, *, qos: int = 1, retain: bool = False
    ) -> PublishReceipt: ...


class EventReader:
    """Owns the display model; other threads reach it through the locked methods."""

    def __init__(
        self,
        *,
        backend: BackendClient,
        store: HubStore,
        model: HallDisplayModel,
        publisher: TrackedPublisher,
        on_snapshot: Callable[[list[str], date], None],
        reachability: BackendReachability,
        metrics: HubMetrics,
        stopping: threading.Event,
        on_ticket_seen: Callable[[str], None],
        on_kiosk_change: Callable[[], None] = lambda: None,
        on_catalog_change: Callable[[], None] = lambda: None,
        on_events: Callable[[list[dict[str, Any]]], None] = lambda _events: None,
        long_poll_s: float = LONG_POLL_S,
    ) -> None:
        self._backend = backend
        self._store = store
        self._model = model
        self._publisher = publisher
        self._on_snapshot = on_snapshot
        self._reachability = reachability
        self._metrics = metrics
        self._stopping = stopping
        self._on_ticket_seen = on_ticket_seen
        self._on_kiosk_change = on_kiosk_change
        self._on_catalog_change = on_catalog_change
        self._on_events = on_events
        self._loaded = False
        self._long_poll_s = long_poll_s
        self._lock = threading.Lock()
        self._cursor = store.cursor()
        self._thread = threading.Thread(target=self._run, name="hub-events", daemon=True)
        self.ready = threading.Event()  # set after the first snapshot was published

    @property
    def cursor(self) -> int:
        return self._cursor

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # ------------------------------------------------------- used by other threads

    def waiting_for(self, prefix: str) -> CategoryView | None:
        with self._lock:
            return self._model.waiting_for(prefix)

    def note_offline_ticket(self, prefix: str) -> None:
        with self._lock:
            self._model.note_offline_ticket(prefix)
            out = self._model.take_changes()
        self._publish(out, wait=False)
        self._tell_kiosks()

    def apply_local(self, events: list[dict[str, Any]]) -> None:
        """Events the hub synthesized for its own offline window actions (the backend's
        event shape): displays, voice and evaluators get what they get online."""
        with self._lock:
            for event in events:
                self._model.apply(event, local=True)
            out = self._model.take_changes()
        self._publish(out, wait=False)
        self._tell_kiosks()

    def set_hall_mode(self, mode: str | None, *, hub_decides: bool) -> None:
        """The displays' mark of who decides the queue (None: the backend)."""
        with self._lock:
            self._model.set_hall_mode(mode, hub_decides=hub_decides)
            out = self._model.take_changes()
        if out:
            self._publish(out, wait=False)

    def seed_windows(self, seats: list[dict[str, Any]]) -> None:
        """Windows from the offline queue when no backend snapshot was loaded in this run."""
        with self._lock:
            if self._loaded:
                return
            self._model.seed_windows(seats)
            out = self._model.take_changes()
        self._publish(out, wait=False)

    def rebuild_now(self) -> None:
        """Reload the displays from GET /status now (the hub has handed the queue back
        to the backend; raises BackendUnavailable / BackendRejected)."""
        self._rebuild()

    def hall_view(self) -> HallView:
        """A copy of what the kiosks need from the model (KioskStatePublisher)."""
        with self._lock:
            model = self._model
            return HallView(
                categories=[replace(view) for view in model.categories.values()],
                details={k: dict(v) for k, v in model.category_details.items()},
                notices=list(model.notices),
                loaded=self._loaded,
            )

    def _tell_kiosks(self) -> None:
        with self._lock:
            changed, catalog = self._model.take_kiosk_change()
        if catalog:
            self._on_catalog_change()
        if changed:
            self._on_kiosk_change()

    def republish_states(self) -> None:
        """Publish every retained state again (the broker may have lost them)."""
        with self._lock:
            out = self._model.all_states()
        self._publish(out, wait=False)
        self._metrics.count("state_republished")

    # ---------------------------------------------------------------- the loop

    def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        need_snapshot = True
        while not self._stopping.is_set():
            try:
                if need_snapshot:
                    self._rebuild()
                    need_snapshot = False
                self._read_once()
                backoff = BACKOFF_MIN_S
            except BackendUnavailable as exc:
                if self._stopping.is_set():
                    return  # the long-poll outlived stop(); not an outage
                self._reachability.failed(str(exc))
                need_snapshot = True
                self._stopping.wait(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
            except BackendRejected as exc:
                log.error("backend refused the event read: %s", exc)
                need_snapshot = True
                self._stopping.wait(BACKOFF_MAX_S)
            except Exception:
                log.exception("event reader failed; restarting from cursor %s", self._cursor)
                need_snapshot = True
                self._stopping.wait(BACKOFF_MAX_S)

    def _rebuild(self) -> None:
        status = self._backend.status().body
        self._reachability.succeeded()
        reasons = self._fetch_rating_reasons()
        with self._lock:
            self._model.load_snapshot(status)
            if reasons is not None:
                self._model.set_rating_reasons(reasons)
            out = self._model.take_changes()
        for call in status.get("recent_calls", []):
            if isinstance(call.get("ticket"), str):
                self._on_ticket_seen(call["ticket"])
        self._publish_until_acknowledged(out)
        with self._lock:
            self._loaded = True
        self._tell_kiosks()
        self.ready.set()
        # Only hands over (offline blocks are reserved on their own thread): the
        # next long-poll must start now, or a call made meanwhile waits for it.
        try:
            categories = [str(c["prefix"]) for c in status.get("categories", [])]
            self._on_snapshot(categories, date.fromisoformat(status["service_day"]))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("snapshot without categories or service day: %s", exc)

    def _read_once(self) -> None:
        reply = self._backend.events(self._cursor, self._long_poll_s)
        self._reachability.succeeded()
        events: list[dict[str, Any]] = reply.body.get("events", [])
        if not events or self._stopping.is_set():
            return
        started = time.monotonic()
        with self._lock:
            for event in events:
                self._remember(event)
                self._model.apply(event)
            refresh = self._model.needs_waiting_refresh
            config_refresh = self._model.needs_config_refresh
        if refresh:
            status = self._backend.status().body
            with self._lock:
                self._model.load_waiting(status)
        if config_refresh:
            reasons = self._fetch_rating_reasons()
            with self._lock:
                self._model.set_rating_reasons(
                    reasons if reasons is not None else list(self._model.rating_reasons)
                )
        with self._lock:
            out = self._model.take_changes()
        if not self._publish_until_acknowledged(out):
            return  # stopping: the batch is read again after the restart
        self._cursor = int(reply.body.get("next", events[-1]["seq"]))
        self._store.save_cursor(self._cursor)
        with self._lock:
            stale = self._model.waiting_stale
        if stale:
            self._refresh_waiting()
        self._tell_kiosks()
        try:
            self._on_events(events)
        except Exception:
            log.exception("offline queue not updated from events")
        self._metrics.count("events_in", len(events))
        self._metrics.event_latency.add(time.monotonic() - started)

    def _refresh_waiting(self) -> None:
        """Waiting counts after ticket events that did not carry them: read once the
        batch is published (a call reaches the displays without waiting for this)."""
        status = self._backend.status().body
        with self._lock:
            self._model.load_waiting(status)
            out = self._model.take_changes()
        self._publish(out, wait=False)

    def _fetch_rating_reasons(self) -> list[str] | None:
        """The backend's bad-rating reasons; None if it refuses (an older backend without
        the route): the evaluators then keep what they have."""
        try:
            return self._backend.rating_reasons()
        except BackendRejected as exc:
            log.warning("bad-rating reasons not loaded: %s", exc)
            return None

    def _remember(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if isinstance(data.get("ticket"), str):
            self._on_ticket_seen(data["ticket"])
        if event.get("kind") == "rating_requested" and data.get("ticket_id") is not None:
            self._store.remember_rate_request(
                str(data["request_id"]), int(data["ticket_id"]), str(data["window"])
            )

    # -------------------------------------------------------------- publishing

    def _publish(self, out: list[Outgoing], *, wait: bool) -> bool:
        receipts = []
        for message in out:
            # Counted before the publish: a device may act on the message (and a
            # health report be read) before publish_tracked returns.
            self._metrics.count("messages_out")
            self._metrics.count(f"published_{message.what}")
            receipts.append(
                self._publisher.publish_tracked(
                    message.topic, message.payload, retain=message.retain
                )
            )
        if not wait:
            return True
        return all(receipt.wait(PUBLISH_ACK_TIMEOUT_S) for receipt in receipts)

    def _publish_until_acknowledged(self, out: list[Outgoing]) -> bool:
        """Publish until the broker has acknowledged all (False: the hub is stopping first)."""
        while not self._publish(out, wait=True):
            self._metrics.count("publish_retries")
            log.warning("broker did not acknowledge %s messages; publishing again", len(out))
            if self._stopping.wait(1.0):
                return False
        return True
