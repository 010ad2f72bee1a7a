"""Everything the evaluator runs besides its window, built from one device config file.

Kept apart from the Kivy app so the wiring (MQTT client, pending store, delivery
worker, key box) can be started and stopped on its own, and so the app module is
only about widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devices.buttonbox import ButtonBoxSettings
from evaluator.delivery import RatingDelivery
from evaluator.keys import KeyBoxFrontEnd
from evaluator.pending import PendingRatings
from evaluator.service import EvaluatorService
from evaluator.texts import BUILTIN_BAD_REASONS
from evaluator.viewmodel import EvaluatorSettings, EvaluatorViewModel
from hallbus.client import ClientState, ConnectionSettings, DeviceClient
from hallbus.config import EvaluatorConfig
from hallbus.health import ComponentHealthReporter
from hallbus.topics import Component

log = logging.getLogger(__name__)


def local_now() -> datetime:
    # An instant (stamped on ratings as UTC); shown only through the hall's zone.
    return datetime.now(UTC)


@dataclass
class RuntimeOptions:
    pending_path: Path
    hub_id: str
    request_timeout_s: float = 5.0
    result_seconds: float = 5.0
    clock: Callable[[], datetime] = field(default=local_now)


class EvaluatorRuntime:
    def __init__(
        self, config: EvaluatorConfig, connection: ConnectionSettings, options: RuntimeOptions
    ) -> None:
        self.config = config
        self.store = PendingRatings(options.pending_path)
        self.view_model = EvaluatorViewModel(
            EvaluatorSettings(
                window=config.window,
                timeout_s=config.timeout_s,
                dimensions=tuple(config.dimensions),
                bad_reasons=BUILTIN_BAD_REASONS,
                reasons_from_hub=config.bad_reasons_source == "hub",
                result_seconds=options.result_seconds,
            ),
            self.store,
            options.clock,
        )
        self.client = DeviceClient(config.device_ref(), connection)
        self.service = EvaluatorService(
            config.device_ref(),
            self.view_model,
            self.client,
            options.hub_id,
            on_outcome=self.store.record_outcome,
        )
        self.delivery = RatingDelivery(
            self.store,
            self.client,
            request_timeout_s=options.request_timeout_s,
            on_pending_count=self.view_model.set_pending_count,
        )
        self.store.on_stored = self._rating_stored
        self.key_box: KeyBoxFrontEnd | None = None
        if config.button_box is not None:
            box = config.button_box
            self.key_box = KeyBoxFrontEnd(
                ButtonBoxSettings(port=box.port, baudrate=box.baudrate, address=box.address),
                self.view_model,
                health=ComponentHealthReporter(
                    self.client, config.device_ref(), Component.BUTTON_BOX, options.clock
                ),
            )
        self._started = False

    def _rating_stored(self) -> None:
        self.view_model.set_pending_count(self.store.pending_count())
        self.delivery.wake()

    def start(self) -> None:
        self.service.attach()
        self.client.start()
        self.delivery.start()
        if self.key_box is not None:
            self.key_box.start()
        self._started = True

    def poll(self) -> None:
        """Called on the Kivy clock: connection state for the offline screen, and time."""
        self.service.set_connected(self.client.state is ClientState.CONNECTED)
        self.view_model.tick()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.key_box is not None:
            self.key_box.stop()
        self.delivery.stop()
        self.client.stop()
        self.store.close()
