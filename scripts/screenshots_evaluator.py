"""Render every evaluator screen with the real app offscreen and write PNGs.

    .venv/bin/python scripts/screenshots_evaluator.py [--out docs/screenshots]

A private Mosquitto (generated config and ACL, free loopback port) and a fake
hub feed the app real MQTT messages; touches go through the same app methods
the buttons call. Files: docs/screenshots/evaluator-<screen>.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import deviceui.bootstrap  # noqa: F401  (before kivy)
from deviceui.screens import save_screenshot
from evaluator.app import EvaluatorApp
from evaluator.runtime import EvaluatorRuntime, RuntimeOptions
from evaluator.testing import (
    FakeHub,
    evaluator_ref,
    hub_ref,
    private_broker,
    pump_frames,
    pump_until,
    rate_now_command,
    window_state,
)
from evaluator.viewmodel import Screen
from hallbus.config import EvaluatorConfig

DIMENSIONS = ["服务态度", "办事效率", "办事指南准确度"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    width, _, height = args.size.partition("x")
    evaluator, hub = evaluator_ref("evaluator-3", "bh"), hub_ref("bh")
    with (
        tempfile.TemporaryDirectory() as tmp,
        private_broker(Path(tmp) / "broker", [evaluator, hub]) as broker,
    ):
        config = EvaluatorConfig.model_validate(
            {
                "device_id": evaluator.device_id,
                "hall_id": evaluator.hall_id,
                "type": "evaluator",
                "window": "3",
                "timeout_s": 60,
                "dimensions": DIMENSIONS,
                "bad_reasons_source": "builtin",
            }
        )
        runtime = EvaluatorRuntime(
            config,
            broker.settings_for(evaluator),
            RuntimeOptions(
                pending_path=Path(tmp) / "pending.db", hub_id=hub.device_id, result_seconds=600
            ),
        )
        fake_hub = FakeHub(hub, broker.settings_for(hub)).start()
        app = EvaluatorApp(runtime, size=(int(width), int(height)))
        app._run_prepare()
        view_model = runtime.view_model

        def shot(name: str, screen: Screen) -> None:
            if not pump_until(lambda: app.screens is not None and app.screens.current == screen):
                raise SystemExit(f"screen {screen} never appeared (showing {app.view.screen})")
            pump_frames(5)
            path = save_screenshot(args.out / f"evaluator-{name}.png")
            print(path)

        fake_hub.publish_state(evaluator, window_state("3", seq=1))
        pump_until(lambda: app.view.has_clerk and app.view.screen is Screen.IDLE)
        shot("idle", Screen.IDLE)
        view_model.toggle_language()
        shot("idle-en", Screen.IDLE)
        view_model.toggle_language()

        fake_hub.rate_now(evaluator, rate_now_command("3", ticket="A012"))
        shot("ask-level", Screen.ASK_LEVEL)
        view_model.choose_level(4)
        view_model.score_dimension(5)
        shot("dimensions", Screen.DIMENSIONS)
        view_model.skip_dimensions()
        shot("thanks", Screen.THANKS)

        fake_hub.rate_now(evaluator, rate_now_command("3", ticket="A013"))
        pump_until(lambda: app.view.screen is Screen.ASK_LEVEL)
        view_model.choose_level(2)
        view_model.toggle_reason("办事效率低")
        view_model.toggle_reason("多次跑动")
        shot("bad-reasons", Screen.BAD_REASONS)
        view_model.submit_reasons()
        view_model.skip_dimensions()
        shot("thanks-bad", Screen.THANKS)

        fake_hub.rate_now(evaluator, rate_now_command("3", ticket="A014", expires_in_s=1.5))
        pump_until(lambda: app.view.screen is Screen.ASK_LEVEL)
        shot("expired", Screen.EXPIRED)

        fake_hub.publish_state(
            evaluator,
            window_state("3", seq=2, state="paused", pause_reason="业务培训", current_ticket=None),
        )
        view_model.dismiss_result()
        fake_hub.stop()  # a stopping hub publishes its retained `offline`
        shot("offline", Screen.OFFLINE)
        app._stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
