"""Reusable kiosk widgets; their look is in kv/common.kv.

Lists that come from the view-model (search results, materials, timeline) are shown with
:class:`DataList`, which rebuilds its children from plain dicts, so screens stay declarative.
"""

from __future__ import annotations

import string
from typing import Any

from kivy.app import App
from kivy.factory import Factory
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label


def act(name: str, *args: Any) -> None:
    App.get_running_app().act(name, *args)


class KButton(ButtonBehavior, Label):
    """A large, high-contrast touch target with rounded corners."""

    bg = ColorProperty((0.08, 0.33, 0.65, 1))
    fg = ColorProperty((1, 1, 1, 1))
    enabled = BooleanProperty(True)
    selected = BooleanProperty(False)
    radius = NumericProperty(18)

    def on_touch_down(self, touch: Any) -> bool:
        if not self.enabled:
            return bool(self.collide_point(*touch.pos))  # swallow, but do nothing
        return bool(super().on_touch_down(touch))


class RowButton(KButton):
    """One entry of a list: title and a smaller detail line; runs ``action`` with ``key``."""

    key = StringProperty("")
    title = StringProperty("")
    detail = StringProperty("")
    action = StringProperty("")

    def on_release(self) -> None:
        if self.action and self.enabled:
            act(self.action, self.key)


class FactRow(BoxLayout):
    label = StringProperty("")
    value = StringProperty("")


class SectionBlock(BoxLayout):
    title = StringProperty("")
    body = StringProperty("")


class TimelineRow(BoxLayout):
    title = StringProperty("")
    detail = StringProperty("")
    last = BooleanProperty(False)


def _fill(container: Any, items: list[dict[str, Any]]) -> None:
    container.clear_widgets()
    cls = Factory.get(container.viewclass)
    for item in items:
        widget = cls()
        for key, value in item.items():
            if hasattr(widget, key):
                setattr(widget, key, value)
        if container.action and hasattr(widget, "action"):
            widget.action = container.action
        container.add_widget(widget)


class DataList(BoxLayout):
    """A vertical list whose children are ``viewclass`` widgets built from ``items`` dicts."""

    items = ListProperty([])
    viewclass = StringProperty("RowButton")
    action = StringProperty("")

    def on_items(self, _instance: Any, items: list[dict[str, Any]]) -> None:
        _fill(self, items)


class DataGrid(GridLayout):
    """Like DataList, in columns (category tiles, rating levels, reasons)."""

    items = ListProperty([])
    viewclass = StringProperty("RowButton")
    action = StringProperty("")

    def on_items(self, _instance: Any, items: list[dict[str, Any]]) -> None:
        _fill(self, items)


class LetterKeypad(GridLayout):
    """26 letters (QWERTY rows are unknown to many elderly visitors: alphabetical order),
    plus space, backspace and clear. Sends ``<action>`` with the key name."""

    action = StringProperty("")

    def on_kv_post(self, _base: Any) -> None:
        self.cols = 8
        for letter in string.ascii_lowercase:
            self.add_widget(KeyButton(key=letter, text=letter.upper()))
        app = App.get_running_app()
        for key, label_key, colour in (
            ("space", "key.space", (0.3, 0.36, 0.45, 1)),
            ("backspace", "key.backspace", (0.55, 0.35, 0.1, 1)),
            ("clear", "key.clear", (0.6, 0.15, 0.15, 1)),
        ):
            button = KeyButton(key=key, bg=colour, font_size="30sp")
            app.bind(t=lambda _a, t, b=button, k=label_key: setattr(b, "text", t.get(k, k)))
            button.text = app.t.get(label_key, label_key)
            self.add_widget(button)


class DigitKeypad(GridLayout):
    action = StringProperty("")

    def on_kv_post(self, _base: Any) -> None:
        self.cols = 3
        app = App.get_running_app()
        for key in "123456789":
            self.add_widget(KeyButton(key=key, text=key))
        for key, label_key, colour in (
            ("clear", "key.clear", (0.6, 0.15, 0.15, 1)),
            ("0", "", None),
            ("backspace", "key.backspace", (0.55, 0.35, 0.1, 1)),
        ):
            if not label_key:
                self.add_widget(KeyButton(key=key, text=key))
                continue
            button = KeyButton(key=key, bg=colour, font_size="30sp")
            app.bind(t=lambda _a, t, b=button, k=label_key: setattr(b, "text", t.get(k, k)))
            button.text = app.t.get(label_key, label_key)
            self.add_widget(button)


class KeyButton(KButton):
    key = StringProperty("")
    action = StringProperty("")

    def on_release(self) -> None:
        # The keypad's action is read at press time: kv may set it after the keys exist.
        act(self.action or getattr(self.parent, "action", ""), self.key)


Factory.register("KButton", cls=KButton)
Factory.register("RowButton", cls=RowButton)
Factory.register("FactRow", cls=FactRow)
Factory.register("SectionBlock", cls=SectionBlock)
Factory.register("TimelineRow", cls=TimelineRow)
Factory.register("DataList", cls=DataList)
Factory.register("DataGrid", cls=DataGrid)
Factory.register("LetterKeypad", cls=LetterKeypad)
Factory.register("DigitKeypad", cls=DigitKeypad)
Factory.register("KeyButton", cls=KeyButton)


class ModalLayer(FloatLayout):
    """Covers the screen while visible (busy, alert): touches do not reach the screen below."""

    shown = BooleanProperty(False)

    def on_touch_down(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        return bool(self.shown) or bool(super().on_touch_move(touch))

    def on_touch_up(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_up(touch)
        return True


Factory.register("ModalLayer", cls=ModalLayer)
