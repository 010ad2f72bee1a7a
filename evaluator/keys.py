"""The serial key box as a second front end of the evaluator (devices.buttonbox).

- The keys are lit while a level is being asked, dark otherwise. Lamp commands
  go through a one-slot worker because each waits for the box's echo (up to
  retries x ack timeout) and must not stall the Kivy clock or an MQTT handler.
- A press is a level choice for the current request, exactly like touching the
  level on screen; presses when nothing is asked, and a second press for the same
  request, are ignored by the view-model.
"""

from __future__ import annotations

import logging
import threading

from devices.buttonbox import ButtonBox, ButtonBoxSettings, KeyPress
from devices.seriallink import DeviceHealth
from evaluator.viewmodel import EvaluatorViewModel, ViewState
from hallbus.health import ComponentHealthReporter

log = logging.getLogger(__name__)


class KeyBoxFrontEnd:
    def __init__(
        self,
        settings: ButtonBoxSettings,
        view_model: EvaluatorViewModel,
        *,
        health: ComponentHealthReporter | None = None,
    ) -> None:
        self._view_model = view_model
        # Faults go to the device's health topic (hub → backend device page), not the
        # screen: the visitor can still rate on the touch screen.
        self._health = health
        self._box = ButtonBox(settings, on_key=self._on_key, on_health=self._on_health)
        self._wanted_lamp: bool | None = None
        self._lamp_shown: bool | None = None
        self._changed = threading.Condition()
        self._stopping = False
        self._lamp_thread = threading.Thread(
            target=self._lamp_loop, name="keybox-lamp", daemon=True
        )
        self.ignored_presses = 0
        self.accepted_presses = 0
        self.healthy: bool | None = None

    def start(self) -> None:
        self._box.start()
        self._lamp_thread.start()
        self._view_model.listen(self.on_view)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._lamp_thread.join(2.0)
        self._box.stop()

    def on_view(self, view: ViewState) -> None:
        with self._changed:
            if view.lamp_on != self._wanted_lamp:
                self._wanted_lamp = view.lamp_on
                self._changed.notify_all()

    def _on_key(self, press: KeyPress) -> None:
        if self._view_model.choose_level(press.level, from_key_box=True):
            self.accepted_presses += 1
            log.info("key %s (%s) accepted", press.key_code, press.label)
        else:
            self.ignored_presses += 1
            log.info("key %s ignored: no rating is being asked for", press.key_code)

    def _on_health(self, health: DeviceHealth) -> None:
        self.healthy = health.ok
        if self._health is not None:
            self._health.report(health.ok, health.detail)
        elif not health.ok:
            log.warning("key box: %s", health.detail)

    def _lamp_loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._stopping or self._wanted_lamp != self._lamp_shown
                )
                if self._stopping:
                    return
                wanted = self._wanted_lamp
            assert wanted is not None
            try:
                acknowledged = self._box.set_rating_lamp(wanted)
            except RuntimeError:
                return  # box stopped
            with self._changed:
                # Without an echo the lamp state is unknown; try again on the next change.
                self._lamp_shown = wanted if acknowledged else None
                if not acknowledged:
                    self._changed.wait(1.0)
