"""The real kiosk runtime against a fake hub over a private Mosquitto (window test, bench,
screenshots). Everything binds 127.0.0.1 on a free port and is stopped by ``close()``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallbus.broker.mosquitto import MosquittoProcess
from hallbus.client import ConnectionSettings, DeviceClient
from hallbus.config import KioskConfig
from hallbus.topics import DeviceRef, DeviceType
from kiosk.printing import PrinterSettings
from kiosk.printing.printer import paper_profile
from kiosk.runtime import KioskRuntime
from tests.kiosk.broker import start_private_mosquitto
from tests.kiosk.conftest import RecordingDummy
from tests.kiosk.fakehub import FakeHub

WAIT_S = 5.0


def kiosk_config(**overrides: Any) -> KioskConfig:
    data: dict[str, Any] = {
        "device_id": "kiosk-1",
        "hall_id": "bh",
        "type": "kiosk",
        "printer": {"kind": "dummy", "qr": "native", "paper_width_mm": 80},
        "id_card_reader": None,
        "scanner": {"kind": "keyboard"},
        "idle_timeout_s": 90,
        "languages": ["zh", "en"],
    }
    data.update(overrides)
    return KioskConfig.model_validate(data)


@dataclass
class LiveRig:
    broker: MosquittoProcess
    hub_client: DeviceClient
    hub: FakeHub
    runtime: KioskRuntime
    dummies: list[RecordingDummy]

    def close(self) -> None:
        self.runtime.stop()
        self.hub_client.stop()
        self.broker.stop()

    def printed(self) -> bytes:
        return b"".join(job for dummy in self.dummies for job in dummy.jobs)


def start_rig(directory: Path, *, config: KioskConfig | None = None) -> LiveRig:
    broker = start_private_mosquitto(directory / "broker")
    settings = ConnectionSettings(host="127.0.0.1", port=broker.port)
    hub_client = DeviceClient(DeviceRef("bh", DeviceType.HUB, "hub-bh"), settings)
    try:
        hub_client.start()
        hub_client.wait_connected(WAIT_S)
        hub = FakeHub(hub_client)
        hub.start()
        hub.publish_status(True)
        hub.publish_config("kiosk-1")
        hub.publish_state("kiosk-1")
        dummies: list[RecordingDummy] = []

        def printer_factory(printer_settings: PrinterSettings) -> RecordingDummy:
            dummy = RecordingDummy(profile=paper_profile(printer_settings))
            dummies.append(dummy)
            return dummy

        runtime = KioskRuntime(
            config or kiosk_config(),
            cache_dir=directory / "cache",
            connection=settings,
            printer_factory=printer_factory,
        )
        runtime.start()
        runtime.client.wait_connected(WAIT_S)
    except BaseException:
        hub_client.stop()
        broker.stop()
        raise
    return LiveRig(broker, hub_client, hub, runtime, dummies)
