"""Helpers every device app shares: model updates on the Kivy clock, and screenshots.

Network callbacks (MQTT, running on the client's worker thread) must never
touch widgets. They call `UiModel.update(...)`; the change is applied on the
Kivy clock, where properties bound in the .kv files redraw the screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UiModel:
    """Thread-safe holder of the state a screen shows.

    `update()` may be called from any thread; listeners run on the Kivy main
    thread (or immediately, when no Kivy clock is running, as in unit tests of
    screen logic).
    """

    def __init__(self, **initial: Any) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = dict(initial)
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._scheduled = False
        self.use_kivy_clock = False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._values.get(key, default)

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def update(self, **changes: Any) -> None:
        with self._lock:
            self._values.update(changes)
            if self.use_kivy_clock and self._scheduled:
                return
            self._scheduled = self.use_kivy_clock
        if self.use_kivy_clock:
            from kivy.clock import Clock

            Clock.schedule_once(lambda _dt: self._notify(), 0)
        else:
            self._notify()

    def _notify(self) -> None:
        with self._lock:
            self._scheduled = False
            values = dict(self._values)
        for listener in self._listeners:
            listener(values)


def save_screenshot(path: Path) -> Path:
    """Window.screenshot keeps the window background (export_to_png drops it).
    Kivy inserts a counter before the extension; the file is renamed to `path`."""
    from kivy.core.window import Window

    path.parent.mkdir(parents=True, exist_ok=True)
    written = Window.screenshot(name=str(path.resolve()))
    if not written:
        raise RuntimeError("截图失败 / screenshot failed")
    Path(written).replace(path)
    return path
