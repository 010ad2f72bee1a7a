"""A simulated hall around a running backend: generated Mosquitto, device configs, hub, devices.

Benchmarks and soak tests need the same pieces the demo wires together, but on
private ports and in a temporary directory: a device registry (one YAML file
per device, as in `device-configs/`), a Mosquitto with the generated password
file and ACL on a free loopback port, the hub reading that registry, and
simulated devices connecting with the same files. The backend (database,
granian) is the caller's: `HallRig` only needs its URL and a hub token.

Everything binds 127.0.0.1; `HallRig` is a context manager that stops what it
started, in reverse order.
"""

from __future__ import annotations

import contextlib
import random
import resource
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from hallbus.broker.credentials import ensure_device_passwords
from hallbus.broker.mosquitto import MosquittoProcess, start_mosquitto
from hallbus.client import DeviceClient
from hallbus.config import HubConfig, connection_settings, load_device_config
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef, DeviceType
from hub.service import HubService
from simulators.devices import SimEvaluator, SimHallDisplay, SimKiosk, SimWindowDisplay

HUB_ID = "hub-bh"


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device_id: str
    device_type: DeviceType
    window: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self, hall_id: str) -> dict[str, Any]:
        values: dict[str, Any] = {
            "device_id": self.device_id,
            "hall_id": hall_id,
            "type": self.device_type.value,
        }
        # The minimum each device type's config model requires.
        if self.device_type is DeviceType.KIOSK:
            values["printer"] = {"kind": "dummy"}
        elif self.device_type is DeviceType.HALL_DISPLAY:
            values["pages"] = ["calls", "waiting"]
        if self.window is not None:
            values["window"] = self.window
        values.update(self.extra)
        return values


def hall_mix(
    total: int, windows: list[str], *, kiosks: int = 10, hall_displays: int = 4
) -> list[DeviceSpec]:
    """`total` devices like a big hall: kiosks, hall displays, then a window display and an
    evaluator per window (windows reused round-robin when there are more devices than windows)."""
    specs = [DeviceSpec(f"kiosk-{i}", DeviceType.KIOSK) for i in range(1, kiosks + 1)]
    specs += [
        DeviceSpec(f"hall-display-{i}", DeviceType.HALL_DISPLAY)
        for i in range(1, hall_displays + 1)
    ]
    index = 0
    while len(specs) < total:
        window = windows[index % len(windows)]
        index += 1
        kind = DeviceType.WINDOW_DISPLAY if index % 2 else DeviceType.EVALUATOR
        name = "window-display" if kind is DeviceType.WINDOW_DISPLAY else "evaluator"
        specs.append(DeviceSpec(f"{name}-{index}", kind, window))
    return specs[:total]


def raise_open_file_limit(wanted: int) -> int:
    """Lift the soft RLIMIT_NOFILE towards `wanted` (each device holds a socket; so does the
    broker child, which inherits the limit). Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class HallRig:
    """Registry + Mosquitto + hub (+ simulated devices on demand) in `directory`."""

    def __init__(
        self,
        directory: Path,
        devices: Iterable[DeviceSpec],
        *,
        backend_url: str,
        hub_token: str,
        hall_id: str = "bh",
        long_poll_s: float = 20.0,
        backend_timeout_s: float = 5.0,
    ) -> None:
        self.directory = directory
        self.hall_id = hall_id
        self.devices = list(devices)
        self.backend_url = backend_url
        self.hub_token = hub_token
        self.long_poll_s = long_poll_s
        self.backend_timeout_s = backend_timeout_s
        self.port = free_loopback_port()
        self.configs_dir = directory / "device-configs"
        self.secrets_dir = directory / "secrets"
        self.broker: MosquittoProcess | None = None
        self.hub: HubService | None = None
        self.clients: list[DeviceClient] = []

    # ----------------------------------------------------------------- lifecycle

    def start_broker(self) -> MosquittoProcess:
        every = [d.device_id for d in self.devices] + [HUB_ID]
        passwords = ensure_device_passwords(every, self.secrets_dir)
        self._write_configs()
        refs = [DeviceRef(self.hall_id, d.device_type, d.device_id) for d in self.devices]
        refs.append(DeviceRef(self.hall_id, DeviceType.HUB, HUB_ID))
        self.broker = start_mosquitto(self.directory / "mosquitto", refs, passwords, self.port)
        return self.broker

    def start_hub(self, *, wait_s: float = 30.0) -> HubService:
        config = load_device_config(self.configs_dir / f"{HUB_ID}.yaml")
        assert isinstance(config, HubConfig)
        self.hub = HubService(config, token=self.hub_token, long_poll_s=self.long_poll_s)
        self.hub.start()
        self.hub.wait_ready(wait_s)
        return self.hub

    def client(self, device_id: str, *, start: bool = True) -> DeviceClient:
        config = load_device_config(self.configs_dir / f"{device_id}.yaml")
        client = DeviceClient(config.device_ref(), connection_settings(config))
        self.clients.append(client)
        if start:
            client.start()
        return client

    def stop(self) -> None:
        for client in reversed(self.clients):
            with contextlib.suppress(Exception):
                client.stop(timeout=2.0)
        self.clients.clear()
        hub, self.hub = self.hub, None
        if hub is not None:
            hub.stop()
            hub.close()
        broker, self.broker = self.broker, None
        if broker is not None:
            broker.stop()

    def __enter__(self) -> HallRig:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ simulated devices

    def window_display(self, device_id: str) -> SimWindowDisplay:
        # Subscribe before connecting, so the retained state is the first thing received.
        client = self.client(device_id, start=False)
        display = SimWindowDisplay(client)
        client.start()
        return display

    def hall_display(self, device_id: str) -> SimHallDisplay:
        client = self.client(device_id, start=False)
        display = SimHallDisplay(client)
        client.start()
        return display

    def kiosk(self, device_id: str) -> SimKiosk:
        return SimKiosk(self.client(device_id))

    def evaluator(self, device_id: str, seed: int = 7) -> SimEvaluator:
        client = self.client(device_id, start=False)
        evaluator = SimEvaluator(client, random.Random(seed), auto_answer=False)
        client.start()
        return evaluator

    # -------------------------------------------------------------------- files

    def _write_configs(self) -> None:
        self.configs_dir.mkdir(parents=True, exist_ok=True)
        broker = {"host": "127.0.0.1", "port": self.port}
        for spec in self.devices:
            values = spec.config(self.hall_id)
            values["broker"] = {**broker, "password_file": str(self.secrets_dir / spec.device_id)}
            self._dump(spec.device_id, values)
        token_file = self.directory / "hub-token"
        token_file.write_text(self.hub_token, encoding="utf-8")
        token_file.chmod(0o600)
        self._dump(
            HUB_ID,
            {
                "device_id": HUB_ID,
                "hall_id": self.hall_id,
                "type": "hub",
                "broker": {**broker, "password_file": str(self.secrets_dir / HUB_ID)},
                "backend": {
                    "url": self.backend_url,
                    "token_file": str(token_file),
                    "timeout_s": self.backend_timeout_s,
                },
                "outbox_path": str(self.directory / "hub-outbox.sqlite3"),
                "reserved_block_size": 0,
                "device_configs_dir": ".",
            },
        )

    def _dump(self, device_id: str, values: dict[str, Any]) -> None:
        text = yaml.safe_dump(values, allow_unicode=True, sort_keys=False)
        (self.configs_dir / f"{device_id}.yaml").write_text(text, encoding="utf-8")
