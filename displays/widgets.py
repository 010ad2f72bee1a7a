"""Small widget classes the .kv files use (typed properties need Python classes)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from displays import style


class ColouredBox(BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints
    """A BoxLayout with a solid background (drawn by the rule in common.kv)."""

    bg = ColorProperty(style.PANEL)


class CallRowWidget(ColouredBox):
    """One call on the hall display: ticket, window, recall badge, time."""

    u = NumericProperty(1.0)
    ticket = StringProperty("")
    window_text = StringProperty("")
    time_text = StringProperty("")
    recall_text = StringProperty("")
    newest = BooleanProperty(False)
    odd = BooleanProperty(False)


class WaitingRowWidget(BoxLayout):  # type: ignore[misc]
    """One category on the waiting page: prefix, name, people waiting, estimate."""

    u = NumericProperty(1.0)
    prefix = StringProperty("")
    name = StringProperty("")
    waiting_text = StringProperty("")
    estimate_text = StringProperty("")
    estimate_text_en = StringProperty("")


class GuideLineWidget(Label):  # type: ignore[misc]
    """One line of the service guide page."""

    u = NumericProperty(1.0)
