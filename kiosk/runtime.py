"""Wires a kiosk together from its device config: MQTT client, gateway, cache, printer,
peripherals and view-model. Used by ``python -m kiosk``, the tests and the screenshot script.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos

from deviceui.screens import UiModel
from hallbus.client import ClientState, ConnectionSettings, DeviceClient
from hallbus.config import KioskConfig, connection_settings, id_lookup_key
from kiosk.catalog_cache import CatalogCache
from kiosk.gateway import HubGateway
from kiosk.peripherals import SerialLineReader, parse_id_card_line
from kiosk.print_content import printer_settings
from kiosk.printing import PrinterSettings, TicketPrinter
from kiosk.printing.printer import open_printer
from kiosk.viewmodels import KioskViewModel, ThreadRunner

logger = logging.getLogger(__name__)

DEFAULT_HALL_NAME = "政务服务中心"


@dataclass
class KioskRuntime:
    config: KioskConfig
    cache_dir: Path
    hub_id: str | None = None
    connection: ConnectionSettings | None = None
    printer_factory: Callable[[PrinterSettings], Escpos] = open_printer
    hall_name: str = DEFAULT_HALL_NAME
    model: UiModel = field(default_factory=UiModel)

    def __post_init__(self) -> None:
        device = self.config.device_ref()
        settings = self.connection or connection_settings(self.config)
        self.client = DeviceClient(device, settings)
        self.gateway = HubGateway(
            self.client, self.client, device, hub_id=self.hub_id or f"hub-{device.hall_id}"
        )
        self.lookup_key = id_lookup_key(self.config)
        if self.config.id_card_reader is not None and self.lookup_key is None:
            # An unkeyed hash of an ID number can be reversed by trying every number.
            logger.warning(
                "ID card reader configured but no id_lookup_key_file/_env: the reader is not used"
            )
        self.cache = CatalogCache(self.cache_dir / f"{device.device_id}-catalog.json")
        self.printer = TicketPrinter(
            printer_settings(self.config),
            on_health=self.gateway.report_printer_health,
            printer_factory=self.printer_factory,
        )
        self.runner = ThreadRunner()
        self.view_model = KioskViewModel(
            gateway=self.gateway,
            cache=self.cache,
            printer=self.printer,
            runner=self.runner,
            hall_name=self.hall_name,
            idle_timeout_s=self.config.idle_timeout_s,
            languages=list(self.config.languages),
            has_id_reader=self._id_reader_usable(),
            has_scanner=self.config.scanner is not None,
            publish=lambda values: self.model.update(**values),
        )
        self.gateway.listen(
            on_state=self.view_model.on_kiosk_state,
            on_config=self.view_model.on_config,
            on_hub_status=self.view_model.on_hub_status,
        )
        self._readers: list[SerialLineReader] = []

    def start(self) -> None:
        self.client.start()
        reader = self.config.id_card_reader
        if reader is not None and self._id_reader_usable():
            self._readers.append(
                SerialLineReader(reader.port, reader.baudrate, self._on_id_line, name="id-card")
            )
        scanner = self.config.scanner
        if scanner is not None and scanner.kind == "serial" and scanner.port:
            self._readers.append(
                SerialLineReader(scanner.port, 9600, self._on_scan_line, name="scanner")
            )
        for device in self._readers:
            device.start()
        # Tell the hub the printer's condition from the start, not only after a failure.
        self.runner.submit(self._report_printer_health)

    def _report_printer_health(self) -> None:
        self.printer.check_health()  # reports to the hub through on_health

    def poll_connection(self) -> None:
        """Called every second on the UI clock (DeviceClient has no state callback)."""
        self.view_model.set_connected(self.client.state is ClientState.CONNECTED)

    def _id_reader_usable(self) -> bool:
        return self.config.id_card_reader is not None and self.lookup_key is not None

    def _on_id_line(self, line: bytes) -> None:
        if self.lookup_key is None:
            return
        read = parse_id_card_line(line, self.lookup_key)
        if read is not None:
            self.view_model.on_id_card(read)

    def _on_scan_line(self, line: bytes) -> None:
        self.view_model.on_scan(line.decode("ascii", errors="ignore").strip())

    def stop(self) -> None:
        for device in self._readers:
            device.stop()
        self.runner.shutdown()
        self.printer.close()
        self.client.stop()

    def build_app(self, **kwargs: Any) -> Any:
        from kiosk.ui.app import KioskApp

        keyboard = self.config.scanner is not None and self.config.scanner.kind == "keyboard"
        return KioskApp(
            self.view_model,
            self.model,
            keyboard_scanner=keyboard,
            on_tick=self.poll_connection,
            **kwargs,
        )
