"""Wires the hall bus to the view-model: which topics the evaluator listens to and why.

Handlers run on the MQTT client's worker thread. They decode and hand the typed
message to the view-model, which updates its state (never widgets).

Topics (docs/protocol.md; docs/evaluator.md for the evaluator's use of `state`):

- `hall/<h>/evaluator/<id>/cmd/rate_now`  RateNow: ask for a rating
- `hall/<h>/evaluator/<id>/cmd/rating_outcome`  RatingOutcome: the backend's final
  word on a rating the hub acknowledged `queued` (kept in the pending store)
- `hall/<h>/evaluator/<id>/state`         WindowDisplayState (retained): the clerk
  and the window state for the idle screen — the same payload a window display gets
- `hall/<h>/evaluator/<id>/config`        ConfigPush (retained): timeout_s,
  dimensions, bad_reasons
- `hall/<h>/hub/<hub>/status`             hub availability (offline screen)
- `hall/<h>/evaluator/<id>/req/submit_rating` (sent by evaluator.delivery)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from evaluator.viewmodel import EvaluatorViewModel
from hallbus.bus import IncomingMessage, MessageBus
from hallbus.codec import decode, parse_availability
from hallbus.errors import ContractError
from hallbus.messages import ConfigPush, RateNow, RatingOutcome, WindowDisplayState
from hallbus.topics import Command, DeviceRef, DeviceType

log = logging.getLogger(__name__)


class EvaluatorService:
    def __init__(
        self,
        device: DeviceRef,
        view_model: EvaluatorViewModel,
        bus: MessageBus,
        hub_id: str,
        on_outcome: Callable[[RatingOutcome], object] | None = None,
    ) -> None:
        if device.device_type is not DeviceType.EVALUATOR:
            raise ValueError(f"{device.device_id} is a {device.device_type}, not an evaluator")
        self.device = device
        self.view_model = view_model
        self.bus = bus
        self.hub = DeviceRef(device.hall_id, DeviceType.HUB, hub_id)
        self._on_outcome = on_outcome
        self._connected = False
        self._hub_online = False

    def attach(self) -> None:
        self.bus.subscribe(self.device.command_topic(Command.RATE_NOW), self._on_rate_now)
        self.bus.subscribe(
            self.device.command_topic(Command.RATING_OUTCOME), self._on_rating_outcome
        )
        self.bus.subscribe(self.device.state_topic(), self._on_state)
        self.bus.subscribe(self.device.config_topic(), self._on_config)
        self.bus.subscribe(self.hub.status_topic(), self._on_hub_status)

    def set_connected(self, connected: bool) -> None:
        """The broker connection came or went (polled from the client by the app)."""
        self._connected = connected
        self.view_model.set_connection(connected=connected, hub_online=self._hub_online)

    # ------------------------------------------------------------------ handlers

    def _on_rate_now(self, message: IncomingMessage) -> None:
        try:
            command = decode(RateNow, message.payload)
        except ContractError as error:
            log.warning("rate_now dropped: %s", error)
            return
        self.view_model.rate_now(command)

    def _on_rating_outcome(self, message: IncomingMessage) -> None:
        try:
            outcome = decode(RatingOutcome, message.payload)
        except ContractError as error:
            log.warning("rating outcome dropped: %s", error)
            return
        if outcome.outcome == "refused":
            log.warning("rating %s refused by the backend: %s", outcome.rating_id, outcome.code)
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def _on_state(self, message: IncomingMessage) -> None:
        try:
            state = decode(WindowDisplayState, message.payload)
        except ContractError as error:
            log.warning("window state dropped: %s", error)
            return
        self.view_model.apply_window_state(state)

    def _on_config(self, message: IncomingMessage) -> None:
        try:
            push = decode(ConfigPush, message.payload)
        except ContractError as error:
            log.warning("config push dropped: %s", error)
            return
        self.view_model.apply_config(push)

    def _on_hub_status(self, message: IncomingMessage) -> None:
        try:
            availability = parse_availability(message.payload)
        except ContractError as error:
            log.warning("hub status dropped: %s", error)
            return
        self._hub_online = availability == "online"
        self.view_model.set_connection(connected=self._connected, hub_online=self._hub_online)
