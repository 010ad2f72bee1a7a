"""Runs the real window display app (own process: Kivy opens one window per process).

A fake hub publishes real MQTT messages on the test's private broker; the steps below
run on the Kivy clock and poll for what is drawn (bounded waits, no sleeps). Writes a
JSON result; the pytest side checks it and the screenshot.

    python tests/displays/window_app_driver.py PORT RESULT.json SHOT_DIR
"""

from __future__ import annotations

import displays.kivy_env  # noqa: F401

# isort: split

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from displays.kivy_env import configure_window

configure_window(1920, 1080)

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402

from deviceui.screens import UiModel, save_screenshot  # noqa: E402
from displays.controllers import WindowDisplayController  # noqa: E402
from displays.samples import window_state  # noqa: E402
from displays.window_app import WindowDisplayApp  # noqa: E402
from hallbus.client import ConnectionSettings, DeviceClient  # noqa: E402
from hallbus.topics import DeviceRef, DeviceType  # noqa: E402

HUB = DeviceRef("bh", DeviceType.HUB, "hub-bh")
DISPLAY = DeviceRef("bh", DeviceType.WINDOW_DISPLAY, "window-display-3")
TIMEOUT_S = 10.0


def _ignore(_value: object) -> None:
    """Steps are actions: drop what the call returns."""


def _true() -> bool:
    return True


def main() -> int:
    port, result_path, shot_dir = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    result: dict[str, object] = {"steps": []}
    now = datetime.now().astimezone()
    hub = DeviceClient(HUB, ConnectionSettings(port=port, password="pw-hub-bh"))
    hub.start()
    hub.wait_connected(5)
    # Retained before the display starts: it must restore this after its "restart".
    hub.publish(DISPLAY.state_topic(), window_state(10, now=now, ticket="A010"), retain=True)
    client = DeviceClient(DISPLAY, ConnectionSettings(port=port, password="pw-window-display-3"))
    ui = UiModel()
    controller = WindowDisplayController(client, DISPLAY, "3", ui)
    controller.subscribe()
    drawn: list[float] = []
    app = WindowDisplayApp(
        controller,
        ui,
        connection=client,
        on_drawn=lambda _text, received, at: drawn.append((at - received) * 1000),
    )
    client.start()

    def texts() -> dict[str, str]:
        screen = app.root
        return {
            "headline": screen.ids.headline.text,
            "window_title": screen.ids.window_title.text,
            "staff_name": screen.ids.staff_name.text,
            "offline": screen.offline_text,
            "drawn": screen.drawn_text(),
        }

    Check = Callable[[], bool]

    def steps() -> Iterator[tuple[str, Callable[[], None], Check]]:
        yield (
            "restored",
            lambda: None,
            lambda: texts()["drawn"] == "A010" and not texts()["offline"],
        )
        yield (
            "new call",
            lambda: hub.publish(
                DISPLAY.state_topic(),
                window_state(
                    11, now=datetime.now().astimezone(), ticket="A011", called_seconds_ago=0
                ),
                retain=True,
            ),
            lambda: texts()["drawn"] == "A011" and app.root.flash_on is not None,
        )
        yield (
            "stale seq ignored",
            lambda: hub.publish(
                DISPLAY.state_topic(), window_state(9, now=now, ticket="A009"), retain=True
            ),
            lambda: True,
        )
        yield "screenshot", lambda: _ignore(save_screenshot(shot_dir / "window-live.png")), _true
        yield "hub lost", hub.stop, lambda: texts()["offline"].startswith("离线")
        yield (
            "screenshot offline",
            lambda: _ignore(save_screenshot(shot_dir / "window-offline.png")),
            _true,
        )

    sequence = steps()
    state: dict[str, tuple[str, Check, float]] = {}

    def advance(_dt: float) -> None:
        current = state.get("step")
        if current is not None:
            name, check, started = current
            if not check():
                if time.monotonic() - started > TIMEOUT_S:
                    result["failed"] = name
                    result["texts"] = texts()
                    App.get_running_app().stop()
                    return
                Clock.schedule_once(advance, 0.02)
                return
            result["steps"].append({"name": name, "texts": texts()})  # type: ignore[attr-defined]
        try:
            name, action, check = next(sequence)
        except StopIteration:
            App.get_running_app().stop()
            return
        action()
        state["step"] = (name, check, time.monotonic())
        Clock.schedule_once(advance, 0.02)

    Clock.schedule_once(advance, 0)
    app.run()
    result["drawn_ms"] = drawn
    controller.stop()
    client.stop()
    result_path.write_text(json.dumps(result, ensure_ascii=False))
    return 0 if "failed" not in result else 1


if __name__ == "__main__":
    raise SystemExit(main())
