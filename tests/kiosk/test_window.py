"""The real kiosk app in a real (offscreen SDL) window, fed by real MQTT messages.

A fake hub on a private Mosquitto answers; the app runs in a subprocess (one Kivy window
per process) that reports what its widgets showed and writes screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hallbus.broker.mosquitto import find_mosquitto

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed")
def test_visitor_takes_a_ticket_in_the_real_window(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1")
    env.pop("DISPLAY", None)
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "kiosk" / "window_run.py"), str(out), str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.exists(), completed.stderr[-3000:]
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["failed"] is None, (seen["failed"], completed.stderr[-3000:])

    assert seen["home_take_ticket_enabled"] is True
    assert seen["home_notice"].startswith("今日下午14:00起二楼公安服务窗口暂停办理")
    assert seen["tiles"][0].startswith("[b]企业开办[/b]") and "等候 12 人" in seen["tiles"][0]

    assert seen["phone_layer_shown"] is True
    assert seen["phone_typed_label"] == "138 0013 8000"
    assert seen["ticket_number_label"] == "A001"
    assert seen["ticket_category_label"] == "企业开办"
    assert seen["print_message_label"].startswith("请取走您的号票")
    printed = bytes.fromhex(seen["printed_bytes"])
    assert b"A001" in printed and "企业开办".encode("gb18030") in printed

    assert seen["offline_take_ticket_enabled"] is False
    assert seen["offline_banner"].startswith("网络暂时中断")

    for name in (
        "window-home.png",
        "window-phone.png",
        "window-ticket.png",
        "window-offline.png",
    ):
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
