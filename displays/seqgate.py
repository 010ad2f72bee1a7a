"""Drop stale and duplicate copies of retained state, using the hub's ``seq`` counter.

Brokers redeliver retained messages after a reconnect (amqtt does so even when nothing
changed), so a display may receive an older state after a newer one. The contract
(docs/protocol.md §6): ignore a message whose ``seq`` is lower than one already shown.
Equal ``seq`` is a duplicate of what is on screen and is dropped as well.

A restarted hub may start counting again from a low number. When the hub comes back
(its availability goes from anything but ``online`` to ``online``), :meth:`SeqGate.reset`
forgets the counters, so the first state of the new hub is shown.
"""

from __future__ import annotations

import threading


class SeqGate:
    """Per-topic high-water mark of ``seq``; thread-safe."""

    def __init__(self) -> None:
        self._shown: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, topic: str, seq: int) -> bool:
        """True when ``seq`` is newer than anything admitted on ``topic`` (and records it)."""
        with self._lock:
            last = self._shown.get(topic)
            if last is not None and seq <= last:
                return False
            self._shown[topic] = seq
            return True

    def last(self, topic: str) -> int | None:
        with self._lock:
            return self._shown.get(topic)

    def reset(self) -> None:
        with self._lock:
            self._shown.clear()
