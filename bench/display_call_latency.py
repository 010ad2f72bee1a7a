"""Call → new number drawn on the window display (real app, SDL offscreen, real broker).

    SDL_VIDEODRIVER=offscreen .venv/bin/python bench/display_call_latency.py [--calls 200]

Starts a private Mosquitto (generated config, 127.0.0.1, free port), the real window
display app, and a fake hub that publishes a new WindowDisplayState (new ticket) each
time the previous one has been drawn. Measured per call:

* receipt → drawn: the MQTT handler receiving the message to the Window flip whose
  frame holds the new number (the issue's target: p99 ≤ 50 ms);
* publish → drawn: also includes the broker hop.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from displays.kivy_env import configure_window

configure_window(1920, 1080)

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402

from deviceui.screens import UiModel  # noqa: E402
from displays.controllers import WindowDisplayController  # noqa: E402
from displays.samples import window_state  # noqa: E402
from displays.window_app import WindowDisplayApp  # noqa: E402
from hallbus.broker.embedded import free_loopback_port  # noqa: E402
from hallbus.broker.mosquitto import start_mosquitto  # noqa: E402
from hallbus.client import ConnectionSettings, DeviceClient  # noqa: E402
from hallbus.topics import DeviceRef, DeviceType  # noqa: E402

HUB = DeviceRef("bh", DeviceType.HUB, "hub-bh")
DISPLAY = DeviceRef("bh", DeviceType.WINDOW_DISPLAY, "window-display-3")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    passwords = {HUB.device_id: "hub-pw", DISPLAY.device_id: "display-pw"}
    port = free_loopback_port()
    with tempfile.TemporaryDirectory() as scratch:
        broker = start_mosquitto(Path(scratch), [HUB, DISPLAY], passwords, port)
        try:
            return run(args.calls, port, passwords)
        finally:
            broker.stop()


def run(calls: int, port: int, passwords: dict[str, str]) -> int:
    hub = DeviceClient(HUB, ConnectionSettings(port=port, password=passwords[HUB.device_id]))
    hub.start()
    hub.wait_connected(5)
    client = DeviceClient(
        DISPLAY, ConnectionSettings(port=port, password=passwords[DISPLAY.device_id])
    )
    ui = UiModel()
    controller = WindowDisplayController(client, DISPLAY, "3", ui)
    controller.subscribe()
    receipt_to_drawn: list[float] = []
    publish_to_drawn: list[float] = []
    published_at: dict[str, float] = {}
    sequence = iter(range(1, calls + 2))

    def publish_next() -> None:
        seq = next(sequence, None)
        if seq is None:
            App.get_running_app().stop()
            return
        ticket = f"A{seq % 10000:04d}" if seq >= 1000 else f"A{seq:03d}"
        published_at[ticket] = time.perf_counter()
        hub.publish(
            DISPLAY.state_topic(),
            window_state(seq, now=datetime.now().astimezone(), ticket=ticket, called_seconds_ago=0),
            retain=True,
        )

    def on_drawn(text: str, received: float, drawn: float) -> None:
        if text in published_at and text != "A001":  # the first call warms textures up
            receipt_to_drawn.append((drawn - received) * 1000)
            publish_to_drawn.append((drawn - published_at[text]) * 1000)
        # Next call a few frames later, so calls do not share a frame.
        Clock.schedule_once(lambda _dt: publish_next(), 0.05)

    app = WindowDisplayApp(controller, ui, connection=client, on_drawn=on_drawn)
    client.start()
    client.wait_connected(5)
    Clock.schedule_once(lambda _dt: publish_next(), 1.0)
    app.run()
    controller.stop()
    client.stop()
    hub.stop()

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"calls measured: {len(receipt_to_drawn)} (SDL_VIDEODRIVER offscreen, 1920x1080)")
    for name, values in (
        ("receipt -> drawn", receipt_to_drawn),
        ("publish -> drawn", publish_to_drawn),
    ):
        print(
            f"{name}: p50 {statistics.median(values):.1f} ms, "
            f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
