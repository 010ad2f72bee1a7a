"""Is what the screen shows still live? The device's own connection plus the hub's status.

A display must never freeze on stale data without saying so. It is *live* only while
its own MQTT connection is up **and** the hub has announced ``online`` on
``hall/<h>/hub/<hub-id>/status`` (retained, with a Last Will ``offline``, so a dead hub
is reported by the broker). Before either is known the display says it is connecting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Link(Enum):
    CONNECTING = "connecting"  # not yet heard from the broker or the hub
    LIVE = "live"
    DEVICE_OFFLINE = "device_offline"  # our own connection to the broker is down
    HUB_OFFLINE = "hub_offline"  # connected, but the hub is gone


@dataclass(frozen=True, slots=True)
class LinkStatus:
    link: Link
    since: datetime | None = None  # when the link last stopped being live

    @property
    def live(self) -> bool:
        return self.link is Link.LIVE


class LinkTracker:
    """Combines the two signals; ``hub_came_back()`` tells the caller to reset seq gates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connected: bool | None = None
        self._hub_online: bool | None = None
        self._lost_at: datetime | None = None

    def device_connected(self, connected: bool, now: datetime) -> LinkStatus:
        with self._lock:
            self._connected = connected
            return self._status(now)

    def hub_status(self, online: bool, now: datetime) -> tuple[LinkStatus, bool]:
        """Record the hub's availability; the flag is True when the hub has just returned."""
        with self._lock:
            came_back = online and self._hub_online is not True
            self._hub_online = online
            return self._status(now), came_back

    def status(self, now: datetime) -> LinkStatus:
        with self._lock:
            return self._status(now)

    def _status(self, now: datetime) -> LinkStatus:
        if self._connected is False:
            link = Link.DEVICE_OFFLINE
        elif self._connected is None or self._hub_online is None:
            link = Link.CONNECTING
        elif self._hub_online:
            link = Link.LIVE
        else:
            link = Link.HUB_OFFLINE
        if link is Link.LIVE:
            self._lost_at = None
        elif self._lost_at is None and link is not Link.CONNECTING:
            self._lost_at = now
        return LinkStatus(link, self._lost_at)
