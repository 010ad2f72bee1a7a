"""The hall's devices as the hub sees them: who exists, who is online, since when.

Which devices exist comes from the device configs directory (the same files the
broker ACL is generated from); a device id not in it is `unknown_device`.
Presence comes from the retained `status` topics. Every change is reported to
the backend (PUT /devices/<id>) by a background thread, so a burst of status
changes after a broker restart costs at most one report per device.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hallbus.config import DeviceConfig, EvaluatorConfig
from hallbus.topics import DeviceRef, DeviceType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """The last DeviceHealth a device reported for one of its components."""

    component: str
    state: str
    detail: str
    at: datetime

    def as_json(self) -> dict[str, str]:
        return {"state": self.state, "detail": self.detail, "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    ref: DeviceRef
    window: str | None
    config_version: str
    online: bool = False
    last_seen: datetime | None = None
    app_version: str = ""
    # ConfigPush `settings` the hub sends this device, from its config file
    # (evaluators: timeout_s and the rating dimensions).
    push_settings: tuple[tuple[str, str | int], ...] = ()
    # One entry per component that reported, sorted by component.
    health: tuple[ComponentHealth, ...] = ()

    def report(self) -> dict[str, Any]:
        """Body of PUT /devices/<id> (schemas.DeviceReport)."""
        # DeviceReport.health is a flat map of scalars (at most 20 keys): three per
        # component, e.g. printer = "paper_out", printer_detail, printer_at.
        health: dict[str, str] = {}
        for entry in self.health:
            health[entry.component] = entry.state
            health[f"{entry.component}_detail"] = entry.detail
            health[f"{entry.component}_at"] = entry.at.isoformat()
        return {
            "device_type": self.ref.device_type.value,
            "online": self.online,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "app_version": self.app_version,
            "config_version": self.config_version,
            "window": self.window,
            "health": health,
        }


def config_version(config: DeviceConfig) -> str:
    """Short digest of the device's config file: changes whenever the file does."""
    source = config.source_file
    if source is None:
        text = config.model_dump_json()
    else:
        try:
            text = source.read_text(encoding="utf-8")
        except OSError:
            text = config.model_dump_json()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _push_settings(config: DeviceConfig) -> tuple[tuple[str, str | int], ...]:
    if not isinstance(config, EvaluatorConfig):
        return ()
    settings: list[tuple[str, str | int]] = [("timeout_s", config.timeout_s)]
    if config.dimensions:
        # The evaluator reads list settings as one "|"-separated string.
        settings.append(("dimensions", join_setting_list(config.dimensions)))
    return tuple(settings)


# Separators the evaluator splits a list setting on (evaluator.viewmodel.split_setting_list).
_LIST_SEPARATORS = ("|", "\n", "；", ";")


def join_setting_list(items: Iterable[str]) -> str:
    """Items as one ConfigPush string "a|b|c"; separators inside an item become spaces,
    so an item can never turn into two on the device."""
    cleaned = []
    for item in items:
        for separator in _LIST_SEPARATORS:
            item = item.replace(separator, " ")
        if item.strip():
            cleaned.append(item.strip())
    return "|".join(cleaned)


@dataclass
class DeviceRegistry:
    """Known devices and their presence; thread-safe."""

    records: dict[str, DeviceRecord] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_configs(cls, configs: Iterable[DeviceConfig], hall_id: str) -> DeviceRegistry:
        registry = cls()
        for config in configs:
            if config.hall_id != hall_id:
                continue
            window = getattr(config, "window", None)
            registry.records[config.device_id] = DeviceRecord(
                ref=config.device_ref(),
                window=str(window) if window is not None else None,
                config_version=config_version(config),
                push_settings=_push_settings(config),
            )
        return registry

    def get(self, device_id: str) -> DeviceRecord | None:
        with self._lock:
            return self.records.get(device_id)

    def of_type(self, device_type: DeviceType) -> list[DeviceRecord]:
        with self._lock:
            return [r for r in self.records.values() if r.ref.device_type is device_type]

    def for_window(self, device_type: DeviceType, window: str) -> list[DeviceRecord]:
        with self._lock:
            return [
                r
                for r in self.records.values()
                if r.ref.device_type is device_type and r.window == window
            ]

    def windows(self) -> set[str]:
        with self._lock:
            return {r.window for r in self.records.values() if r.window is not None}

    def online_count(self) -> int:
        with self._lock:
            return sum(1 for r in self.records.values() if r.online)

    def mark(self, device_id: str, *, online: bool, at: datetime | None = None) -> bool:
        """Record presence; False for unknown devices. Any change is queued for reporting."""
        when = at or datetime.now(UTC)
        with self._lock:
            record = self.records.get(device_id)
            if record is None:
                return False
            self.records[device_id] = replace(record, online=online, last_seen=when)
            if record.online != online:
                log.info("device %s is %s", device_id, "online" if online else "offline")
            self._dirty.add(device_id)
        self._changed.set()
        return True

    def record_app_version(self, device_id: str, version: str) -> bool:
        """Keep the software version a device announced (DeviceInfo); False for unknown
        devices. Queued for reporting when it changed."""
        with self._lock:
            record = self.records.get(device_id)
            if record is None:
                return False
            if record.app_version == version:
                return True
            self.records[device_id] = replace(record, app_version=version)
            log.info("device %s runs %s", device_id, version)
            self._dirty.add(device_id)
        self._changed.set()
        return True

    def refresh_online(self, at: datetime) -> int:
        """Heartbeat: every device still online (its MQTT connection alive, else the
        broker would have published its Last Will) was seen now; the hub's own record
        among them. Queued for reporting, so the backend's 最近在线 stays current and
        a hub that stops reporting shows as silent."""
        with self._lock:
            online = [d for d, r in self.records.items() if r.online]
            for device_id in online:
                self.records[device_id] = replace(self.records[device_id], last_seen=at)
            self._dirty |= set(online)
        if online:
            self._changed.set()
        return len(online)

    def record_health(self, device_id: str, health: ComponentHealth) -> bool:
        """Keep a component's health; False for unknown devices. Queued for reporting
        when it differs from what was known (a retained copy redelivered is no change)."""
        with self._lock:
            record = self.records.get(device_id)
            if record is None:
                return False
            others = [h for h in record.health if h.component != health.component]
            entries = tuple(sorted([*others, health], key=lambda h: h.component))
            if entries == record.health:
                return True
            previous = next((h for h in record.health if h.component == health.component), None)
            self.records[device_id] = replace(record, health=entries)
            if previous is None or previous.state != health.state:
                log.info("device %s %s: %s", device_id, health.component, health.state)
            self._dirty.add(device_id)
        self._changed.set()
        return True

    def health_summary(self) -> dict[str, dict[str, dict[str, str]]]:
        """device id -> component -> {state, detail, at}, for the hub's health endpoint."""
        with self._lock:
            return {
                device_id: {h.component: h.as_json() for h in record.health}
                for device_id, record in sorted(self.records.items())
                if record.health
            }

    def mark_all_dirty(self) -> None:
        """Report every device again (after the backend came back)."""
        with self._lock:
            self._dirty |= set(self.records)
        self._changed.set()

    def take_dirty(self, timeout: float) -> list[DeviceRecord]:
        """Wait up to `timeout` for changes; return the changed records and clear them."""
        self._changed.wait(timeout)
        with self._lock:
            self._changed.clear()
            dirty = [self.records[d] for d in sorted(self._dirty)]
            self._dirty.clear()
        return dirty

    def requeue(self, records: Iterable[DeviceRecord]) -> None:
        with self._lock:
            self._dirty |= {r.ref.device_id for r in records}

    def wake(self) -> None:
        self._changed.set()


# How often the hub re-reports its online devices (and itself) as seen. Well inside
# the backend's "silent" limit (backend.web.admin.devices.SILENT_AFTER, 3 minutes).
HEARTBEAT_S = 60.0


class RegistryReporter:
    """Background thread: sends changed device records to the backend, and every
    `heartbeat_s` the online ones again with a fresh last_seen."""

    def __init__(
        self,
        registry: DeviceRegistry,
        send: Callable[[DeviceRecord], None],
        stopping: threading.Event,
        *,
        retry_s: float = 5.0,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._send = send
        self._stopping = stopping
        self._retry_s = retry_s
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._monotonic = monotonic
        self._thread = threading.Thread(target=self._run, name="hub-registry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._registry.wake()
        self._thread.join(timeout)

    def _run(self) -> None:
        next_beat = self._monotonic() + self._heartbeat_s
        while not self._stopping.is_set():
            if self._monotonic() >= next_beat:
                self._registry.refresh_online(self._clock())
                next_beat = self._monotonic() + self._heartbeat_s
            wait = max(0.0, min(self._retry_s, next_beat - self._monotonic()))
            dirty = self._registry.take_dirty(wait)
            failed: list[DeviceRecord] = []
            for record in dirty:
                try:
                    self._send(record)
                except Exception as exc:  # backend away: report again later
                    log.debug("device report for %s failed: %s", record.ref.device_id, exc)
                    failed.append(record)
            if failed:
                self._registry.requeue(failed)
                self._stopping.wait(self._retry_s)
