"""The Kivy application: loads one .kv file per screen and mirrors the view-model's state.

Nothing here decides anything: touches become ``KioskViewModel.act(...)`` calls, and the
rendered state arrives through a ``UiModel`` whose listeners run on the Kivy clock, so
network threads never touch a widget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import DictProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

import deviceui.bootstrap  # noqa: F401  (environment and font before kivy)
from deviceui.bootstrap import register_fonts
from deviceui.screens import UiModel
from kiosk.peripherals import WedgeBuffer
from kiosk.ui import widgets as _widgets  # noqa: F401  (registers widget classes)
from kiosk.viewmodels import KioskViewModel

KV_DIR = Path(__file__).with_name("kv")
# Load order: shared widget rules first, then one file per screen.
KV_FILES = (
    "common.kv",
    "home.kv",
    "ticket.kv",
    "ticket_confirm.kv",
    "ticket_done.kv",
    "appointment.kv",
    "guide.kv",
    "matter.kv",
    "case.kv",
    "case_result.kv",
    "rating.kv",
    "rating_done.kv",
)
SCREENS: dict[str, str] = {
    "home": "HomeScreen",
    "ticket": "TicketScreen",
    "ticket_confirm": "TicketConfirmScreen",
    "ticket_done": "TicketDoneScreen",
    "appointment": "AppointmentScreen",
    "guide": "GuideScreen",
    "matter": "MatterScreen",
    "case": "CaseScreen",
    "case_result": "CaseResultScreen",
    "rating": "RatingScreen",
    "rating_done": "RatingDoneScreen",
}

_ENTER_KEYS = (13, 271)  # Return and keypad Enter


class KioskRoot(FloatLayout):
    pass


def _screen_class(name: str) -> type[Screen]:
    return type(name, (Screen,), {})


_SCREEN_CLASSES = {name: _screen_class(cls) for name, cls in SCREENS.items()}
_loaded = False


def load_kv() -> None:
    global _loaded
    if _loaded:
        return
    from kivy.factory import Factory

    Factory.register("KioskRoot", cls=KioskRoot)
    for cls in _SCREEN_CLASSES.values():
        Factory.register(cls.__name__, cls=cls)
    for name in KV_FILES:
        Builder.load_file(str(KV_DIR / name))
    _loaded = True


class KioskApp(App):
    """``state``: the view-model's last rendered dict; ``t``: the texts in the current language."""

    state = DictProperty({})
    t = DictProperty({})

    def __init__(
        self,
        view_model: KioskViewModel,
        model: UiModel,
        *,
        keyboard_scanner: bool = False,
        on_tick: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = "自助服务终端"
        self.vm = view_model
        self.model = model
        self.keyboard_scanner = keyboard_scanner
        self._on_tick = on_tick
        self._wedge = WedgeBuffer()
        self.manager: ScreenManager | None = None
        initial = view_model.render()
        self.state = initial
        self.t = initial["t"]

    def build(self) -> KioskRoot:
        register_fonts()
        Window.clearcolor = (0.04, 0.09, 0.17, 1)
        load_kv()
        root = KioskRoot()
        manager: ScreenManager = root.ids.manager
        manager.transition = NoTransition()
        for name, cls in _SCREEN_CLASSES.items():
            manager.add_widget(cls(name=name))
        self.manager = manager
        self.model.use_kivy_clock = True
        self.model.listen(self._apply)
        Window.bind(on_touch_down=lambda *_: self.vm.touch())
        if self.keyboard_scanner:
            Window.bind(on_key_down=self._on_key_down)
        Clock.schedule_interval(lambda _dt: self._tick(), 1.0)
        return root

    # ------------------------------------------------------------------ state

    def _apply(self, values: dict[str, Any]) -> None:
        """Runs on the Kivy clock: the only place widgets learn about new state."""
        if values.get("t") is not self.t and values.get("t") != self.t:
            self.t = values["t"]
        self.state = values
        if self.manager is not None and self.manager.current != values.get("screen"):
            self.manager.current = values["screen"]

    def act(self, name: str, *args: Any) -> None:
        self.vm.act(name, *args)

    def _tick(self) -> None:
        if self._on_tick is not None:
            self._on_tick()
        self.vm.tick()

    # ------------------------------------------------------- keyboard-wedge scanner

    def _on_key_down(
        self, _window: Any, key: int, _scancode: int, codepoint: str | None, _modifiers: Any
    ) -> bool:
        if key in _ENTER_KEYS:
            code = self._wedge.enter()
            if code:
                self.vm.on_scan(code)
            return True
        if codepoint and codepoint.isprintable():
            self._wedge.feed(codepoint, time.monotonic())
        return False
