"""Screenshots of the hub's window console into docs/screenshots/hub-console-*.png.

Runs the real HubConsoleServer on a free loopback port against the test suite's
in-memory desk (tests/hub/console_desk.py) and drives Debian's Chromium headless
through the same steps as the browser test: sign-in page, a call by keyboard while
offline, the replaying banner, then the banner shown as the hall goes back online
(the backend console it then goes to is answered in the browser).

    .venv/bin/python scripts/screenshots_hub_console.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from backend.web.testing import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from hub.console import HubConsoleServer  # noqa: E402
from tests.hub.console_desk import FAST_HASHER, MemoryDesk  # noqa: E402
from tests.hub.test_console import answer_backend_console, run_screens  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    desk = MemoryDesk()
    desk.add_clerk("BH0101", "张三", ("1", "2"))
    desk.waiting = ["A001", "A002", "A003", "B001", "A004", "C001", "A005"]
    server = HubConsoleServer(
        desk, host="127.0.0.1", port=0, secret_key="screens", poll_ms=200, hasher=FAST_HASHER
    )
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(
                base_url=f"http://127.0.0.1:{server.port}",
                locale="zh-CN",
                viewport={"width": 1280, "height": 800},
            )
            context.set_default_timeout(10_000)
            answer_backend_console(context)
            run_screens(context.new_page(), desk, args.out)
            browser.close()
    finally:
        server.stop()
    for name in ("signin", "offline", "replaying", "online-redirect"):
        print(args.out / f"hub-console-{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
