"""Kiosk test fixtures: a view-model wired to a fake hub over an in-memory bus."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from escpos.printer import Dummy

from hallbus.bus import RecordingBus
from hallbus.topics import DeviceRef, DeviceType
from kiosk.catalog_cache import CatalogCache
from kiosk.gateway import BusRequester, HubGateway
from kiosk.printing import PrinterSettings, TicketPrinter
from kiosk.printing.printer import paper_profile
from kiosk.viewmodels import InlineRunner, KioskViewModel
from tests.kiosk.fakehub import HALL_NAME, NOW, FakeHub

KIOSK = DeviceRef("bh", DeviceType.KIOSK, "kiosk-1")


class FakeClock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class RecordingDummy(Dummy):
    """A Dummy printer that keeps every job sent to it (Dummy.output only has the last)."""

    jobs: list[bytes]
    # Set to simulate a printer that fails while printing (cable pulled, jam).
    failing = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = []

    def _raw(self, msg: bytes) -> None:
        if RecordingDummy.failing:
            raise OSError("simulated printer fault")
        super()._raw(msg)
        self.jobs.append(bytes(msg))


@dataclass
class KioskHarness:
    bus: RecordingBus
    hub: FakeHub
    vm: KioskViewModel
    clock: FakeClock
    printer: TicketPrinter
    dummies: list[RecordingDummy]
    cache_path: Path
    published: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any]:
        return self.vm.render()

    def printed(self) -> bytes:
        return b"".join(job for dummy in self.dummies for job in dummy.jobs)


def make_harness(tmp_path: Path, *, start_online: bool = True) -> KioskHarness:
    bus = RecordingBus()
    hub = FakeHub(bus)
    hub.start()
    gateway = HubGateway(BusRequester(bus, KIOSK), bus, KIOSK, hub_id="hub-bh", clock=lambda: NOW)
    cache_path = tmp_path / "cache" / "kiosk-1-catalog.json"
    dummies: list[RecordingDummy] = []

    def factory(settings: PrinterSettings) -> RecordingDummy:
        dummy = RecordingDummy(profile=paper_profile(settings))
        dummies.append(dummy)
        return dummy

    printer = TicketPrinter(
        PrinterSettings(kind="dummy"),
        on_health=gateway.report_printer_health,
        printer_factory=factory,
    )
    clock = FakeClock()
    harness_published: list[dict[str, Any]] = []
    vm = KioskViewModel(
        gateway=gateway,
        cache=CatalogCache(cache_path),
        printer=printer,
        runner=InlineRunner(),
        hall_name="政务服务中心",
        idle_timeout_s=60,
        languages=["zh", "en"],
        has_id_reader=True,
        has_scanner=True,
        now=lambda: datetime(2026, 11, 26, 10, 5, tzinfo=NOW.tzinfo),
        monotonic=clock,
        publish=harness_published.append,
    )
    gateway.listen(
        on_state=vm.on_kiosk_state, on_config=vm.on_config, on_hub_status=vm.on_hub_status
    )
    if start_online:
        vm.set_connected(True)
        hub.publish_status(True)
        hub.publish_config("kiosk-1")
        hub.publish_state("kiosk-1")
    harness = KioskHarness(bus, hub, vm, clock, printer, dummies, cache_path, harness_published)
    assert vm.render()["hall_name"] == HALL_NAME or not start_online
    return harness


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[KioskHarness]:
    yield make_harness(tmp_path)
