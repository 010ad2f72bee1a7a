"""Whether the backend is reachable right now, as every part of the hub observed it.

One shared view so that the first part to notice the backend is back (usually
the event reader's long-poll) wakes the others: the outbox replay and the
device registry report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class BackendReachability:
    def __init__(self) -> None:
        self._reachable = False
        self._lock = threading.Lock()
        self._on_recovered: list[Callable[[], None]] = []
        self._on_lost: list[Callable[[], None]] = []

    @property
    def reachable(self) -> bool:
        return self._reachable

    def on_recovered(self, callback: Callable[[], None]) -> None:
        """Run `callback` every time the backend goes from unreachable to reachable."""
        self._on_recovered.append(callback)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Run `callback` every time the backend goes from reachable to unreachable."""
        self._on_lost.append(callback)

    def succeeded(self) -> None:
        with self._lock:
            was, self._reachable = self._reachable, True
        if not was:
            log.info("backend reachable")
            for callback in self._on_recovered:
                callback()

    def failed(self, reason: str) -> None:
        with self._lock:
            was, self._reachable = self._reachable, False
        if was:
            log.warning("backend unreachable (%s): degraded mode", reason)
            for callback in self._on_lost:
                callback()
