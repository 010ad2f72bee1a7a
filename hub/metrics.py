"""Counters and latency percentiles the health endpoint reports."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Final

# Percentiles over the most recent samples: recent behaviour is what an
# operator looking at a live hall cares about, and memory stays bounded.
LATENCY_WINDOW: Final = 2000


class LatencyWindow:
    def __init__(self, size: int = LATENCY_WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)

    def percentile_ms(self, fraction: float) -> float | None:
        with self._lock:
            ordered = sorted(self._samples)
        if not ordered:
            return None
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return round(ordered[index] * 1000, 3)

    def summary(self) -> dict[str, float | int | None]:
        with self._lock:
            count = len(self._samples)
        return {
            "p50_ms": self.percentile_ms(0.50),
            "p99_ms": self.percentile_ms(0.99),
            "samples": count,
        }


class HubMetrics:
    """Thread-safe counters; names are the keys of the health JSON."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        # device request received -> reply published (includes the backend call)
        self.relay_latency = LatencyWindow()
        # backend event read -> resulting MQTT publishes acknowledged by the broker
        self.event_latency = LatencyWindow()

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))
