"""到号提醒 on a ticket's phone page, in a real browser (Debian's Chromium): the
banner appears when the queue reaches the category's N, once, and the browser
notification is raised once per ticket, not again on later updates or a reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from backend.db import Database
from backend.web.testing import CHROMIUM, RunningServer
from tests.conftest import DEFAULT_NOW, FakeClock
from tests.web.helpers import issue, sign_in_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")

# Stands in for the browser's Notification API (headless Chromium shows none) and
# counts what the page raises; the permission is "granted" as after the visitor allowed it.
COUNT_NOTIFICATIONS = """
window.__notified = [];
window.Notification = class {
  constructor(title, options) { window.__notified.push([title, options && options.body]); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


@pytest.fixture(autouse=True)
def _reset_clock(server_clock: FakeClock) -> None:
    server_clock.now = DEFAULT_NOW


def test_the_turn_is_near_banner_appears_once(
    context: BrowserContext, server: RunningServer, server_clock: FakeClock
) -> None:
    database: Database = server.app.extensions["hallkit"].db
    ahead_of_me = [issue(database, "F", clock=server_clock) for _ in range(4)]
    mine = issue(database, "F", clock=server_clock)  # 4 ahead; N is 3 for F
    context.add_init_script(COUNT_NOTIFICATIONS)
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 800})
    phone.goto(f"/m/t/{mine.public_token}")
    expect(phone.locator("[data-ahead]")).to_have_attribute("data-ahead", "4")
    expect(phone.locator("[data-turn-near]")).to_have_count(0)
    # The SMS gateway is not configured here: no form offers a text message.
    expect(phone.locator("form[action$='/sms']")).to_have_count(0)

    clerk = context.new_page()
    sign_in_page(clerk, "BH1301", "13")
    current = clerk.locator("[data-current-ticket]")

    def call_next(expected: str) -> None:
        # The next press only once the console shows this call: a key pressed while
        # the panel is still being replaced is not a second call.
        clerk.keyboard.press("n")
        expect(current).to_have_attribute("data-current-ticket", expected)

    call_next(ahead_of_me[0].number)
    expect(phone.locator("[data-ahead]")).to_have_attribute("data-ahead", "3")
    banner = phone.locator("[data-turn-near]")
    expect(banner).to_have_count(1)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("快到您了")
    assert phone.evaluate("window.__notified.length") == 1
    assert phone.evaluate("window.__notified[0][0]") == "快到您了"

    call_next(ahead_of_me[1].number)
    expect(phone.locator("[data-ahead]")).to_have_attribute("data-ahead", "2")
    expect(phone.locator("[data-turn-near]")).to_have_count(1)  # one banner, not another
    assert phone.evaluate("window.__notified.length") == 1  # and no second notification

    phone.reload()
    expect(phone.locator("[data-turn-near]")).to_have_count(1)
    assert phone.evaluate("window.__notified.length") == 0  # told once per ticket

    for ahead, ticket in (("1", ahead_of_me[2]), ("0", ahead_of_me[3])):
        call_next(ticket.number)
        expect(phone.locator("[data-ahead]")).to_have_attribute("data-ahead", ahead)
    call_next(mine.number)  # my turn: the banner gives way to the call
    expect(phone.locator("[data-called-window]")).to_have_attribute("data-called-window", "13")
    expect(phone.locator("[data-turn-near]")).to_have_count(0)
