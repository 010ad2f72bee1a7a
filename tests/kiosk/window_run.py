"""Runs the real kiosk app in a window (SDL offscreen) against the fake hub over Mosquitto,
drives one visitor through taking a ticket, and writes what the widgets showed as JSON.

Run by test_window.py in a subprocess so the Kivy window lives in its own process.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from kivy.config import Config  # noqa: E402

import deviceui.bootstrap  # noqa: E402, F401

Config.set("graphics", "width", "1920")
Config.set("graphics", "height", "1080")

from kivy.clock import Clock  # noqa: E402

from kiosk.ui.scenario import ScenarioResult, Step, run_scenario  # noqa: E402
from tests.kiosk.rig import start_rig  # noqa: E402


def main(out_json: Path, screenshot_dir: Path) -> int:
    seen: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        rig = start_rig(Path(directory))
        try:
            app = rig.runtime.build_app()
            vm = rig.runtime.view_model

            def screen(name: str) -> Any:
                return app.manager.get_screen(name)

            def record_home() -> None:
                home = screen("home")
                seen["home_take_ticket_enabled"] = home.ids.take_ticket.enabled
                seen["home_notice"] = home.ids.notice.text

            def more_waiting() -> None:
                rig.hub.waiting["A"] = 12
                rig.hub.publish_state("kiosk-1")  # a real retained MQTT message

            def record_tiles() -> None:
                tiles = screen("ticket").ids.categories.children[::-1]
                seen["tiles"] = [tile.text for tile in tiles]
                vm.act("ticket.category", "A")

            def type_phone() -> None:
                vm.act("ticket.phone.open")
                for digit in "13800138000":
                    vm.act("ticket.phone.key", digit)

            def record_phone() -> None:
                confirm = screen("ticket_confirm")
                seen["phone_layer_shown"] = confirm.ids.phone_layer.shown
                seen["phone_typed_label"] = confirm.ids.phone_typed.text
                vm.act("ticket.phone.accept")

            def record_ticket() -> None:
                done = screen("ticket_done")
                seen["ticket_number_label"] = done.ids.ticket_number.text
                seen["ticket_category_label"] = done.ids.ticket_category.text
                seen["print_message_label"] = done.ids.print_message.text
                seen["printed_bytes"] = rig.printed().hex()
                rig.hub.publish_status(False)

            def record_offline() -> None:
                home = screen("home")
                seen["offline_take_ticket_enabled"] = home.ids.take_ticket.enabled
                banners = [w.text for w in home.walk() if type(w).__name__ == "Banner"]
                seen["offline_banner"] = banners[0] if banners else ""

            ready = lambda s: s["screen"] == "home" and not s["offline"] and bool(s["notice_text"])  # noqa: E731
            steps = [
                Step("home", lambda: None, ready, screenshot_dir / "window-home.png"),
                Step("record-home", record_home, lambda s: True),
                Step(
                    "state-push",
                    more_waiting,
                    lambda s: "等候 12 人" in str(s["ticket_category_rows"]),
                ),
                Step("ticket", lambda: vm.act("ticket.open"), lambda s: s["screen"] == "ticket"),
                Step("tiles", record_tiles, lambda s: s["screen"] == "ticket_confirm"),
                Step(
                    "phone-keypad",
                    type_phone,
                    lambda s: s["phone_typed"] == "138 0013 8000",
                    screenshot_dir / "window-phone.png",
                ),
                Step("record-phone", record_phone, lambda s: s["phone_masked"] == "138****8000"),
                Step(
                    "phone-set",
                    lambda: None,
                    lambda s: s["phone_masked"] == "138****8000",
                    screenshot_dir / "window-phone-set.png",
                ),
                Step(
                    "confirm",
                    lambda: vm.act("ticket.confirm"),
                    lambda s: (
                        s["screen"] == "ticket_done"
                        and bool(s["ticket_print_message"])
                        and "正在打印" not in s["ticket_print_message"]
                    ),
                    screenshot_dir / "window-ticket.png",
                ),
                Step("record-ticket", record_ticket, lambda s: s["offline"]),
                Step(
                    "offline",
                    lambda: vm.act("home"),
                    lambda s: s["screen"] == "home" and s["offline"],
                    screenshot_dir / "window-offline.png",
                ),
                Step("record-offline", record_offline, lambda s: True),
            ]
            result = ScenarioResult()
            Clock.schedule_once(lambda _dt: run_scenario(app, steps, result), 0.3)
            app.run()
        finally:
            rig.close()
    seen["completed"] = result.completed
    seen["failed"] = result.failed
    seen["screenshots"] = [str(p) for p in result.screenshots]
    out_json.write_text(json.dumps(seen, ensure_ascii=False), encoding="utf-8")
    return 0 if result.failed is None else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
