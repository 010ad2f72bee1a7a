"""A hall clock that can start at a chosen instant and run faster than the wall clock.

Rehearsals of a working day (a fault test, a simulated day) run the backend and
each hub on one shared hall time: every process computes it from the same three
numbers, so processes started at different moments still agree to the
millisecond, and a killed and restarted hub comes back on the same time line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """`start` at wall time `epoch` (seconds since 1970), then `rate` hall seconds per second."""

    start: datetime
    epoch: float
    rate: float = 1.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("the clock's start needs a time zone")
        if not 0 < self.rate <= 3600:
            raise ValueError("the clock's rate must be above 0 and at most 3600")

    @classmethod
    def starting_now(cls, start: datetime, rate: float = 1.0) -> ScaledClock:
        return cls(start, time.time(), rate)

    def __call__(self) -> datetime:
        elapsed = (time.time() - self.epoch) * self.rate
        return (self.start + timedelta(seconds=elapsed)).astimezone(UTC)

    def wall_seconds(self, hall_seconds: float) -> float:
        """How long `hall_seconds` of hall time take on the wall clock."""
        return hall_seconds / self.rate

    def as_arguments(self) -> list[str]:
        """The command-line options that give another process this clock."""
        return [
            "--clock-start",
            self.start.isoformat(),
            "--clock-epoch",
            repr(self.epoch),
            "--clock-rate",
            repr(self.rate),
        ]
