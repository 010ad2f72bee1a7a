"""What the console page tells hub_redirect.js (issue 15), through the Flask test client
on SQLite and PostgreSQL: the hub console's address and where to ask its mode, whether
the hub's report of replaying is recent enough to go at once, and that an address that
is not http(s) is never followed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.models import Hall
from tests.conftest import DEFAULT_NOW
from tests.web.helpers import FRAGMENT, Browser


def set_hall(db: Database, **values: Any) -> None:
    with db.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        for name, value in values.items():
            setattr(hall, name, value)


def redirect_data(browser: Browser) -> dict[str, str]:
    page = browser.get("/console").get_data(as_text=True)
    found = re.search(r'<div hidden id="hub-redirect"(.*?)></div>', page, re.S)
    assert found, "no #hub-redirect on the console"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(1)))


@pytest.mark.parametrize(
    ("reported", "console", "mode_url"),
    [
        (
            "http://10.20.0.5:8090/console",
            "http://10.20.0.5:8090/console",
            "http://10.20.0.5:8090/console/mode",
        ),
        (
            "http://10.20.0.5:8090/console/",
            "http://10.20.0.5:8090/console/",
            "http://10.20.0.5:8090/console/mode",
        ),
        ("", "", ""),
        ("javascript:alert(1)", "", ""),
    ],
)
def test_the_console_knows_its_hub_console(
    browser: Browser, db: Database, reported: str, console: str, mode_url: str
) -> None:
    set_hall(db, hub_console_url=reported)
    assert browser.sign_in("BH0101", "1").status_code == 302
    data = redirect_data(browser)
    assert data["hub-console"] == console
    assert data["hub-mode-url"] == mode_url
    assert data["hub-replaying"] == ""
    assert data["backend-probe"] == "/healthz"


def test_a_recent_replaying_report_sends_the_page_at_once_an_old_one_does_not(
    browser: Browser, db: Database
) -> None:
    set_hall(
        db,
        hub_console_url="http://10.20.0.5:8090/console",
        hub_mode="replaying",
        hub_mode_at=DEFAULT_NOW - timedelta(minutes=9),
    )
    assert browser.sign_in("BH0101", "1").status_code == 302
    assert redirect_data(browser)["hub-replaying"] == "yes"
    # A hub that said "replaying" 11 minutes ago and nothing since is not trusted: the
    # window actions' lock has lapsed too, and the page asks the hub itself.
    set_hall(db, hub_mode_at=DEFAULT_NOW - timedelta(minutes=11))
    assert redirect_data(browser)["hub-replaying"] == ""


def test_a_refusal_while_the_hub_replays_is_marked_for_the_script(
    browser: Browser, db: Database
) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    set_hall(db, hub_mode="replaying", hub_mode_at=DEFAULT_NOW)
    response = browser.post("/console/call-next", headers=FRAGMENT)
    assert response.status_code == 409
    assert response.headers["X-Hallkit-Error"] == "hall_replaying"
    assert "大厅正在补录离线期间的叫号" in response.get_data(as_text=True)
    # An ordinary answer carries no such mark.
    set_hall(db, hub_mode="online")
    answer = browser.post("/console/call-next", headers=FRAGMENT)
    assert answer.status_code == 200 and "X-Hallkit-Error" not in answer.headers
