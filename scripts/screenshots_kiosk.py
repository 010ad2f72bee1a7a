"""Render every kiosk screen with the real app (offscreen) and write docs/screenshots/kiosk-*.png.

    .venv/bin/python scripts/screenshots_kiosk.py [--out docs/screenshots]

The kiosk runtime runs as in production (MQTT client, gateway, printing service on a Dummy
printer) against the test suite's fake hub on a private Mosquitto (127.0.0.1, free port).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kivy.config import Config  # noqa: E402

import deviceui.bootstrap  # noqa: E402, F401  (environment and font before kivy)

Config.set("graphics", "width", "1920")
Config.set("graphics", "height", "1080")

from kiosk.ui.scenario import ScenarioResult, Step, run_scenario  # noqa: E402
from tests.kiosk.conftest import RecordingDummy  # noqa: E402
from tests.kiosk.fakehub import (  # noqa: E402
    PHONE_LAST4,
    RECEIPT_FINISHED,
    RECEIPT_IN_PROGRESS,
    RECEIPT_SUPPLEMENT,
)
from tests.kiosk.rig import LiveRig, start_rig  # noqa: E402

State = dict[str, Any]


def on(screen: str, extra: Callable[[State], bool] = lambda _s: True) -> Callable[[State], bool]:
    return lambda s: s.get("screen") == screen and not s.get("busy") and extra(s)


def kiosk_steps(rig: LiveRig, out: Path) -> list[Step]:
    vm = rig.runtime.view_model
    hub = rig.hub

    def act(*args: Any) -> Callable[[], None]:
        return lambda: vm.act(*args)

    def many(*calls: tuple[Any, ...]) -> Callable[[], None]:
        return lambda: [vm.act(*call) for call in calls] and None

    def typed(action: str, text: str) -> list[tuple[Any, ...]]:
        return [(action, char) for char in text]

    def shot(name: str) -> Path:
        return out / f"kiosk-{name}.png"

    def printer_fails(value: bool) -> Callable[[], None]:
        def apply() -> None:
            RecordingDummy.failing = value

        return apply

    def then(*actions: Callable[[], None]) -> Callable[[], None]:
        return lambda: [a() for a in actions] and None

    ready = on("home", lambda s: bool(s.get("notice_text")) and not s.get("offline"))
    return [
        Step("home", act("home"), ready, shot("home")),
        Step(
            "home-en",
            act("toggle_language"),
            on("home", lambda s: s["lang"] == "en"),
            shot("home-en"),
        ),
        Step(
            "ticket",
            many(("toggle_language",), ("ticket.open",)),
            on("ticket", lambda s: bool(s["ticket_category_rows"]) and s["lang"] == "zh"),
            shot("ticket-departments"),
        ),
        Step(
            "priority",
            act("ticket.toggle_priority"),
            on("ticket", lambda s: s["ticket_priority_on"]),
            shot("ticket-priority"),
        ),
        Step(
            "search",
            many(
                ("ticket.toggle_priority",), ("ticket.mode", "matter"), *typed("ticket.key", "yyzz")
            ),
            on(
                "ticket",
                lambda s: s["ticket_search_query"] == "yyzz" and bool(s["ticket_search_rows"]),
            ),
            shot("ticket-search"),
        ),
        Step("confirm", act("ticket.category", "A"), on("ticket_confirm"), None),
        Step(
            "confirm-category",
            many(("ticket.back",), ("ticket.mode", "department"), ("ticket.category", "A")),
            on("ticket_confirm"),
            shot("ticket-confirm"),
        ),
        Step(
            "ticket-done",
            act("ticket.confirm"),
            on(
                "ticket_done",
                lambda s: (
                    bool(s["ticket_print_message"]) and "正在打印" not in s["ticket_print_message"]
                ),
            ),
            shot("ticket-done"),
        ),
        Step(
            "ticket-printer-fault",
            then(
                printer_fails(True),
                act("ticket.open"),
                act("ticket.category", "B"),
                act("ticket.confirm"),
            ),
            on("ticket_done", lambda s: bool(s["ticket_print_failed"])),
            shot("ticket-printer-fault"),
        ),
        Step(
            "appointment",
            then(
                printer_fails(False),
                act("ticket.open"),
                act("ticket.appointment"),
                *[act("appointment.key", c) for c in "YY2026"],
            ),
            on("appointment", lambda s: s["appointment_code"] == "YY2026"),
            shot("appointment"),
        ),
        Step(
            "guide",
            act("guide.open"),
            on("guide", lambda s: bool(s["guide_rows"])),
            shot("guide-departments"),
        ),
        Step(
            "guide-life",
            act("guide.mode", "life_event"),
            on("guide", lambda s: s["guide_mode"] == "life_event" and bool(s["guide_rows"])),
            shot("guide-life-events"),
        ),
        Step(
            "guide-search",
            many(("guide.mode", "search"), *typed("guide.key", "shipin")),
            on("guide", lambda s: s["guide_query"] == "shipin" and bool(s["guide_rows"])),
            shot("guide-search"),
        ),
        Step(
            "matter",
            act("guide.matter", "GS-001"),
            on("matter", lambda s: bool(s["matter_sections"])),
            shot("matter-detail"),
        ),
        Step(
            "matter-print",
            act("matter.print"),
            on(
                "matter",
                lambda s: (
                    bool(s["matter_print_message"]) and "正在打印" not in s["matter_print_message"]
                ),
            ),
            shot("matter-printed"),
        ),
        Step(
            "case",
            many(
                ("case.open",),
                *[("case.key", d) for d in RECEIPT_IN_PROGRESS[:17]],
                *[("case.key", d) for d in "56"],
            ),
            on("case", lambda s: len(s["case_phone"]) == 2),
            shot("case-entry"),
        ),
        Step(
            "case-result",
            many(*[("case.key", d) for d in PHONE_LAST4[2:]], ("case.submit",)),
            on("case_result"),
            shot("case-result"),
        ),
        Step(
            "case-supplement",
            many(
                ("case.open",),
                *[("case.key", d) for d in RECEIPT_SUPPLEMENT],
                *[("case.key", d) for d in PHONE_LAST4],
                ("case.submit",),
            ),
            on("case_result", lambda s: "补" in s["case_status"]),
            shot("case-supplement"),
        ),
        Step(
            "case-not-found",
            many(
                ("case.open",),
                *[("case.key", d) for d in RECEIPT_FINISHED],
                *[("case.key", d) for d in "0000"],
                ("case.submit",),
            ),
            on("case", lambda s: bool(s["alert"])),
            shot("case-not-found"),
        ),
        Step(
            "rating",
            many(
                ("dismiss_alert",),
                ("rating.open",),
                *[("rating.key", d) for d in RECEIPT_FINISHED],
                *[("rating.key", d) for d in PHONE_LAST4],
                ("rating.find",),
            ),
            on("rating", lambda s: s["rating_step"] == "level"),
            shot("rating-levels"),
        ),
        Step(
            "rating-reasons",
            many(
                ("rating.level", "2"),
                ("rating.reason", "办事效率低"),
                ("rating.reason", "多次跑动"),
            ),
            on("rating", lambda s: s["rating_step"] == "reasons"),
            shot("rating-reasons"),
        ),
        Step("rating-done", act("rating.submit"), on("rating_done"), shot("rating-done")),
        Step(
            "offline",
            then(lambda: hub.publish_status(False), act("home")),
            on("home", lambda s: s["offline"]),
            shot("offline-home"),
        ),
        Step(
            "offline-guide",
            many(("guide.open",), ("guide.mode", "search"), *typed("guide.key", "qy")),
            on("guide", lambda s: s["guide_query"] == "qy" and bool(s["guide_rows"])),
            shot("offline-guide"),
        ),
        Step(
            "recovered",
            then(lambda: hub.publish_status(True), act("home")),
            on("home", lambda s: not s["offline"]),
            None,
        ),
        Step(
            "degraded",
            then(lambda: setattr(hub, "degraded", True), lambda: hub.publish_state("kiosk-1")),
            on("home", lambda s: s["banner_kind"] == "degraded"),
            shot("degraded-home"),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        rig = start_rig(Path(directory))
        try:
            app = rig.runtime.build_app()
            result = ScenarioResult()
            steps = kiosk_steps(rig, args.out)
            from kivy.clock import Clock

            Clock.schedule_once(lambda _dt: run_scenario(app, steps, result), 0.5)
            app.run()
        finally:
            RecordingDummy.failing = False
            rig.close()
    for path in result.screenshots:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    if result.failed:
        print("FAILED:", result.failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
