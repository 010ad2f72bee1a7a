"""A private Mosquitto (generated config + ACL, 127.0.0.1, free port) and a fake hub."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hallbus.broker.mosquitto import find_mosquitto, start_mosquitto
from hallbus.client import ConnectionSettings, DeviceClient
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef, DeviceType

HALL = "bh"
HUB = DeviceRef(HALL, DeviceType.HUB, "hub-bh")
WINDOW_DISPLAY = DeviceRef(HALL, DeviceType.WINDOW_DISPLAY, "window-display-3")
HALL_DISPLAY = DeviceRef(HALL, DeviceType.HALL_DISPLAY, "hall-display-1")
ANNOUNCER = DeviceRef(HALL, DeviceType.ANNOUNCER, "announcer-1")
REGISTRY = [HUB, WINDOW_DISPLAY, HALL_DISPLAY, ANNOUNCER]
WAIT_S = 5.0


@dataclass
class Broker:
    port: int
    passwords: dict[str, str]
    clients: list[DeviceClient] = field(default_factory=list)

    def settings(self, device: DeviceRef) -> ConnectionSettings:
        return ConnectionSettings(port=self.port, password=self.passwords[device.device_id])

    def client(self, device: DeviceRef, *, start: bool = True) -> DeviceClient:
        client = DeviceClient(device, self.settings(device))
        self.clients.append(client)
        if start:
            client.start()
            client.wait_connected(WAIT_S)
        return client


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    passwords = {device.device_id: f"pw-{device.device_id}" for device in REGISTRY}
    port = free_loopback_port()
    process = start_mosquitto(tmp_path / "mosquitto", REGISTRY, passwords, port)
    running = Broker(port, passwords)
    try:
        yield running
    finally:
        for client in running.clients:
            client.stop()
        process.stop()
