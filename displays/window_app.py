"""The window display's Kivy app: WindowView → widget properties, nothing else."""

from __future__ import annotations

import displays.kivy_env  # noqa: F401  (must precede kivy)

# isort: split

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.image import AsyncImage

from displays import style
from displays.app_base import DisplayApp
from displays.timefmt import clock_text
from displays.widgets import CallFlash
from displays.window_view import WindowView
from hallbus.localtime import pushed_zone

KV_DIR = Path(__file__).with_name("kv")


class WindowDisplayScreen(FloatLayout):  # type: ignore[misc]  # Kivy ships no type hints
    u = NumericProperty(1.0)  # scale: short side / 1080
    mode = StringProperty("waiting")
    window_title = StringProperty("")
    window_title_en = StringProperty("")
    department = StringProperty("")
    has_staff = BooleanProperty(False)
    staff_name = StringProperty("")
    staff_no = StringProperty("")
    stars = StringProperty("")
    photo = StringProperty("")
    staff_initial = StringProperty("")
    caption = StringProperty("")
    caption_en = StringProperty("")
    headline = StringProperty("")
    ticket = StringProperty("")  # drawn from glyphs (serving)
    words = StringProperty("")  # the state in words, also glyphs (every other state)
    headline_colour = ColorProperty(style.TEXT)
    accent = ColorProperty(style.CLOSED)
    detail = StringProperty("")
    detail_en = StringProperty("")
    offline_text = StringProperty("")
    offline_text_en = StringProperty("")
    hall_mark = StringProperty("")
    clock = StringProperty("")
    flash_on = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: WindowView | None = None
        self._flash = CallFlash(self)
        self._photo: AsyncImage | None = None
        self.bind(size=self._rescale)

    def on_photo(self, _screen: Any, source: str) -> None:
        # Added and removed rather than hidden: an invisible image still costs a
        # software renderer its full area on every frame.
        slot = self.ids.get("photo_slot")
        if slot is None:
            Clock.schedule_once(lambda _dt: self.on_photo(self, self.photo), 0)
            return
        if self._photo is not None:
            slot.remove_widget(self._photo)
            self._photo = None
        if source:
            self._photo = AsyncImage(source=source, fit_mode="contain")
            slot.add_widget(self._photo)

    def _rescale(self, *_args: Any) -> None:
        self.u = min(self.width, self.height) / 1080

    def show(self, view: WindowView) -> str:
        self.view = view
        self.mode = view.mode
        self.window_title = view.window_title
        self.window_title_en = view.window_title_en
        self.department = view.department
        staff = view.staff
        self.has_staff = staff is not None
        self.staff_name = staff.name if staff else ""
        self.staff_no = staff.employee_no_text if staff else ""
        self.stars = staff.stars_text if staff else ""
        self.photo = staff.photo if staff else ""
        self.staff_initial = staff.initial if staff else ""
        self.caption = view.caption
        self.caption_en = view.caption_en
        self.headline = view.headline
        # Only the widget that is visible in this mode gets the text; the other keeps
        # its last one (hidden GlyphText draws nothing), so switching modes is a swap.
        if view.mode == "serving":
            self.ticket = view.headline
        else:
            self.words = view.headline
        self.headline_colour = view.headline_colour
        self.accent = view.accent
        self.detail = view.detail
        self.detail_en = view.detail_en
        self.offline_text = view.offline_text
        self.offline_text_en = view.offline_text_en
        self.hall_mark = view.hall_mark
        self.tick()
        return view.headline

    def drawn_text(self) -> str:
        glyphs = self.ids.headline if self.mode == "serving" else self.ids.headline_words
        return str(glyphs.drawn_text)

    def tick(self) -> None:
        now = datetime.now(UTC)
        self.clock = clock_text(now, self.view.zone if self.view else pushed_zone(None))
        self._flash.update(self.view is not None and self.view.flashing(now))


class WindowDisplayApp(DisplayApp):
    title = "窗口屏 Window display"

    def build(self) -> WindowDisplayScreen:
        Builder.load_file(str(KV_DIR / "common.kv"))
        Builder.load_file(str(KV_DIR / "window_display.kv"))
        screen = WindowDisplayScreen()
        self.attach(screen)
        return screen
