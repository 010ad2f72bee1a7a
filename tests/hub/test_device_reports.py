"""What the hub tells the backend about devices (versions, a heartbeat) and what it
tells the devices about the hall (its time zone), over a real broker and backend."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from backend.db import Database
from backend.models import Device, Hall
from hallbus.codec import decode
from hallbus.messages import ConfigPush
from hallbus.topics import DeviceRef, DeviceType
from hallbus.version import app_version
from hub.registry import DeviceRecord, DeviceRegistry, RegistryReporter
from tests.hub.conftest import WAIT_S, wait_until
from tests.hub.conftest import Hall as HubHall


def _device_row(hall: HubHall, device_id: str) -> dict[str, Any]:
    database = Database(hall.backend.database_url)
    try:
        with database.reading() as session:
            row = session.execute(
                select(Device).where(Device.device_id == device_id)
            ).scalar_one_or_none()
            if row is None:
                return {}
            return {"app_version": row.app_version, "last_seen": row.last_seen}
    finally:
        database.dispose()


def test_every_device_reports_its_software_version(mosquitto_hall: HubHall) -> None:
    version = app_version()
    assert version  # the package is installed: there is a version to report
    hub = mosquitto_hall.start_hub()
    kiosk = mosquitto_hall.kiosk()
    wait_until(
        lambda: _device_row(mosquitto_hall, "kiosk-1").get("app_version") == version,
        what="kiosk version at the backend",
    )
    # A report naming another device is refused, logged and counted; nothing changes.
    kiosk.client.publish(
        kiosk.client.device.info_topic(), b'{"v":1,"device":"kiosk-2","app_version":"9.9"}'
    )
    wait_until(lambda: hub.metrics.snapshot().get("errors_bad_info", 0) >= 1, what="refused")
    assert hub.registry.get("kiosk-2").app_version == ""  # type: ignore[union-attr]
    assert hub.registry.get("kiosk-1").app_version == version  # type: ignore[union-attr]
    # The hub's own record too: its client announces itself like any device.
    wait_until(
        lambda: _device_row(mosquitto_hall, "hub-bh").get("app_version") == version,
        what="hub version at the backend",
    )


def test_devices_get_the_halls_time_zone_from_the_backend(mosquitto_hall: HubHall) -> None:
    database = Database(mosquitto_hall.backend.database_url)
    try:
        with database.writing() as session:
            session.execute(update(Hall).where(Hall.code == "BH").values(timezone="Asia/Urumqi"))
    finally:
        database.dispose()
    mosquitto_hall.start_hub()
    kiosk = mosquitto_hall.client("kiosk-1")
    pushes: list[ConfigPush] = []
    arrived = threading.Event()

    def on_config(message: Any) -> None:
        pushes.append(decode(ConfigPush, message.payload))
        arrived.set()

    kiosk.subscribe(kiosk.device.config_topic(), on_config)
    assert arrived.wait(WAIT_S), "the kiosk got no ConfigPush"
    assert pushes[-1].timezone == "Asia/Urumqi"
    assert pushes[-1].hall_name


def test_the_reporter_re_reports_online_devices_as_seen() -> None:
    """The hub's heartbeat: without it an online device's last_seen stays at the moment
    it connected, and the device page calls a running hub "久未上报"."""
    hub = DeviceRef("bh", DeviceType.HUB, "hub-bh")
    kiosk = DeviceRef("bh", DeviceType.KIOSK, "kiosk-1")
    registry = DeviceRegistry(
        records={
            "hub-bh": DeviceRecord(ref=hub, window=None, config_version="x"),
            "kiosk-1": DeviceRecord(ref=kiosk, window=None, config_version="y"),
        }
    )
    connected = datetime(2026, 12, 6, 21, 39, tzinfo=UTC)
    later = connected + timedelta(minutes=1)
    registry.mark("hub-bh", online=True, at=connected)
    sent: list[DeviceRecord] = []
    beat = threading.Event()

    def send(record: DeviceRecord) -> None:
        sent.append(record)
        if record.last_seen == later:
            beat.set()

    stopping = threading.Event()
    reporter = RegistryReporter(
        registry, send, stopping, retry_s=0.05, heartbeat_s=0.05, clock=lambda: later
    )
    reporter.start()
    try:
        assert beat.wait(WAIT_S), "no heartbeat report"
    finally:
        stopping.set()
        reporter.join(WAIT_S)
    # Only what is online is vouched for: the offline kiosk is not reported as seen.
    assert {r.ref.device_id for r in sent if r.last_seen == later} == {"hub-bh"}
    assert registry.get("kiosk-1").last_seen is None  # type: ignore[union-attr]
