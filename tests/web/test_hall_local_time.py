"""Pages show the hall's wall-clock time (its `halls.timezone`), never UTC or the
server's zone: a ticket taken at 2026-12-06 21:39Z is 2026-12-07 05:39 in
Asia/Shanghai, a different day. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from backend.db import Database
from backend.models import Case, Hall, QueueCategory
from tests.conftest import Api, FakeClock
from tests.web.helpers import Browser, issue
from tests.web.test_pages import register_case

ADMIN = "BH9101"
# 05:39 on Monday 2026-12-07 in the hall; still Sunday 12-06 in UTC.
EARLY_MORNING = datetime(2026, 12, 6, 21, 39, tzinfo=UTC)


@pytest.fixture
def early(db: Database, clock: FakeClock) -> FakeClock:
    """The hall issues tickets around the clock, and it is 05:39 local time."""
    with db.writing() as session:
        session.execute(
            update(QueueCategory).values(issue_from=time(0, 0), issue_until=time(23, 59))
        )
    clock.now = EARLY_MORNING
    return clock


def _hall_zone(db: Database, zone: str) -> None:
    with db.writing() as session:
        session.execute(update(Hall).where(Hall.code == "BH").values(timezone=zone))


def test_phone_ticket_page_shows_the_local_issue_time(
    browser: Browser, db: Database, early: FakeClock
) -> None:
    ticket = issue(db, "A", clock=early)
    page = browser.get(f"/m/t/{ticket.public_token}").get_data(as_text=True)
    assert "取号时间：2026-12-07 05:39" in page
    assert "21:39" not in page


def test_acceptance_slip_and_case_page_show_the_hall_local_time(
    app: Flask, browser: Browser, db: Database, early: FakeClock
) -> None:
    ticket = issue(db, "A", clock=early)
    assert browser.sign_in("BH0101", "1").status_code == 302
    browser.post("/console/call-next")
    case_id = register_case(browser, ticket_id=str(ticket.id))
    slip = browser.get(f"/cases/{case_id}/slip").get_data(as_text=True)
    assert "打印时间：2026-12-07 05:39" in slip
    assert "2026-12-06" not in slip
    # The slip follows the hall's own zone column, not a zone fixed in the code.
    _hall_zone(db, "Asia/Urumqi")  # UTC+6
    slip = browser.get(f"/cases/{case_id}/slip").get_data(as_text=True)
    assert "打印时间：2026-12-07 03:39" in slip
    # The applicant's phone page (no staff signed in there) follows the same hall.
    with db.reading() as session:
        token = session.get(Case, case_id).public_token  # type: ignore[union-attr]
    progress = app.test_client().get(f"/m/c/{token}").get_data(as_text=True)
    assert "2026-12-07 03:39" in progress and "21:39" not in progress


def _report(api: Api, token: str, device_id: str, body: dict[str, Any]) -> None:
    status, reply = api.call("PUT", f"/api/v1/halls/BH/devices/{device_id}", token, body)
    assert status == 200, reply


def test_device_page_labels_health_and_shows_hall_local_times(
    browser: Browser, api: Api, db: Database, device_token: Any, early: FakeClock
) -> None:
    # A hall further west: the page must follow the hall's column, not a fixed zone.
    _hall_zone(db, "Asia/Urumqi")  # UTC+6
    hub = device_token("hub-bh", "hub")
    _report(
        api,
        hub,
        "kiosk-1",
        {
            "device_type": "kiosk",
            "online": True,
            "last_seen": "2026-12-06T21:39:00Z",
            "app_version": "0.1.0",
            "health": {
                "printer": "paper_out",
                "printer_detail": "打印纸用完，请更换纸卷",
                "printer_at": "2026-12-06T21:38:00+00:00",
            },
        },
    )
    assert browser.sign_in(ADMIN).status_code == 302
    page = browser.get("/admin/devices?hall=BH").get_data(as_text=True)
    row = page[page.index('data-device="kiosk-1"') :].split("</tr>")[0]
    assert "2026-12-07 03:39" in row  # last seen, on the hall's clock
    assert "2026-12-07 03:38" in row  # when the printer reported
    assert "打印机：缺纸" in row and "打印纸用完" in row
    assert "printer_detail" not in row and "printer_at" not in row
    assert "21:3" not in row
    assert "0.1.0" in row
    english = browser.get("/admin/devices?hall=BH&lang=en").get_data(as_text=True)
    row_en = english[english.index('data-device="kiosk-1"') :].split("</tr>")[0]
    assert "Printer：Out of paper" in row_en


def test_a_hub_that_keeps_reporting_is_not_silent(
    browser: Browser, api: Api, db: Database, device_token: Any, early: FakeClock
) -> None:
    hub = device_token("hub-bh", "hub")
    online = {"device_type": "hub", "online": True, "app_version": "0.1.0"}
    _report(api, hub, "hub-bh", {**online, "last_seen": "2026-12-06T21:39:00Z"})
    assert browser.sign_in(ADMIN).status_code == 302
    early.advance(minutes=5)
    page = browser.get("/admin/devices?hall=BH").get_data(as_text=True)
    assert "久未上报" in page  # five minutes without a report
    # The hub's heartbeat (hub.registry.RegistryReporter) re-reports it as seen.
    _report(api, hub, "hub-bh", {**online, "last_seen": "2026-12-06T21:44:00Z"})
    page = browser.get("/admin/devices?hall=BH").get_data(as_text=True)
    assert "久未上报" not in page and "2026-12-07 05:44" in page
