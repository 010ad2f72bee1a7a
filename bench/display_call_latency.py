"""Call → new number drawn on a display (real app, SDL offscreen, real broker).

    SDL_VIDEODRIVER=offscreen .venv/bin/python bench/display_call_latency.py \\
        [--display window|hall] [--calls 200] [--gap-ms 250]

Starts a private Mosquitto (generated config, 127.0.0.1, free port), the real display
app at 1920×1080 and a fake hub. The hub publishes a call — a new WindowDisplayState
(window display) or a CallEvent (hall display) — ``--gap-ms`` after the previous one
was drawn, so the panel's own frames (flash, clock) run between calls as in a hall.

"Drawn" is the ``on_flip`` of the first frame whose drawing holds the new number, after
``glFinish()``: the pixels are rasterised, not just queued (displays/app_base.py).

Printed per call, p50 / p99 / max:

* receipt → drawn (the issue's target: p99 ≤ 50 ms), and publish → drawn;
* the stages in between: receipt → Kivy clock callback, callback → properties set
  (``show``), set → frame starts (Clock triggers: layouts, label textures), frame
  start → draw calls issued, issued → rasterised;
* text rendered into textures (SDL_ttf) between receipt and drawn: count and ms.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from displays.kivy_env import configure_window

configure_window(1920, 1080)

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import LabelBase  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from deviceui.screens import UiModel  # noqa: E402
from displays.app_base import DisplayApp  # noqa: E402
from displays.controllers import HallDisplayController, WindowDisplayController  # noqa: E402
from displays.guide import load_guide  # noqa: E402
from displays.hall_app import HallDisplayApp  # noqa: E402
from displays.samples import call_event, window_state  # noqa: E402
from displays.window_app import WindowDisplayApp  # noqa: E402
from hallbus.broker.mosquitto import start_mosquitto  # noqa: E402
from hallbus.client import ConnectionSettings, DeviceClient  # noqa: E402
from hallbus.ports import free_loopback_port  # noqa: E402
from hallbus.topics import Broadcast, DeviceRef, DeviceType, broadcast_topic  # noqa: E402

HUB = DeviceRef("bh", DeviceType.HUB, "hub-bh")
WINDOW = DeviceRef("bh", DeviceType.WINDOW_DISPLAY, "window-display-3")
HALL = DeviceRef("bh", DeviceType.HALL_DISPLAY, "hall-display-1")
WARM_UP_CALLS = 3  # first frames compile shaders and fill caches; not what a hall sees
STAGES = (
    ("receipt -> clock callback", "received", "callback"),
    ("callback -> properties set", "callback", "shown"),
    ("set -> frame starts", "shown", "draw"),
    ("frame start -> draw issued", "draw", "issued"),
    ("issued -> rasterised", "issued", "drawn"),
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):6.1f} ms, p99 {percentile(values, 0.99):6.1f} ms, "
        f"max {max(values):6.1f} ms"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class StageProbe:
    """Timestamps of one call at a time through the app (benchmark instrumentation).

    Hooks: the UiModel's clock callback, Window on_draw / on_flip (bound after the app's
    own handlers, so they run first: "issued" is before the app's glFinish), and every
    label texture render (LabelBase._texture_fill, SDL_ttf → texture upload).
    """

    def __init__(self, ui: UiModel) -> None:
        self.marks: dict[str, float] = {}
        self.active = False  # a call is on its way: count text renders
        self.renders: list[float] = []
        self.calls: list[tuple[dict[str, float], list[float]]] = []
        self._lock = threading.Lock()
        notify = ui._notify

        def timed_notify() -> None:
            self._first("callback")
            notify()
            self._first("shown")

        ui._notify = timed_notify  # type: ignore[method-assign]
        fill = LabelBase._texture_fill

        def timed_fill(label: Any, texture: Any) -> None:
            started = time.perf_counter()
            fill(label, texture)
            if self.active:
                self.renders.append((time.perf_counter() - started) * 1000)

        LabelBase._texture_fill = timed_fill

    def bind_window(self) -> None:
        Window.bind(on_draw=lambda *_args: self._after_shown("draw"))
        Window.bind(on_flip=lambda *_args: self._after_shown("issued"))

    def start(self) -> None:
        with self._lock:
            self.marks = {}
            self.renders = []
            self.active = True

    def _first(self, name: str) -> None:
        with self._lock:
            self.marks.setdefault(name, time.perf_counter())

    def _after_shown(self, name: str) -> None:
        if "shown" in self.marks:
            self._first(name)
            if name == "draw":
                with self._lock:
                    self.marks.setdefault("draw_cpu", time.thread_time())

    def finish(self, published: float, received: float, drawn: float) -> None:
        with self._lock:
            marks = dict(self.marks, published=published, received=received, drawn=drawn)
            marks["drawn_cpu"] = time.thread_time()
            self.calls.append((marks, list(self.renders)))
            self.marks = {}
            self.renders = []
            self.active = False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display", choices=("window", "hall"), default="window")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=250.0)
    args = parser.parse_args()
    display = WINDOW if args.display == "window" else HALL
    passwords = {HUB.device_id: "hub-pw", display.device_id: "display-pw"}
    port = free_loopback_port()
    started_load = load_average()
    with tempfile.TemporaryDirectory() as scratch:
        broker = start_mosquitto(Path(scratch), [HUB, display], passwords, port)
        try:
            probe = run(args, display, port, passwords)
        finally:
            broker.stop()
    report(probe, started_load)
    return 0


def run(
    args: argparse.Namespace, display: DeviceRef, port: int, passwords: dict[str, str]
) -> StageProbe:
    hub = DeviceClient(HUB, ConnectionSettings(port=port, password=passwords[HUB.device_id]))
    hub.start()  # announces its retained `online`: the display is live, calls flash
    hub.wait_connected(5)
    client = DeviceClient(
        display, ConnectionSettings(port=port, password=passwords[display.device_id])
    )
    ui = UiModel()
    probe = StageProbe(ui)
    controller: WindowDisplayController | HallDisplayController
    if display is WINDOW:
        controller = WindowDisplayController(client, display, "3", ui)
    else:
        controller = HallDisplayController(
            client, display, ui, pages=["calls", "waiting", "notices"], guide=load_guide()
        )
    controller.subscribe()
    published_at: dict[str, float] = {}
    sequence = iter(range(1, args.calls + WARM_UP_CALLS + 1))

    def publish_next() -> None:
        seq = next(sequence, None)
        if seq is None:
            App.get_running_app().stop()
            return
        ticket = f"A{seq % 1000:03d}"
        now = datetime.now().astimezone()
        probe.start()
        published_at[ticket] = time.perf_counter()
        if display is WINDOW:
            state = window_state(seq, now=now, ticket=ticket, called_seconds_ago=0)
            hub.publish(display.state_topic(), state, retain=True)
        else:
            call = call_event(seq, ticket, str(seq % 20 + 1), now=now)
            hub.publish(broadcast_topic("bh", Broadcast.CALL), call)

    def on_drawn(text: str, received: float, drawn: float) -> None:
        if text in published_at:
            probe.finish(published_at[text], received, drawn)
        Clock.schedule_once(lambda _dt: publish_next(), args.gap_ms / 1000)

    app_class: Callable[..., DisplayApp] = WindowDisplayApp if display is WINDOW else HallDisplayApp
    app = app_class(controller, ui, connection=client, on_drawn=on_drawn)
    client.start()
    client.wait_connected(5)
    Clock.schedule_once(lambda _dt: probe.bind_window(), 0)
    Clock.schedule_once(lambda _dt: publish_next(), 1.0)
    app.run()
    controller.stop()
    client.stop()
    hub.stop()
    probe.calls = probe.calls[WARM_UP_CALLS:]
    return probe


def report(probe: StageProbe, started_load: str) -> None:
    calls = probe.calls
    print("command:", shlex.join([sys.executable, *sys.argv]))
    env = {name: os.environ.get(name, "") for name in ("SDL_VIDEODRIVER", "LP_NUM_THREADS")}
    print(f"environment: {env}, KIVY_CLOCK={os.environ.get('KIVY_CLOCK', '')}")
    print(f"load average: {started_load} (start), {load_average()} (end)")
    print(f"calls measured: {len(calls)} (after {WARM_UP_CALLS} warm-up calls), 1920x1080")
    for name, start in (("receipt -> drawn", "received"), ("publish -> drawn", "published")):
        values = [(marks["drawn"] - marks[start]) * 1000 for marks, _renders in calls]
        print(f"{name:30s} {summary(values)}")
    for name, start, end in STAGES:
        values = [
            (marks[end] - marks[start]) * 1000
            for marks, _renders in calls
            if start in marks and end in marks
        ]
        if values:
            print(f"  {name:28s} {summary(values)}")
    cpu = [
        (marks["drawn_cpu"] - marks["draw_cpu"]) * 1000
        for marks, _renders in calls
        if "draw_cpu" in marks
    ]
    if cpu:
        # Load-independent: CPU the Kivy thread spent on the call's frame. Rasterising
        # happens in this thread only with LP_NUM_THREADS=0 (else in Mesa's threads).
        print(f"  {'frame CPU, Kivy thread':28s} {summary(cpu)}")
    counts = [float(len(renders)) for _marks, renders in calls]
    spent = [sum(renders) for _marks, renders in calls]
    print(
        f"  text renders per call: mean {statistics.mean(counts):.2f}, "
        f"max {max(counts):.0f}; render ms per call p99 {percentile(spent, 0.99):.1f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
