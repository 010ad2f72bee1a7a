"""Screenshot of the backend window console going to the hall hub's console, into
docs/screenshots/web-console-to-hub.png.

The same step as tests/web/test_console_hub_redirect.py (going_to_the_hub): a demo
backend on a free loopback port, its hall's hub console played by that test's FakeHub
(GET /console and /console/mode, from the clerk's browser), a clerk signed in at
window 1 with a ticket called; the hub then says offline and the page shows its
banner for 1.5 s before it goes to the hub console. Debian's Chromium, headless.

    .venv/bin/python scripts/screenshots_web_console_hub.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from backend.web.testing import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    running_server,
    seed_database,
    sign_in_page,
)
from tests.conftest import DEFAULT_NOW, DEMO_PASSWORD, FakeClock  # noqa: E402
from tests.web.helpers import issue  # noqa: E402
from tests.web.test_console_hub_redirect import (  # noqa: E402
    FAST_POLL,
    FakeHub,
    going_to_the_hub,
    set_hall,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    shot = args.out / "web-console-to-hub.png"
    hub = FakeHub()
    hub.thread.start()
    clock = FakeClock(DEFAULT_NOW)
    # The server's workers may still be closing their database files as it stops.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as temp:
        url = f"sqlite:///{Path(temp) / 'hall.db'}"
        seed_database(url, DEMO_PASSWORD)
        try:
            with running_server(url, Path(temp) / "var", clock=clock) as backend:
                set_hall(backend, hub_console_url=hub.console_url, hub_mode="online")
                database = backend.app.extensions["hallkit"].db
                for prefix in ("A", "A", "A", "B"):
                    issue(database, prefix, clock=clock)
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM, args=CHROMIUM_ARGS
                    )
                    context = browser.new_context(
                        base_url=backend.url,
                        locale="zh-CN",
                        viewport={"width": 1440, "height": 900},
                    )
                    context.set_default_timeout(10_000)
                    context.add_init_script(FAST_POLL)
                    page = context.new_page()
                    sign_in_page(page, "BH0101", DEMO_PASSWORD, "1")
                    page.keyboard.press("n")
                    expect(page.locator('[data-current-ticket="A001"]')).to_be_visible()
                    hub.wait_asked(2)  # the hub says online: the page stays
                    going_to_the_hub(page, backend, hub, shot)
                    browser.close()
        finally:
            hub.server.shutdown()
            hub.server.server_close()
    print(shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
