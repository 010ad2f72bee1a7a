"""The administrator's device page and the hall hub's offline work (issue 15), through
the Flask test client on SQLite and PostgreSQL: the hub's reported mode, its last
report in hall time, what it still has to replay, its console's address, and the
offline acts the centre could not apply (conflicts), newest first and never dropped."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import select

from backend.db import Database
from backend.models import Hall, OfflineAction
from tests.conftest import DEFAULT_NOW, FakeClock
from tests.web.helpers import Browser

ADMIN = "BH9101"


def page_of(browser: Browser, lang: str = "") -> str:
    response = browser.get("/admin/devices?hall=BH" + (f"&lang={lang}" if lang else ""))
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def section(page: str) -> str:
    found = re.search(r'<section class="card" id="hub-mode".*?</section>', page, re.S)
    assert found, "no hub section on the device page"
    return found.group(0)


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def add_action(db: Database, action_id: str, **values: object) -> None:
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        fields = {
            "window_number": "1",
            "action": "call",
            "ticket_display": "A013",
            "employee_no": "BH0101",
            "at": DEFAULT_NOW,
            "received_at": DEFAULT_NOW,
            "offline": True,
            "outcome": "applied",
            "detail": "",
            "reply": {},
        }
        fields.update(values)
        session.add(OfflineAction(hall_id=hall_id, action_id=action_id, **fields))


def test_a_hub_that_never_reported_is_shown_as_such(browser: Browser) -> None:
    assert browser.sign_in(ADMIN).status_code == 302
    hub = section(page_of(browser))
    assert 'data-hub-mode=""' in hub
    assert "未上报" in plain(hub)
    assert re.search(r"data-conflict-total>\s*0\s*<", hub)
    assert "没有冲突" in plain(hub)
    assert re.search(r"data-applied-today>\s*0\s*<", hub)


def test_the_hubs_mode_and_the_conflicts_of_its_offline_work(
    browser: Browser, db: Database, clock: FakeClock
) -> None:
    with db.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        hall.hub_mode = "replaying"
        hall.hub_mode_at = DEFAULT_NOW - timedelta(seconds=30)
        hall.hub_pending = 7
        hall.hub_console_url = "http://10.20.0.5:8090/console"
    # Two conflicts (the newer one first on the page), acts applied today and yesterday,
    # and an online (relayed) act: only offline acts of today are counted as replayed.
    add_action(
        db,
        "c-old",
        action="finish",
        ticket_display="A010",
        window_number="2",
        at=DEFAULT_NOW - timedelta(minutes=50),
        outcome="conflict",
        detail="A010 由中心于 09:05 办结 / finished at the centre at 09:05",
    )
    add_action(
        db,
        "c-new",
        action="call",
        ticket_display="B004",
        window_number="3",
        at=DEFAULT_NOW - timedelta(minutes=5),
        outcome="conflict",
        detail="B004 已在中心取消 / cancelled at the centre",
    )
    add_action(db, "a-1", at=DEFAULT_NOW - timedelta(minutes=20))
    add_action(db, "a-2", at=DEFAULT_NOW - timedelta(minutes=10), action="finish")
    add_action(db, "a-yesterday", at=DEFAULT_NOW - timedelta(days=1))
    add_action(db, "a-online", at=DEFAULT_NOW - timedelta(minutes=1), offline=False)
    assert browser.sign_in(ADMIN).status_code == 302

    hub = section(page_of(browser))
    text = plain(hub)
    assert 'data-hub-mode="replaying"' in hub
    assert "补录中" in text and "久未上报" not in text
    # 01:59:30 UTC is 09:59 in Asia/Shanghai: the hall's clock, not UTC.
    assert re.search(r"data-hub-reported-at>\s*2026-11-26 09:59\s*<", hub)
    assert re.search(r"data-hub-pending>\s*7\s*<", hub)
    assert re.search(r"data-applied-today>\s*2\s*<", hub)
    assert 'href="http://10.20.0.5:8090/console"' in hub
    assert re.search(r"data-conflict-total>\s*2\s*<", hub)
    rows = re.findall(r'data-conflict-ticket="([^"]*)" data-conflict-action="([^"]*)"', hub)
    assert rows == [("B004", "call"), ("A010", "finish")]
    assert "2026-11-26 09:55:00" in text and "2026-11-26 09:10:00" in text
    assert "B004 已在中心取消" in text and "办结" in text
    # Window and ticket, not the clerk: the conflict list names nobody.
    assert "BH0101" not in hub

    english = plain(section(page_of(browser, "en")))
    assert "Conflicts from offline work" in english
    assert "Replaying: the hall hub is replaying the calls made offline" in english
    assert "Call next" in english and "Finish" in english


def test_a_hub_that_stopped_reporting_is_flagged(
    browser: Browser, db: Database, clock: FakeClock
) -> None:
    with db.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        hall.hub_mode = "online"
        hall.hub_mode_at = DEFAULT_NOW - timedelta(minutes=10)
    assert browser.sign_in(ADMIN).status_code == 302
    text = plain(section(page_of(browser)))
    assert "在线：中心决定叫号" in text and "久未上报" in text
