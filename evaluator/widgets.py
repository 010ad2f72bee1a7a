"""Small widget classes the evaluator's .kv files style (colours, rounded buttons, avatar).

Only properties live here; how they look is in evaluator/kv/common.kv.
"""

from __future__ import annotations

from kivy.properties import ColorProperty, StringProperty
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.relativelayout import RelativeLayout
from kivy.uix.togglebutton import ToggleButton
from kivy.utils import get_color_from_hex

# Level colours: darker shades chosen so white text keeps >= 4.5:1 contrast.
LEVEL_COLOURS = {
    5: "#1B5E20",
    4: "#2E7D32",
    3: "#1565C0",
    2: "#B34700",
    1: "#B71C1C",
}
WINDOW_STATE_COLOURS = {
    "open": "#2E7D32",
    "paused": "#B34700",
    "resting": "#6A1B9A",
    "closed": "#546E7A",
}


def hex_colour(value: str) -> list[float]:
    return list(get_color_from_hex(value))


def level_colour(level: int) -> list[float]:
    return hex_colour(LEVEL_COLOURS[level])


def window_state_colour(kind: str) -> list[float]:
    return hex_colour(WINDOW_STATE_COLOURS.get(kind, "#546E7A"))


class ColorButton(Button):  # type: ignore[misc]  # Kivy ships no type hints
    """A flat, rounded, high-contrast touch target with a solid fill colour."""

    fill = ColorProperty("#1565C0")


class ReasonToggle(ToggleButton):  # type: ignore[misc]  # Kivy ships no type hints
    """One bad-rating reason; selected ones turn solid red with a tick."""

    reason = StringProperty("")


class Badge(Label):  # type: ignore[misc]  # Kivy ships no type hints
    """White text on a coloured rounded plate (window state, offline banner)."""

    fill = ColorProperty("#546E7A")


class Avatar(RelativeLayout):  # type: ignore[misc]  # Kivy ships no type hints
    """The clerk's photo, or their surname on a coloured disc when there is none."""

    source = StringProperty("")
    name = StringProperty("")
