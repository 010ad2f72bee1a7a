"""Kivy environment for the displays; import this before anything from kivy.

On top of deviceui.bootstrap (font, offscreen rendering, no Kivy argv parsing) the
displays use Kivy's *interrupt* clock: the default clock sleeps until the next frame
even when another thread schedules work, which adds up to a frame (16.7 ms) to the
time between an MQTT call arriving and the number being drawn. The interrupt clock
wakes as soon as the UiModel schedules its update.
"""

from __future__ import annotations

import os

import deviceui.bootstrap  # noqa: F401  (sets the environment before kivy loads)

os.environ.setdefault("KIVY_CLOCK", "interrupt")
# Mesa's software rasteriser (llvmpipe) draws in the calling thread instead of handing
# tiles to worker threads. On the 2-core reference machine under load the hand-off is
# what makes the slow frames: call → drawn p99 26.9–31.6 ms with this, 29.7–39.2 ms
# (max up to 98 ms) without (docs/displays.md). Ignored by hardware GL drivers.
os.environ.setdefault("LP_NUM_THREADS", "0")


def configure_window(width: int, height: int, *, fullscreen: bool = False) -> None:
    """Window size before the window exists (Config is read when kivy.core.window loads)."""
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0" if not fullscreen else "1")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    # No multisampling: text arrives anti-aliased from the font renderer, and on a
    # software renderer MSAA makes every pixel of every layer cost several samples
    # (measured: the clear of a 1920×1080 frame 6 ms → 1 ms; docs/displays.md).
    # The clerk's round placeholder uses SmoothEllipse for its edge instead.
    Config.set("graphics", "multisamples", "0")
    # Displays have no keyboard or mouse in the hall; no on-screen keyboard either.
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")


def fit_font(text: str, width: float, largest: float, smallest: float = 26.0) -> float:
    """Largest font size ≤ ``largest`` at which one line of ``text`` fits ``width``.

    Never below ``smallest`` (≈ 24 px at 1080p is the readability floor for the hall);
    text that still does not fit is shortened with an ellipsis by the label.

    Chinese characters are about 1 em wide in WenQuanYi Micro Hei, Latin letters and
    digits about 0.58 em; a little slack keeps the last glyph off the edge.
    """
    if not text or width <= 0:
        return largest
    ems = sum(1.0 if ord(char) > 0x2E80 else 0.58 for char in text) + 0.3
    return max(min(smallest, largest), min(largest, width / ems))
