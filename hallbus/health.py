"""Publishing a peripheral's health (LED bar, key box): the device's side of §6a.

A serial driver reports every reopen attempt while its port is gone; the reporter
publishes only when the condition or its detail changes, retained, so the hub (and
through it the backend's device page) knows it after a restart. The detail is for
staff — it may name a port or an errno — and must never be put on a public screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from hallbus.bus import MessageBus
from hallbus.codec import encode
from hallbus.messages import DeviceHealth
from hallbus.topics import Component, DeviceRef

log = logging.getLogger(__name__)

MAX_DETAIL = 2000  # LongText


class ComponentHealthReporter:
    """Thread-safe; call :meth:`report` from the driver's health callback."""

    def __init__(
        self,
        bus: MessageBus,
        device: DeviceRef,
        component: Component,
        clock: Callable[[], datetime],
    ) -> None:
        self._bus = bus
        self._device = device
        self._component = component
        self._clock = clock
        self._last: tuple[bool, str] | None = None
        self._lock = threading.Lock()

    @property
    def topic(self) -> str:
        return self._device.health_topic(self._component)

    def report(self, ok: bool, detail: str) -> bool:
        """Publish the component's health if it changed; True when published."""
        with self._lock:
            if self._last == (ok, detail):
                return False
            self._last = (ok, detail)
        (log.info if ok else log.warning)(
            "%s %s: %s", self._component.value, "ok" if ok else "fault", detail
        )
        message = DeviceHealth(
            device=self._device.device_id,
            component=self._component,
            state="ok" if ok else "fault",
            detail=detail[:MAX_DETAIL],
            at=self._clock(),
        )
        self._bus.publish(self.topic, encode(message), qos=1, retain=True)
        return True
