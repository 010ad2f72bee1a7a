"""Render every display screen/state with the real apps offscreen → docs/screenshots/.

    .venv/bin/python scripts/screenshots_displays.py [--out docs/screenshots]

Each layout runs in its own process (Kivy opens one window per process, and the
window size decides landscape or portrait). Messages are real encoded hub payloads
delivered through the real controllers (RecordingBus.inject); the screens are the
shipped .kv files. Output: display-window-*.png, display-hall-*.png.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAYOUTS = (
    "window",
    "hall-landscape",
    "hall-guide",
    "hall-portrait",
    "hall-portrait-calls",
    "hall-busy",
)
Step = Callable[[], None]


def run_steps(steps: Iterator[tuple[Step, float]]) -> None:
    """Run (action, seconds to wait after it) pairs on the Kivy clock, then stop the app."""
    from kivy.app import App
    from kivy.clock import Clock

    def next_step(_dt: float) -> None:
        try:
            action, wait = next(steps)
        except StopIteration:
            App.get_running_app().stop()
            return
        action()
        Clock.schedule_once(next_step, wait)

    Clock.schedule_once(next_step, 0.5)


def make_photo(photo_dir: Path) -> None:
    """A neutral placeholder portrait (no real person) for the clerk card."""
    from PIL import Image, ImageDraw

    photo_dir.mkdir(parents=True, exist_ok=True)
    target = photo_dir / "0107.png"
    if target.exists():
        return
    top, bottom = (0x5B, 0x8B, 0xD6), (0x1D, 0x3F, 0x7A)
    image = Image.new("RGB", (400, 400))
    draw = ImageDraw.Draw(image)
    for row in range(400):  # vertical gradient
        mix = row / 399
        draw.line(
            [(0, row), (399, row)],
            fill=tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)),
        )
    draw.ellipse((120, 80, 280, 240), fill="#f1d3b3")  # head
    draw.ellipse((50, 230, 350, 590), fill="#2c2c2c")  # shoulders
    image.save(target)


def render_window(out: Path, scratch: Path) -> None:
    from displays.kivy_env import configure_window

    configure_window(1920, 1080)
    from kivy.clock import Clock

    from deviceui.screens import UiModel, save_screenshot
    from displays.launch import LANDSCAPE, Options, build_window_controller
    from displays.samples import window_state
    from displays.window_app import WindowDisplayApp
    from hallbus.bus import RecordingBus
    from hallbus.config import WindowDisplayConfig
    from hallbus.messages import StaffCard

    assert LANDSCAPE == (1920, 1080)
    make_photo(scratch / "photos")
    config = WindowDisplayConfig(
        device_id="window-display-3", hall_id="bh", type="window_display", window="3"
    )
    bus = RecordingBus()
    ui = UiModel()
    controller = build_window_controller(config, bus, ui, Options(photo_dir=scratch / "photos"))
    app = WindowDisplayApp(controller, ui)
    state_topic = config.device_ref().state_topic()
    hub = "hall/bh/hub/hub-bh/status"
    now = datetime.now().astimezone()
    seq = iter(range(1, 100))

    def shot(name: str, *, flash: bool | None = None) -> tuple[Step, float]:
        def take() -> None:
            screen = app.root
            if flash is not None:  # the flash toggles every 0.5 s; pin it for the picture
                screen._flash.pin(flash)
            # Let the next frame draw what was just set before reading the pixels.
            Clock.schedule_once(
                lambda _dt: save_screenshot(out / f"display-window-{name}.png"), 0.2
            )

        return take, 0.5

    def send(payload: object, topic: str = state_topic) -> tuple[Step, float]:
        return (lambda: bus.inject(topic, payload)), 0.6  # type: ignore[arg-type]

    def steps() -> Iterator[tuple[Step, float]]:
        controller.set_device_connected(True)
        yield shot("connecting")
        yield send(b"online", hub)
        yield send(window_state(next(seq), now=now, ticket="A012"))
        yield shot("serving")
        yield send(window_state(next(seq), now=now, ticket="A013", called_seconds_ago=0))
        yield shot("new-call-flash", flash=True)
        yield send(window_state(next(seq), now=now, ticket=None))
        yield shot("open-idle")
        yield send(
            window_state(
                next(seq), now=now, state="paused", pause_reason="业务培训", back_in_minutes=30
            )
        )
        yield shot("paused")
        yield send(window_state(next(seq), now=now, state="resting"))
        yield shot("resting")
        yield send(window_state(next(seq), now=now, state="closed", staff=None))
        yield shot("closed")
        yield send(
            window_state(
                next(seq),
                now=now,
                ticket="A014",
                staff=StaffCard(name="欧阳晓明", employee_no="0215", stars=4.2),
            )
        )
        yield send(b"offline", hub)
        yield shot("offline")

    run_steps(steps())
    app.run()
    controller.stop()


def render_hall(out: Path, layout: str) -> None:
    portrait = layout.startswith("hall-portrait")
    from displays.kivy_env import configure_window

    configure_window(*((1080, 1920) if portrait else (1920, 1080)))
    from deviceui.screens import UiModel, save_screenshot
    from displays.hall_app import HallDisplayApp
    from displays.launch import Options, build_hall_controller
    from displays.samples import busy_hall, call_event, call_list, config_push
    from hallbus.bus import RecordingBus
    from hallbus.config import HallDisplayConfig

    pages = {
        "hall-landscape": ["calls", "waiting", "notices"],
        "hall-guide": ["calls", "guide", "notices"],
        "hall-portrait": ["guide", "waiting"],
        "hall-portrait-calls": ["calls", "waiting", "notices"],
        # The demo hall's 19 categories and 6 notices: the waiting table pages ("1/4").
        "hall-busy": ["calls", "waiting", "notices"],
    }[layout]
    config = HallDisplayConfig(
        device_id="hall-display-1",
        hall_id="bh",
        type="hall_display",
        floor=1,
        pages=pages,
        orientation="portrait" if portrait else "landscape",
        page_seconds=600,
    )
    bus = RecordingBus()
    ui = UiModel()
    controller = build_hall_controller(config, bus, ui, Options())
    app = HallDisplayApp(controller, ui, portrait=portrait)
    device = config.device_ref()
    hub = "hall/bh/hub/hub-bh/status"
    now = datetime.now().astimezone()

    def shot(name: str, *, flash: bool | None = None) -> tuple[Step, float]:
        def take() -> None:
            screen = app.root
            screen.park_ticker(0.02)
            if flash is not None:
                screen._flash.pin(flash)
            if screen._ticker_event is not None:
                screen._ticker_event.cancel()
                screen._ticker_event = None
            from kivy.clock import Clock

            Clock.schedule_once(lambda _dt: save_screenshot(out / f"display-{name}.png"), 0.2)

        return take, 0.6

    def send(payload: object, topic: str) -> tuple[Step, float]:
        return (lambda: bus.inject(topic, payload)), 0.6  # type: ignore[arg-type]

    def show_page(page: str) -> tuple[Step, float]:
        def pin() -> None:
            controller.model.page_at = lambda _now: page  # type: ignore[method-assign]
            controller.refresh()

        return pin, 0.6

    def steps() -> Iterator[tuple[Step, float]]:
        controller.set_device_connected(True)
        yield send(b"online", hub)
        if layout == "hall-busy":
            config, calls = busy_hall(1, 19, now=now)
            yield send(config, device.config_topic())
            yield send(calls, device.state_topic())
            yield show_page("waiting")
            yield shot("hall-landscape-19-categories")
            return
        yield send(config_push(1), device.config_topic())
        yield send(call_list(1, now=now), device.state_topic())
        if layout == "hall-landscape":
            yield show_page("waiting")
            yield shot("hall-landscape")
            yield send(
                call_event(1, "A013", "3", now=now + timedelta(seconds=1)), "hall/bh/all/call"
            )
            yield shot("hall-new-call-flash", flash=True)
            yield send(b"offline", hub)
            yield shot("hall-offline")
        elif layout == "hall-guide":
            yield show_page("guide")
            yield shot("hall-landscape-guide")
        elif layout == "hall-portrait":
            yield show_page("guide")
            yield shot("hall-portrait-guide")
            yield show_page("waiting")
            yield shot("hall-portrait-waiting")
        else:
            yield show_page("waiting")
            yield shot("hall-portrait-calls")

    run_steps(steps())
    app.run()
    controller.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--layout", choices=LAYOUTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out: Path = args.out.resolve()
    if args.layout == "window":
        render_window(out, ROOT / "var" / "screenshots")
        return 0
    if args.layout:
        render_hall(out, args.layout)
        return 0
    started = time.monotonic()
    env = dict(os.environ, SDL_VIDEODRIVER=os.environ.get("SDL_VIDEODRIVER", "offscreen"))
    for layout in LAYOUTS:
        subprocess.run(
            [sys.executable, __file__, "--out", str(out), "--layout", layout], check=True, env=env
        )
    written = sorted(out.glob("display-*.png"))
    for path in written:
        print(path.relative_to(ROOT))
    print(f"{len(written)} screenshots in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
