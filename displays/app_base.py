"""What both display apps share: the UiModel → screen bridge, link polling, probes.

The app owns no logic of its own. Controllers publish views into the UiModel (from any
thread); with ``use_kivy_clock`` the UiModel calls :meth:`DisplayApp.apply_values` on the
Kivy clock, which hands the view to the screen. A 0.5 s Kivy interval polls the MQTT
client's connection state (DeviceClient has no callback for it) and redraws time-based
parts (clock, flash end, page rotation).

``on_drawn`` (benchmarks, tests): called on the Kivy thread with
``(headline_text, received_at, drawn_at)`` for the first frame whose drawing holds the
new text — message receipt → pixels in the frame buffer. ``drawn_at`` is taken after
``glFinish()`` in that frame's ``on_flip``: GL only queues draw calls, and a software
renderer (Mesa llvmpipe) rasterises them later, so a timestamp without the finish would
stop the clock before a single pixel changed. The finish only happens while a
measurement is pending.
"""

from __future__ import annotations

import displays.kivy_env  # noqa: F401  (must precede kivy)

# isort: split

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics.opengl import glFinish, glFlush

from deviceui.bootstrap import register_fonts
from deviceui.screens import UiModel
from displays import (
    style,
    widgets,  # noqa: F401  (registers the widgets the .kv files use)
)
from hallbus.client import ClientState

logger = logging.getLogger(__name__)

DrawnProbe = Callable[[str, float, float], None]


class ConnectionSource(Protocol):
    @property
    def state(self) -> ClientState: ...


class Refreshable(Protocol):
    def set_device_connected(self, connected: bool) -> None: ...

    def refresh(self, received_at: float | None = None) -> None: ...


class ViewScreen(Protocol):
    def show(self, view: Any) -> str:
        """Apply a view; returns the text whose drawing the latency probe waits for."""
        ...

    def drawn_text(self) -> str:
        """The text the headline's texture currently holds (what the last frame drew)."""
        ...

    def tick(self) -> None: ...


class DisplayApp(App):  # type: ignore[misc]  # Kivy ships no type hints
    """Base for WindowDisplayApp and HallDisplayApp."""

    def __init__(
        self,
        controller: Refreshable,
        ui: UiModel,
        *,
        connection: ConnectionSource | None = None,
        on_drawn: DrawnProbe | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        register_fonts()
        self.controller = controller
        self.ui = ui
        self.connection = connection
        self.on_drawn = on_drawn
        self.screen: ViewScreen | None = None
        self._awaiting: tuple[str, float] | None = None
        self._connected: bool | None = None
        self._last_received = 0

    # Subclasses build the screen; this wires it up.
    def attach(self, screen: ViewScreen) -> None:
        self.screen = screen
        # The background is the clear colour instead of a full-screen rectangle: every
        # frame clears the window anyway, and a second full-screen fill costs a software
        # renderer several ms per frame.
        Window.clearcolor = style.BACKGROUND
        self.ui.use_kivy_clock = True
        self.ui.listen(self.apply_values)
        Window.bind(on_flip=self._on_flip)
        Clock.schedule_interval(self._tick, 0.5)
        self._poll_connection()
        current = self.ui.snapshot()
        if "view" in current:
            self.apply_values(current)

    def apply_values(self, values: dict[str, Any]) -> None:
        view = values.get("view")
        if view is None or self.screen is None:
            return
        expected = self.screen.show(view)
        received = values.get("received")
        if received is not None and received[0] != self._last_received and self.on_drawn:
            self._last_received = received[0]
            self._awaiting = (expected, received[1])
            Window.canvas.ask_update()

    def _on_flip(self, *_args: Any) -> None:
        if self._awaiting is None or self.screen is None:
            # Hand this frame to the renderer now. A window's buffer swap does that, but
            # SDL's offscreen surface does not: frames nobody asked to see (flash, clock)
            # would pile up and all be rasterised in the frame of the next call.
            glFlush()
            return
        expected, received_at = self._awaiting
        if self.screen.drawn_text() != expected:
            glFlush()
            return  # not laid out yet; a later flip will show it
        self._awaiting = None
        if self.on_drawn is not None:
            glFinish()  # the frame's pixels are rasterised, not just queued
            self.on_drawn(expected, received_at, time.perf_counter())

    def _poll_connection(self) -> None:
        if self.connection is None:
            return
        connected = self.connection.state is ClientState.CONNECTED
        if connected != self._connected:
            self._connected = connected
            self.controller.set_device_connected(connected)

    def _tick(self, _dt: float) -> None:
        self._poll_connection()
        self.controller.refresh()
        if self.screen is not None:
            self.screen.tick()
