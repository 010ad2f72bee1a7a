"""Controllers: MQTT messages in, the next view out (no Kivy, no widgets).

Each controller subscribes on a ``MessageBus`` (DeviceClient in the app, RecordingBus
in tests), decodes and checks every message, feeds the view-model and publishes the
resulting view into a ``deviceui.screens.UiModel`` under the key ``view``. With
``use_kivy_clock`` the UiModel calls the screen's listener on the Kivy clock, so
network threads never touch widgets.

``received_at`` (``time.perf_counter()`` when the message that caused the view reached
the handler) travels with the view so the app can measure message → drawn frame.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from devices.led import LedDriver
from devices.seriallink import DeviceHealth
from deviceui.screens import UiModel
from displays.guide import Guide
from displays.hall_view import HallDisplayViewModel
from displays.led_mirror import LedCommand, LedMirror, led_command_for
from displays.link import LinkStatus, LinkTracker
from displays.seqgate import SeqGate
from displays.voice import CallVoice
from displays.window_view import WindowDisplayViewModel
from hallbus.bus import IncomingMessage, MessageBus
from hallbus.codec import decode, parse_availability
from hallbus.errors import ContractError
from hallbus.health import ComponentHealthReporter
from hallbus.messages import CallEvent, ConfigPush, HallCallList, WindowDisplayState
from hallbus.topics import Broadcast, Component, DeviceRef, broadcast_topic

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ModelT = TypeVar("ModelT", bound=BaseModel)


def local_now() -> datetime:
    # An instant; the view-models show it in the hall's zone, not the machine's.
    return datetime.now(UTC)


def hub_status_filter(hall_id: str) -> str:
    """Every hub's availability in the hall (the ACL lets devices read it)."""
    return f"hall/{hall_id}/hub/+/status"


class ViewModel(Protocol):
    def view(self, now: datetime) -> object: ...

    def apply_link(self, link: LinkStatus) -> None: ...


ViewModelT = TypeVar("ViewModelT", bound=ViewModel)


class DisplayController(ABC, Generic[ViewModelT]):
    """What both displays share: link tracking, seq gates, config pushes."""

    def __init__(
        self, bus: MessageBus, device: DeviceRef, ui: UiModel, model: ViewModelT, *, now: Clock
    ) -> None:
        self.model = model
        self.bus = bus
        self.device = device
        self.ui = ui
        self.now = now
        self.gate = SeqGate()
        self.tracker = LinkTracker()
        self._hubs: dict[str, bool] = {}
        self._messages = 0
        # Handlers (MQTT worker thread) and the Kivy clock both reach the view-model.
        self.lock = threading.RLock()

    def subscribe(self) -> None:
        self.bus.subscribe(hub_status_filter(self.device.hall_id), self._on_hub_status)
        self.bus.subscribe(self.device.state_topic(), self._on_state)
        self.bus.subscribe(self.device.config_topic(), self._on_config)

    # ------------------------------------------------------------------ inputs

    def set_device_connected(self, connected: bool) -> None:
        with self.lock:
            status = self.tracker.device_connected(connected, self.now())
            self._apply_link(status)
            self.refresh()

    def _on_hub_status(self, message: IncomingMessage) -> None:
        received_at = time.perf_counter()
        try:
            online = parse_availability(message.payload) == "online"
        except ContractError as error:
            logger.warning("ignored hub status on %s: %s", message.topic, error)
            return
        with self.lock:
            self._hubs[message.topic] = online
            status, came_back = self.tracker.hub_status(any(self._hubs.values()), self.now())
            if came_back:
                # A restarted hub may count seq from zero again.
                self.gate.reset()
            self._apply_link(status)
            self.refresh(received_at)

    @abstractmethod
    def _on_state(self, message: IncomingMessage) -> None:
        """The retained state this kind of display shows."""

    @abstractmethod
    def _on_config(self, message: IncomingMessage) -> None:
        """A configuration push for this kind of display."""

    def _decode(self, model: type[ModelT], message: IncomingMessage) -> ModelT | None:
        try:
            return decode(model, message.payload)
        except ContractError as error:
            logger.warning("ignored %s on %s: %s", model.__name__, message.topic, error)
            return None

    def _apply_link(self, status: LinkStatus) -> None:
        self.model.apply_link(status)

    def refresh(self, received_at: float | None = None) -> None:
        """Publish the current view; ``received_at`` marks a view caused by a message."""
        with self.lock:
            view = self.model.view(self.now())
            if received_at is None:
                self.ui.update(view=view)
                return
            self._messages += 1
            # (counter, time): the app measures each message once, even if coalesced.
            self.ui.update(view=view, received=(self._messages, received_at))


class WindowDisplayController(DisplayController[WindowDisplayViewModel]):
    def __init__(
        self,
        bus: MessageBus,
        device: DeviceRef,
        window: str,
        ui: UiModel,
        *,
        photo_dir: Path | None = None,
        now: Clock = local_now,
    ) -> None:
        super().__init__(
            bus, device, ui, WindowDisplayViewModel(window, photo_dir=photo_dir), now=now
        )
        self.window = window
        self.led: LedMirror | None = None
        self._led_command: LedCommand | None = None
        self._led_health = ComponentHealthReporter(bus, device, Component.LED, now)

    def attach_led(self, driver: LedDriver, *, retry_s: float = 1.0) -> None:
        """Mirror this window's state to its LED bar (before subscribe())."""
        self.led = LedMirror(driver, retry_s=retry_s)
        with self.lock:
            self._mirror_led(new_call=False)

    def led_health(self, health: DeviceHealth) -> None:
        """The LED driver's health callback (called from the driver's thread).

        The detail ("cannot open /dev/ttyUSB1: [Errno 2] …") is for the technician: it
        goes to the device's retained health topic (hub → backend device page) and the
        log, never onto the public screen.
        """
        self._led_health.report(health.ok, health.detail)

    def _on_state(self, message: IncomingMessage) -> None:
        received_at = time.perf_counter()
        state = self._decode(WindowDisplayState, message)
        if state is None:
            return
        with self.lock:
            if not self.gate.admit(message.topic, state.seq):
                logger.debug("dropped stale state seq %s", state.seq)
                return
            if state.window != self.window:
                logger.warning("state is for window %s, configured %s", state.window, self.window)
            previous_flash = self.model.view(self.now()).flash_until
            self.model.apply_state(state, self.now())
            new_call = self.model.view(self.now()).flash_until not in (None, previous_flash)
            self._mirror_led(new_call=new_call)
            self.refresh(received_at)

    def _on_config(self, message: IncomingMessage) -> None:
        # Window displays have no run-time knobs; the push carries the hall's time zone.
        config = self._decode(ConfigPush, message)
        if config is None:
            return
        with self.lock:
            if not self.gate.admit(message.topic, config.seq):
                return
            self.model.apply_config(config)
            self._mirror_led(new_call=False)
            self.refresh()

    def _apply_link(self, status: LinkStatus) -> None:
        self.model.apply_link(status)
        self._mirror_led(new_call=False)

    def _mirror_led(self, *, new_call: bool) -> None:
        if self.led is None:
            return
        command = led_command_for(
            self.window,
            self.model.state,
            live=self.model.link.live,
            new_call=new_call,
            zone=self.model.zone,
        )
        if command != self._led_command or new_call:
            self._led_command = command
            self.led.show(command)

    def stop(self) -> None:
        if self.led is not None:
            self.led.stop()


class HallDisplayController(DisplayController[HallDisplayViewModel]):
    def __init__(
        self,
        bus: MessageBus,
        device: DeviceRef,
        ui: UiModel,
        *,
        pages: list[str],
        guide: Guide,
        floor: int | None = None,
        page_seconds: int = 15,
        voice: CallVoice | None = None,
        now: Clock = local_now,
    ) -> None:
        model = HallDisplayViewModel(pages, guide=guide, floor=floor, page_seconds=page_seconds)
        super().__init__(bus, device, ui, model, now=now)
        self.voice = voice

    def subscribe(self) -> None:
        super().subscribe()
        self.bus.subscribe(broadcast_topic(self.device.hall_id, Broadcast.CALL), self._on_call)

    def set_waiting_capacity(self, rows: int) -> None:
        """How many waiting-table rows the screen fits at the minimum type size (the
        screen measures it after every layout change, e.g. the offline banner)."""
        with self.lock:
            if self.model.waiting_rows_per_page == max(1, rows):
                return
            self.model.set_waiting_capacity(rows)
            self.refresh()

    def _on_state(self, message: IncomingMessage) -> None:
        received_at = time.perf_counter()
        call_list = self._decode(HallCallList, message)
        if call_list is None:
            return
        with self.lock:
            if not self.gate.admit(message.topic, call_list.seq):
                return
            self.model.apply_call_list(call_list, self.now())
            self.refresh(received_at)

    def _on_call(self, message: IncomingMessage) -> None:
        received_at = time.perf_counter()
        event = self._decode(CallEvent, message)
        if event is None:
            return
        if self.voice is not None:
            self.voice.handle(event)
        with self.lock:
            self.model.apply_call_event(event, self.now())
            self.refresh(received_at)

    def _on_config(self, message: IncomingMessage) -> None:
        config = self._decode(ConfigPush, message)
        if config is None:
            return
        with self.lock:
            if not self.gate.admit(message.topic, config.seq):
                return
            self.model.apply_config(config)
            self.refresh()

    def stop(self) -> None:
        if self.voice is not None:
            self.voice.stop()
