"""A hall for fault tests: Mosquitto, the backend, and the hub as a process that can be killed.

Unlike tests/hub (the hub in the test's process), the hub here is `python -m hub`,
so `kill -9` is a real kill: nothing it held in memory survives, only its SQLite
file. The backend runs in the test's process (werkzeug on a thread, a SQLite
file) and can be stopped and started; stopped, it refuses connections like a
dead server. Both run on one hall time (hallbus.clock.ScaledClock) that starts on
a working-day morning and runs `RATE` times faster than the wall clock, so
minutes of outage take seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from backend.db import Database
from backend.models import Hall
from hallbus.broker.credentials import ensure_device_passwords
from hallbus.broker.mosquitto import MosquittoProcess, find_mosquitto, start_mosquitto
from hallbus.client import ConnectionSettings, DeviceClient
from hallbus.clock import ScaledClock
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef, DeviceType
from simulators.callerbox import SimulatedCallerBox, SimulatedCallerBus
from tests.conftest import DEFAULT_NOW, issue_test_device_token
from tests.hub.conftest import BackendServer

HALL = "bh"
RATE = 10.0  # hall seconds per wall second
WINDOWS = ("1", "2", "3", "4", "5")
ROOT = Path(__file__).resolve().parents[2]


def device_specs() -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = {
        "kiosk-1": {"type": "kiosk", "printer": {"kind": "dummy"}},
        "kiosk-2": {"type": "kiosk", "printer": {"kind": "dummy"}},
        "hall-display-1": {"type": "hall_display", "pages": ["calls", "waiting"]},
    }
    for window in WINDOWS:
        specs[f"window-display-{window}"] = {"type": "window_display", "window": window}
        specs[f"evaluator-{window}"] = {
            "type": "evaluator",
            "window": window,
            "dimensions": ["服务态度", "办事效率"],
        }
    return specs


@dataclass
class HubProcess:
    """`python -m hub` with its config; started, killed (-9) and started again."""

    config_file: Path
    health_port: int
    clock: ScaledClock
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        log = self.log_file.open("ab")
        log.write(f"\n===== hub start {self.starts} =====\n".encode())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub",
                "--config",
                str(self.config_file),
                "--health-port",
                str(self.health_port),
                *self.clock.as_arguments(),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/health", timeout=2
            ) as response:
                return dict(json.loads(response.read()))
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_file.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class OutageHall:
    broker: MosquittoProcess
    broker_port: int
    passwords: dict[str, str]
    backend: BackendServer
    hub: HubProcess
    clock: ScaledClock
    database_url: str
    console_port: int
    callers: SimulatedCallerBus  # the far end of the hub's RS-485 port (a pty)
    box: SimulatedCallerBox  # window 5's key box on it, attached before the hub starts
    clients: list[DeviceClient] = field(default_factory=list)

    def client(self, device_id: str) -> DeviceClient:
        device_type = DeviceType(device_specs()[device_id]["type"])
        client = DeviceClient(
            DeviceRef(HALL, device_type, device_id),
            ConnectionSettings(
                host="127.0.0.1", port=self.broker_port, password=self.passwords[device_id]
            ),
        )
        self.clients.append(client)
        client.start()
        client.wait_connected(10)
        return client

    def database(self) -> Database:
        return Database(self.database_url)

    def wait_for_hub(self, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        """Poll the hub's health endpoint (a separate process: no event to await)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.hub.health()
            if last is not None and predicate(last):
                return last
            time.sleep(0.1)
        raise TimeoutError(
            f"hub: timed out waiting for {what}; last health {last}\n{self.hub.log_tail()}"
        )

    def stop_all(self) -> None:
        for client in self.clients:
            client.stop()
        self.hub.stop()
        self.backend.stop()
        self.broker.stop()
        self.callers.close()


@pytest.fixture
def outage_hall(tmp_path: Path, sqlite_template: Path) -> Iterator[OutageHall]:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed (the fault tests need it)")
    database_file = tmp_path / "hall.db"
    shutil.copyfile(sqlite_template, database_file)
    database_url = f"sqlite:///{database_file}"
    # 10:00 in the hall on a working day; every process derives the same hall time.
    clock = ScaledClock.starting_now(DEFAULT_NOW, RATE)
    specs = device_specs()
    all_ids = [*specs, "hub-bh"]
    passwords = ensure_device_passwords(all_ids, tmp_path / "secrets")
    broker_port = free_loopback_port()
    devices = [DeviceRef(HALL, DeviceType(spec["type"]), d) for d, spec in specs.items()]
    devices.append(DeviceRef(HALL, DeviceType.HUB, "hub-bh"))
    broker = start_mosquitto(tmp_path / "mosquitto", devices, passwords, broker_port)
    backend = BackendServer(database_url, tmp_path / "var", clock)  # type: ignore[arg-type]
    database = Database(database_url)
    try:
        token = issue_test_device_token(database, "hub-bh", "hub")
        with database.writing() as session:
            hall_row = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
            # Five hall minutes to rate: half a wall minute at RATE, so a rate-now the
            # hub forwards late on a loaded machine is still valid when it arrives.
            hall_row.call_policy = {**(hall_row.call_policy or {}), "rating_timeout_seconds": 300}
    finally:
        database.dispose()
    token_file = tmp_path / "hub-token"
    token_file.write_text(token, encoding="utf-8")
    callers = SimulatedCallerBus(tmp_path / "ttyCALLERS")
    console_port = free_loopback_port()
    configs = tmp_path / "device-configs"
    configs.mkdir()
    for device_id, spec in specs.items():
        values = {
            "device_id": device_id,
            "hall_id": HALL,
            **spec,
            "broker": {
                "host": "127.0.0.1",
                "port": broker_port,
                "password_file": str(tmp_path / "secrets" / device_id),
            },
        }
        (configs / f"{device_id}.yaml").write_text(yaml.safe_dump(values), encoding="utf-8")
    hub_values: dict[str, Any] = {
        "device_id": "hub-bh",
        "hall_id": HALL,
        "type": "hub",
        "broker": {
            "host": "127.0.0.1",
            "port": broker_port,
            "password_file": str(tmp_path / "secrets" / "hub-bh"),
        },
        "backend": {"url": backend.url, "token_file": str(token_file), "timeout_s": 2},
        "outbox_path": str(tmp_path / "hub-outbox.sqlite3"),
        "reserved_block_size": 50,
        "device_configs_dir": ".",
        "console": {"host": "127.0.0.1", "port": console_port},
        # No repeat guard: a pty loses no echo, so every frame is a real press (the
        # guard would drop a second "call" pressed within a second of the first).
        "callers": {"port": str(callers.port_path), "boxes": {5: "5"}, "repeat_guard_ms": 0},
    }
    hub_file = configs / "hub-bh.yaml"
    hub_file.write_text(yaml.safe_dump(hub_values, allow_unicode=True), encoding="utf-8")
    hub = HubProcess(hub_file, free_loopback_port(), clock, tmp_path / "hub.log")
    hall = OutageHall(
        broker=broker,
        broker_port=broker_port,
        passwords=passwords,
        backend=backend,
        hub=hub,
        clock=clock,
        database_url=database_url,
        console_port=console_port,
        callers=callers,
        box=SimulatedCallerBox(callers, address=5),
    )
    backend.start()
    try:
        yield hall
    finally:
        hall.stop_all()
