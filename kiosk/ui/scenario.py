"""Drive the running kiosk app step by step on the Kivy clock (screenshots, window tests).

Each step does something (a visitor action, an injected MQTT message), then waits until a
condition on the rendered state holds, polling on the Kivy clock with a bounded timeout
(no sleeps), and optionally saves a screenshot once the frame showing it has been drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window

from deviceui.screens import save_screenshot

POLL_S = 0.02
SETTLE_FRAMES = 3  # frames drawn after the condition holds, before the screenshot


@dataclass
class Step:
    name: str
    action: Callable[[], None]
    until: Callable[[dict[str, Any]], bool]
    screenshot: Path | None = None
    timeout_s: float = 10.0


@dataclass
class ScenarioResult:
    completed: list[str] = field(default_factory=list)
    failed: str | None = None
    screenshots: list[Path] = field(default_factory=list)


def run_scenario(app: App, steps: list[Step], result: ScenarioResult) -> None:
    """Schedule ``steps`` on the running app; stops the app when done or on a failure."""
    queue = list(steps)

    def start_next(_dt: float = 0) -> None:
        if not queue:
            app.stop()
            return
        step = queue.pop(0)
        try:
            step.action()
        except Exception as error:  # report instead of hanging the window
            result.failed = f"{step.name}: action raised {error!r}"
            app.stop()
            return
        waited = [0.0]
        settled = [0]

        def poll(dt: float) -> bool:
            waited[0] += dt
            state = app.state  # type: ignore[attr-defined]
            if not step.until(state):
                if waited[0] > step.timeout_s:
                    result.failed = f"{step.name}: condition not met in {step.timeout_s} s"
                    app.stop()
                    return False
                return True
            settled[0] += 1
            if settled[0] < SETTLE_FRAMES:
                return True
            if step.screenshot is not None:
                # Kivy redraws only when something changed and glReadPixels reads the back
                # buffer, which after a swap holds an older frame: draw once more first.
                Window.dispatch("on_draw")
                result.screenshots.append(save_screenshot(step.screenshot))
            result.completed.append(step.name)
            Clock.schedule_once(start_next, 0)
            return False

        Clock.schedule_interval(poll, POLL_S)

    Clock.schedule_once(start_next, 0.1)
