"""Small widget classes the .kv files use (typed properties need Python classes)."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Callback, Color, Rectangle
from kivy.graphics.opengl import (
    GL_COLOR_BUFFER_BIT,
    GL_SCISSOR_BOX,
    GL_SCISSOR_TEST,
    glClear,
    glClearColor,
    glDisable,
    glEnable,
    glGetIntegerv,
    glIsEnabled,
    glScissor,
)
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from displays import style
from displays.glyphs import GlyphText  # noqa: F401  (registers it for the .kv files)


class ColouredBox(BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints
    """A BoxLayout with a solid background.

    An opaque background is painted with a scissored ``glClear`` instead of a textured
    rectangle: on a software renderer (Mesa llvmpipe) a clear is a memory fill, while a
    rectangle runs the shader and blending for every pixel — the panels are most of a
    1920×1080 frame, and every frame redraws them (measured in docs/displays.md). A
    translucent box (own opacity or colour alpha below 1, or a translucent parent)
    falls back to the rectangle, which blends as usual.

    The clear is in window pixels, so a ColouredBox must be drawn into the window, not
    into an Fbo (the displays never render widgets into an Fbo; screenshots read the
    window).
    """

    bg = ColorProperty(style.PANEL)

    def __init__(self, **kwargs: Any) -> None:
        self._box = (0, 0, 0, 0)  # scissor box in window pixels, when cleared
        self._rgba: tuple[float, float, float, float] = (0, 0, 0, 0)
        super().__init__(**kwargs)
        with self.canvas.before:
            self._fallback_colour = Color(0, 0, 0, 0)
            self._fallback = Rectangle(size=(0, 0))
            self._clear = Callback(self._paint, reset_context=False)
        for name in ("bg", "pos", "size", "opacity", "parent"):
            self.fbind(name, self._update)
        self._update()

    def _opaque(self) -> bool:
        if self.bg[3] < 1:
            return False
        widget: Any = self
        while widget is not None:
            if getattr(widget, "opacity", 1) < 1:
                return False
            parent = getattr(widget, "parent", None)
            widget = parent if parent is not widget else None
        return True

    def _update(self, *_args: Any) -> None:
        if self._opaque():
            x, y = self.to_window(*self.pos)
            self._box = (round(x), round(y), round(self.width), round(self.height))
            red, green, blue, alpha = self.bg
            self._rgba = (red, green, blue, alpha)
            self._fallback.size = (0, 0)
        else:
            self._box = (0, 0, 0, 0)
            self._fallback_colour.rgba = self.bg
            self._fallback.pos = self.pos
            self._fallback.size = self.size
        self._clear.ask_update()

    def _paint(self, _instruction: Any) -> None:
        x, y, width, height = self._box
        if width <= 0 or height <= 0:
            return
        outer = glIsEnabled(GL_SCISSOR_TEST)
        if outer:
            # Inside someone's ScissorPush: stay within their box, then restore it.
            saved = glGetIntegerv(GL_SCISSOR_BOX)
            left, bottom = max(x, saved[0]), max(y, saved[1])
            right = min(x + width, saved[0] + saved[2])
            top = min(y + height, saved[1] + saved[3])
            x, y, width, height = left, bottom, max(0, right - left), max(0, top - bottom)
        else:
            glEnable(GL_SCISSOR_TEST)
        glScissor(x, y, width, height)
        glClearColor(*self._rgba)
        glClear(GL_COLOR_BUFFER_BIT)
        if outer:
            glScissor(*saved)
        else:
            glDisable(GL_SCISSOR_TEST)


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


class WaitingHeaderWidget(BoxLayout):  # type: ignore[misc]
    """The waiting table's column names, Chinese over English."""

    u = NumericProperty(1.0)


class GuideLineWidget(Label):  # type: ignore[misc]
    """One line of the service guide page."""

    u = NumericProperty(1.0)


FLASH_PERIOD_S = 0.5


class CallFlash:
    """Blinks a screen's `flash_on` property while a new call is fresh.

    Only a colour flips (the numbers are glyphs), so blinking costs nothing but
    a frame; the interval runs only while there is something to flash."""

    def __init__(self, screen: Any) -> None:
        self._screen = screen
        self._event: Any = None

    def update(self, flashing: bool) -> None:
        from kivy.clock import Clock

        if flashing and self._event is None:
            self._screen.flash_on = True
            self._event = Clock.schedule_interval(self._toggle, FLASH_PERIOD_S)
        elif not flashing and self._event is not None:
            self._event.cancel()
            self._event = None
            self._screen.flash_on = False

    def pin(self, on: bool) -> None:
        """Stop blinking and hold one phase (screenshots of the flash)."""
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._screen.flash_on = on

    def _toggle(self, _dt: float) -> None:
        self._screen.flash_on = not self._screen.flash_on
