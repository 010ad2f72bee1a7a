"""A realistic hall day, played at a chosen speed: kiosks take tickets, clerks call them.

Arrivals follow the shape halls report: a morning peak 9:00–11:00, a dip over
lunch 12:00–13:30 and a smaller afternoon peak 14:00–16:00. Simulated clerks
work through the backend API exactly as the clerk UI does (sign in at their
window with the demo password, call next, finish), so every call travels the
real path: backend → event log → hub → displays.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import time as clock_time
from typing import Any, Final

import urllib3

from hallbus.client import RequestFailed, RequestTimeout
from simulators.devices import SimKiosk

log = logging.getLogger(__name__)

DEMO_PASSWORD: Final = "demo-pass-2026"

# Arrivals per hour at the whole hall by local hour (08:30 opening .. 17:00).
HALL_DAY_PROFILE: Final[dict[int, float]] = {
    8: 40.0,
    9: 160.0,
    10: 170.0,
    11: 110.0,
    12: 35.0,
    13: 45.0,
    14: 120.0,
    15: 125.0,
    16: 50.0,
}
LUNCH_END: Final = clock_time(13, 30)


def arrivals_per_hour(at: clock_time, profile: dict[int, float] = HALL_DAY_PROFILE) -> float:
    """Arrival rate at a local time of day; the lunch dip lasts until 13:30."""
    rate = profile.get(at.hour, 0.0)
    if at.hour == 13 and at < LUNCH_END:
        rate = profile.get(12, rate)
    return rate


class SimClerk:
    """A clerk at one window, using the backend API (keep-alive connection)."""

    def __init__(self, base_url: str, employee_no: str, window: str, hall: str = "BH") -> None:
        self.base_url = base_url.rstrip("/")
        self.employee_no = employee_no
        self.window = window
        self.hall = hall
        self._http = urllib3.PoolManager(maxsize=2, retries=False)
        self._token: str | None = None

    def _post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        response = self._http.request(
            "POST",
            self.base_url + path,
            body=json.dumps(body or {}).encode("utf-8"),
            headers=headers,
            timeout=10.0,
        )
        return response.status, json.loads(response.data) if response.data else None

    def sign_in(self) -> None:
        status, body = self._post(
            "/api/v1/auth/sign-in",
            {
                "employee_no": self.employee_no,
                "password": DEMO_PASSWORD,
                "hall": self.hall,
                "window": self.window,
            },
        )
        if status != 200:
            raise RuntimeError(f"{self.employee_no} cannot sign in: {status} {body}")
        self._token = body["token"]

    def _window(self, action: str) -> tuple[int, Any]:
        return self._post(f"/api/v1/halls/{self.hall}/windows/{self.window}/{action}")

    def call_next(self) -> str | None:
        """Call the next ticket; its number, or None when nobody is waiting."""
        status, body = self._window("call-next")
        if status != 200:
            raise RuntimeError(f"call-next at window {self.window}: {status} {body}")
        ticket = body.get("ticket")
        return str(ticket["number"]) if ticket else None

    def recall(self) -> None:
        status, body = self._window("recall")
        if status != 200:
            raise RuntimeError(f"recall at window {self.window}: {status} {body}")

    def finish(self) -> None:
        status, body = self._window("finish")
        if status != 200:
            raise RuntimeError(f"finish at window {self.window}: {status} {body}")

    def close(self) -> None:
        self._http.clear()


@dataclass
class TrafficReport:
    tickets: int = 0
    calls: int = 0
    refused: int = 0
    per_hour: dict[int, int] = field(default_factory=dict)


class TrafficGenerator:
    """Plays simulated hall time from `start` to `end` at `speed` × real time.

    Every simulated minute: Poisson-distributed arrivals take tickets at a
    random kiosk; each free clerk calls the next ticket and serves it for a
    random time (exponential, mean `mean_service_minutes`).
    """

    def __init__(
        self,
        kiosks: Sequence[SimKiosk],
        clerks: Sequence[SimClerk],
        categories: Sequence[str],
        rng: random.Random,
        *,
        speed: float = 60.0,
        scale: float = 1.0,
        mean_service_minutes: float = 6.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kiosks = list(kiosks)
        self.clerks = list(clerks)
        self.categories = list(categories)
        self.rng = rng
        self.speed = speed
        self.scale = scale
        self.mean_service_minutes = mean_service_minutes
        self._sleep = sleep
        self._busy_until: dict[str, float] = {}
        self.stop = threading.Event()

    def _poisson(self, mean: float) -> int:
        # Knuth's method: fine for the small per-minute means of a hall.
        limit, count, product = pow(2.718281828459045, -mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def run(self, start: clock_time, end: clock_time) -> TrafficReport:
        report = TrafficReport()
        minute = start.hour * 60 + start.minute
        last = end.hour * 60 + end.minute
        while minute < last and not self.stop.is_set():
            began = time.monotonic()
            at = clock_time(minute // 60, minute % 60)
            arrivals = self._poisson(arrivals_per_hour(at) * self.scale / 60)
            for _ in range(arrivals):
                kiosk = self.rng.choice(self.kiosks)
                try:
                    kiosk.take_ticket(self.rng.choice(self.categories))
                except (RequestFailed, RequestTimeout) as exc:
                    log.info("ticket refused: %s", exc)
                    report.refused += 1
                    continue
                report.tickets += 1
                report.per_hour[at.hour] = report.per_hour.get(at.hour, 0) + 1
            for clerk in self.clerks:
                if self._busy_until.get(clerk.window, 0) > minute:
                    continue
                if clerk.call_next() is not None:
                    report.calls += 1
                    served = self.rng.expovariate(1 / self.mean_service_minutes)
                    self._busy_until[clerk.window] = minute + max(1.0, served)
            minute += 1
            spare = 60 / self.speed - (time.monotonic() - began)
            if spare > 0:
                self._sleep(spare)
        return report
