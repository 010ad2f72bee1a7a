"""The real window display app under SDL's offscreen driver, fed over a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.displays.conftest import Broker

DRIVER = Path(__file__).with_name("window_app_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def test_window_display_restores_calls_and_marks_offline(broker: Broker, tmp_path: Path) -> None:
    result_path = tmp_path / "result.json"
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, str(DRIVER), str(broker.port), str(result_path), str(tmp_path)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result_path.exists(), completed.stderr.decode()[-3000:]
    result = json.loads(result_path.read_text())
    assert "failed" not in result, result
    steps = {step["name"]: step["texts"] for step in result["steps"]}
    assert steps["restored"]["headline"] == "A010"  # from the retained state
    assert steps["restored"]["window_title"] == "3 号窗口"
    assert steps["restored"]["staff_name"] == "王芳"
    assert steps["new call"]["drawn"] == "A011"
    assert steps["stale seq ignored"]["headline"] == "A011"
    assert steps["hub lost"]["offline"].startswith("离线")
    assert steps["hub lost"]["headline"] == "A011"  # still shown, but marked not live
    assert result["drawn_ms"] and max(result["drawn_ms"]) < 1000
    for name in ("window-live.png", "window-offline.png"):
        shot = tmp_path / name
        assert shot.stat().st_size > 20_000  # a real 1920×1080 frame, not an empty image
    assert completed.returncode == 0
