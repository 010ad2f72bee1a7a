"""电子监察 in a real browser (Debian's Chromium, headless): a supervisor watches
an overdue case turn yellow, then red, on the alert board without reloading it,
and acknowledges the red card.

Time: the scans run with the hall's date moved to each step (8 Oct, then 12 Oct
2026); the app's own clock stays where the supervisor signed in, because a staff
session lasts hours and the steps are working days apart -- moving the app's
clock that far would sign the supervisor out, which is not what is tested."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from backend.db import Database
from backend.models.supervision import Alert
from backend.services import supervision as sv
from backend.web.testing import CHROMIUM, RunningServer
from tests.web.helpers import sign_in_page
from tests.web.test_supervision_pages import SUPERVISOR, at, register

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


def test_supervisor_sees_an_overdue_case_turn_yellow_then_red(
    context: BrowserContext, server: RunningServer
) -> None:
    db: Database = server.app.extensions["hallkit"].db
    case_id = register(db, at(date(2026, 9, 22)))  # due Wed 30 Sep 2026
    page = context.new_page()
    sign_in_page(page, SUPERVISOR)
    page.goto("/supervision/alerts")
    board = page.locator("#alert-board")
    case_rows = board.locator(f'tr[data-case="{case_id}"]')
    expect(case_rows).to_have_count(0)
    expect(page.locator("#alert-badge [data-alert-count]")).to_have_count(0)

    with db.writing() as session:  # Thu 8 Oct: one working day past the due date
        sv.scan(session, at(date(2026, 10, 8)))
    yellow = case_rows.filter(has=page.locator('[data-kind="黄牌"]'))
    expect(yellow).to_have_count(1)  # arrived without a reload
    expect(yellow.locator(".sv-kind")).to_have_css("background-color", "rgb(255, 224, 58)")
    expect(page.locator("#alert-badge [data-alert-count]")).to_have_attribute(
        "data-alert-count", "1"
    )

    with db.writing() as session:  # Mon 12 Oct: the card's two working days are over
        sv.scan(session, at(date(2026, 10, 12)))
    red = case_rows.filter(has=page.locator('[data-kind="红牌"]'))
    expect(red).to_have_count(1)
    expect(red.locator(".sv-kind")).to_have_css("background-color", "rgb(211, 47, 47)")
    expect(case_rows.first).to_have_attribute("data-alert-kind", "红牌")  # the worst on top
    expect(page.locator("#alert-badge [data-alert-count]")).to_have_attribute(
        "data-alert-count", "2"
    )

    # Acknowledging is the supervisor's one action.
    red.locator(".sv-ack summary").click()
    red.locator("textarea[name=note]").fill("已约谈承办人，今日办结")
    red.locator("button[type=submit]").click()
    acknowledged = board.locator(f'tr[data-case="{case_id}"][data-alert-state="acknowledged"]')
    expect(acknowledged).to_have_attribute("data-alert-kind", "红牌")
    expect(acknowledged).to_contain_text("已约谈承办人，今日办结")
    expect(page.locator("#alert-badge [data-alert-count]")).to_have_attribute(
        "data-alert-count", "1"
    )
    with db.reading() as session:
        stored = session.query(Alert).filter(Alert.kind == "红牌").one()
        assert stored.acknowledge_note == "已约谈承办人，今日办结"
