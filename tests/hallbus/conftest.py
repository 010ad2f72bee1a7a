"""Brokers and observers for hallbus tests.

Every broker here is started by the test that needs it, on a free port bound to
127.0.0.1, and stopped afterwards (function scope: retained messages and
persistent sessions from one test must not leak into the next).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hallbus.broker.embedded import EmbeddedBroker
from hallbus.broker.mosquitto import MosquittoProcess, find_mosquitto, start_mosquitto
from hallbus.client import ConnectionSettings, DeviceClient
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef, DeviceType

HALL = "bh"
KIOSK_1 = DeviceRef(HALL, DeviceType.KIOSK, "kiosk-1")
KIOSK_2 = DeviceRef(HALL, DeviceType.KIOSK, "kiosk-2")
EVALUATOR_1 = DeviceRef(HALL, DeviceType.EVALUATOR, "evaluator-1")
WINDOW_DISPLAY_1 = DeviceRef(HALL, DeviceType.WINDOW_DISPLAY, "window-display-1")
HUB = DeviceRef(HALL, DeviceType.HUB, "hub-bh")
# A second hub-rights account for observers, so the hub's own session is untouched.
MONITOR = DeviceRef(HALL, DeviceType.HUB, "monitor")
REGISTRY = [KIOSK_1, KIOSK_2, EVALUATOR_1, WINDOW_DISPLAY_1, HUB, MONITOR]
WAIT_S = 5.0


@dataclass
class RunningBroker:
    kind: str
    port: int
    passwords: dict[str, str] = field(default_factory=dict)
    clients: list[DeviceClient] = field(default_factory=list)

    def settings(self, device: DeviceRef, **overrides: object) -> ConnectionSettings:
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "password": self.passwords.get(device.device_id),
        }
        values.update(overrides)
        return ConnectionSettings(**values)  # type: ignore[arg-type]

    def client(self, device: DeviceRef, *, start: bool = True, **overrides: object) -> DeviceClient:
        """A DeviceClient that the fixture stops at the end of the test."""
        client = DeviceClient(device, self.settings(device, **overrides))
        self.clients.append(client)
        if start:
            client.start()
            client.wait_connected(WAIT_S)
        return client

    def watcher(self, *topic_filters: str) -> Watcher:
        """A hub-credentialed observer with a clean session (sees only what arrives now)."""
        watcher = Watcher(self.port, MONITOR.device_id, self.passwords.get(MONITOR.device_id))
        watcher.start(topic_filters)
        return watcher


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool


class Watcher:
    """Raw paho subscriber used only to observe the broker from the outside."""

    def __init__(self, port: int, username: str, password: str | None) -> None:
        self.messages: queue.Queue[Seen] = queue.Queue()
        self._subscribed: queue.Queue[int] = queue.Queue()
        self._port = port
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{username}", clean_session=True
        )
        self._client.username_pw_set(username, password)
        self._client.on_message = lambda _c, _u, m: self.messages.put(
            Seen(m.topic, bytes(m.payload), bool(m.retain))
        )
        self._client.on_subscribe = lambda _c, _u, mid, _rc, _p: self._subscribed.put(mid)
        self._connacks: queue.Queue[bool] = queue.Queue()
        self._client.on_connect = lambda _c, _u, _f, rc, _p: self._connacks.put(rc.is_failure)

    def start(self, topic_filters: tuple[str, ...]) -> None:
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        assert self._connacks.get(timeout=WAIT_S) is False, "observer could not log in"
        if topic_filters:
            _result, mid = self._client.subscribe([(f, 1) for f in topic_filters])
            assert self._subscribed.get(timeout=WAIT_S) == mid

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def next(self, timeout: float = WAIT_S) -> Seen:
        return self.messages.get(timeout=timeout)

    def next_on(self, topic: str, timeout: float = WAIT_S) -> Seen:
        """Next message on `topic`, skipping others."""
        while True:
            seen = self.messages.get(timeout=timeout)
            if seen.topic == topic:
                return seen

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _passwords() -> dict[str, str]:
    return {device.device_id: f"pw-{device.device_id}" for device in REGISTRY}


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    passwords = _passwords()
    port = free_loopback_port()
    process: MosquittoProcess = start_mosquitto(tmp_path / "mosquitto", REGISTRY, passwords, port)
    broker = RunningBroker("mosquitto", port, passwords)
    try:
        yield broker
    finally:
        for client in broker.clients:
            client.stop()
        process.stop()


@pytest.fixture
def embedded_broker() -> Iterator[RunningBroker]:
    with EmbeddedBroker() as embedded:
        broker = RunningBroker("embedded", embedded.port)
        try:
            yield broker
        finally:
            for client in broker.clients:
                client.stop()


@pytest.fixture(params=["mosquitto", "embedded"])
def any_broker(request: pytest.FixtureRequest) -> RunningBroker:
    broker: RunningBroker = request.getfixturevalue(f"{request.param}_broker")
    return broker
