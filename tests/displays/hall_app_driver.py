"""Runs the real hall display app with N categories and the demo hall's notices (own
process: Kivy opens one window per process) and measures what it draws.

Real hub payloads reach the real controller through RecordingBus.inject; the screen is
the shipped .kv. The controller's clock is the driver's, so each page of the waiting
table is shown by moving that clock, not by waiting for it. For every page: a
screenshot and, for every label in the side panel, its text, font size, the size of
the text unshortened, and its box in window pixels. Then the ticker: its pieces, their
texture widths, and which notices pass through it while it scrolls.

    python tests/displays/hall_app_driver.py CATEGORIES RESULT.json SHOT_DIR [portrait]
"""

from __future__ import annotations

import displays.kivy_env  # noqa: F401

# isort: split

import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from displays.kivy_env import configure_window

PORTRAIT = len(sys.argv) > 4 and sys.argv[4] == "portrait"
configure_window(*((1080, 1920) if PORTRAIT else (1920, 1080)))

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.graphics.opengl import GL_MAX_TEXTURE_SIZE, glGetIntegerv  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from deviceui.screens import UiModel, save_screenshot  # noqa: E402
from displays.controllers import HallDisplayController  # noqa: E402
from displays.guide import load_guide  # noqa: E402
from displays.hall_app import HallDisplayApp  # noqa: E402
from displays.samples import busy_hall  # noqa: E402
from hallbus.bus import RecordingBus  # noqa: E402
from hallbus.topics import DeviceRef, DeviceType  # noqa: E402

DISPLAY = DeviceRef("bh", DeviceType.HALL_DISPLAY, "hall-display-1")
TIMEOUT_S = 20.0


def labels_under(widget: Any) -> Iterator[Label]:
    for child in widget.walk(restrict=True):
        if isinstance(child, Label) and child.text:
            yield child


def measure(label: Label) -> dict[str, Any]:
    x, y = label.to_window(label.x, label.y)
    # The text's own extent at the label's font, before any shortening ("…").
    text_width, text_height = label._label.get_extents(label.text)
    return {
        "text": label.text,
        "font_size": float(label.font_size),
        "box": [x, y, float(label.width), float(label.height)],
        "text_size": [float(text_width), float(text_height)],
        "texture": [float(label.texture_size[0]), float(label.texture_size[1])],
    }


def main() -> int:
    categories, result_path, shot_dir = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    result: dict[str, Any] = {"pages": [], "portrait": PORTRAIT}
    clock = {"now": datetime.fromisoformat("2026-11-26T10:00:00+08:00")}
    bus = RecordingBus()
    ui = UiModel()
    controller = HallDisplayController(
        bus,
        DISPLAY,
        ui,
        pages=["calls", "waiting", "notices"],
        guide=load_guide(),
        floor=1,
        page_seconds=15,
        now=lambda: clock["now"],
    )
    controller.subscribe()
    app = HallDisplayApp(controller, ui, portrait=PORTRAIT)
    config, calls = busy_hall(1, categories, now=clock["now"])

    def run() -> Iterator[float]:
        controller.set_device_connected(True)
        bus.inject("hall/bh/hub/hub-bh/status", b"online")
        bus.inject(DISPLAY.config_topic(), config)
        bus.inject(DISPLAY.state_topic(), calls)
        screen = app.root
        deadline = time.monotonic() + TIMEOUT_S
        while controller.model.waiting_rows_per_page is None or not screen.ids.page_body.children:
            if time.monotonic() > deadline:
                raise TimeoutError("the screen never reported its waiting capacity")
            yield 0.05
        result["rows_per_page"] = controller.model.waiting_rows_per_page
        result["min_text_px"] = 40 * screen.u
        # One moment for each page of the waiting table, from the view-model's schedule.
        moments: dict[str, datetime] = {}
        start = clock["now"]
        for second in range(0, 600):
            moment = start + timedelta(seconds=second)
            view = controller.model.view(moment)
            if view.page == "waiting":
                moments.setdefault(view.waiting_page_text or "1/1", moment)
        for page_text, moment in sorted(moments.items(), key=lambda item: item[1]):
            clock["now"] = moment
            controller.refresh()
            deadline = time.monotonic() + TIMEOUT_S
            while screen.waiting_page_text != page_text.replace("1/1", ""):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"page {page_text} never shown ({screen.waiting_page_text!r}, "
                        f"{controller.model.waiting_rows_per_page} rows a page)"
                    )
                yield 0.05
            yield 0.3  # the next frames lay the new rows out and draw them
            name = f"hall-{categories}-{page_text.replace('/', 'of')}.png"
            save_screenshot(shot_dir / name)
            panel = screen.ids.page_body.parent
            rows = [
                widget.prefix
                for widget in reversed(screen.ids.page_body.children)
                if hasattr(widget, "prefix")
            ]
            result["pages"].append(
                {
                    "page": page_text,
                    "shot": name,
                    "prefixes": rows,
                    "labels": [measure(label) for label in labels_under(panel)],
                    "panel": [*panel.to_window(panel.x, panel.y), panel.width, panel.height],
                }
            )
        # The ticker: park it, photograph it, then let it scroll a whole cycle.
        screen.park_ticker(0.02)
        if screen._ticker_event is not None:
            screen._ticker_event.cancel()
            screen._ticker_event = None
        yield 0.3
        save_screenshot(shot_dir / f"hall-{categories}-ticker.png")
        strip = screen.ids.ticker_strip
        result["ticker"] = {
            "strip": [*strip.to_window(strip.x, strip.y), strip.width, strip.height],
            "max_texture": int(glGetIntegerv(GL_MAX_TEXTURE_SIZE)[0]),
            "pieces": [
                {"text": child.text, "texture": list(child.texture_size), "font": child.font_size}
                for child in reversed(strip.children)
            ],
            "view_pieces": list(controller.model.view(clock["now"]).notice_pieces),
        }
        # Every piece that enters the strip, in order, until the first one comes round again.
        passed: list[str] = []
        seen: list[Any] = []  # the labels themselves: ids of freed ones are reused
        for _frame in range(40_000):  # 1/30 s frames: ≈ 22 min of scrolling at most
            for child in reversed(strip.children):
                if not any(child is label for label in seen):
                    seen.append(child)
                    passed.append(child.text)
            if len(passed) > len(result["ticker"]["view_pieces"]):
                break
            screen._scroll_ticker(1 / 30)
        result["ticker"]["passed"] = passed

    steps = run()

    def step(_dt: float) -> None:
        try:
            wait = next(steps)
        except StopIteration:
            App.get_running_app().stop()
            return
        except Exception as error:  # reported to the test, which fails with it
            result["failed"] = repr(error)
            App.get_running_app().stop()
            return
        Clock.schedule_once(step, wait)

    Clock.schedule_once(step, 0.3)
    app.run()
    result_path.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
