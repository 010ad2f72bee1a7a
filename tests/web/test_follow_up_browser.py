"""Issue 14 items 13 and 16 in a real browser (Debian's Chromium, headless):
the administrator pastes the 2027 holiday notice, previews and saves it; a
department lead takes a 差评 through callback, rectification and follow-up;
the rated clerk appeals another one and a supervisor upholds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import select

from backend.db import Database
from backend.models import (
    AppealState,
    CalendarYear,
    Rating,
    RatingAppeal,
    Rectification,
    RectificationState,
    Role,
    Staff,
)
from backend.web.testing import CHROMIUM, RunningServer
from tests.backend.test_ratings_api import rate, serve
from tests.conftest import Api, clerk_for_window, issue_test_device_token
from tests.web.helpers import sign_in_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")

ADMIN = "BH9101"
SUPERVISOR = "BH9003"
NOTICE = "一、元旦：1月1日（周五）至3日（周日）放假，共3天。\n二、春节：2月20日（周六）上班。"


def _bad_rating(server: RunningServer, rating_uid: str) -> dict[str, Any]:
    db: Database = server.app.extensions["hallkit"].db
    api = Api(server.app.test_client())
    kiosk = issue_test_device_token(db, "kiosk-1", "kiosk")
    evaluator = issue_test_device_token(db, "eval-1", "evaluator")
    ticket, _clerk = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket["id"], 2, rating_uid, reasons=["等候时间长"])
    assert status == 201, body
    with db.reading() as session:
        rating = session.execute(select(Rating).where(Rating.rating_uid == rating_uid)).scalar_one()
        item = session.execute(
            select(Rectification).where(Rectification.rating_id == rating.id)
        ).scalar_one()
        members = session.execute(select(Staff).where(Staff.department_id == item.department_id))
        lead = next(s for s in members.scalars() if s.has_role(Role.DEPARTMENT_LEAD))
        return {"rating": rating.id, "item": item.id, "lead": lead.employee_no}


def test_the_administrator_pastes_the_notice_previews_and_saves(
    context: BrowserContext, server: RunningServer
) -> None:
    db: Database = server.app.extensions["hallkit"].db
    page = context.new_page()
    sign_in_page(page, ADMIN)
    page.goto("/admin/calendar?year=2027")
    expect(page.locator("[data-provisional]")).to_be_visible()
    form = page.locator("[data-import-form]")
    form.locator("textarea[name=content]").fill(NOTICE)
    form.locator("input[name=confirm]").check()
    form.locator("[data-preview-button]").click()
    expect(page.locator('[data-preview-day="2027-01-01"][data-working="0"]')).to_be_visible()
    expect(page.locator('[data-preview-day="2027-02-20"][data-working="1"]')).to_be_visible()
    page.locator("[data-save-button]").click()
    expect(page.locator("[data-confirmed]")).to_be_visible()
    expect(page.locator("[data-provisional]")).to_have_count(0)
    expect(page.locator('td[data-day="2027-01-01"]')).to_have_attribute("data-kind", "holiday")
    with db.reading() as session:
        year = session.get(CalendarYear, 2027)
        assert year is not None and year.confirmed


def test_the_lead_follows_up_and_the_clerk_appeals_and_the_supervisor_decides(
    context: BrowserContext, server: RunningServer
) -> None:
    db: Database = server.app.extensions["hallkit"].db
    first = _bad_rating(server, "browser-bad-1")
    page = context.new_page()
    sign_in_page(page, first["lead"])
    page.goto("/workbench")
    page.locator(f'#rectifications tr[data-rectification="{first["item"]}"] a').click()
    page.locator('[data-form="callback"] textarea').fill("电话回访，申请人反映排队久")
    page.locator('[data-form="callback"] button').click()
    expect(page.locator(".flash-success")).to_contain_text("已记录回访")
    page.locator('[data-form="rectified"] textarea').fill("高峰时段增开窗口")
    page.locator('[data-form="rectified"] button').click()
    page.locator('[data-form="follow-up"] input[value="4"]').check()
    page.locator('[data-form="follow-up"] button').click()
    expect(page.locator('.page-head [data-state="closed"]')).to_be_visible()
    with db.reading() as session:
        item = session.get(Rectification, first["item"])
        assert item is not None and item.state is RectificationState.CLOSED
    context.clear_cookies()

    second = _bad_rating(server, "browser-bad-2")
    clerk = context.new_page()
    sign_in_page(clerk, clerk_for_window(db, "1"))
    clerk.goto("/ratings/mine")
    card = clerk.locator(f'[data-my-rating="{second["rating"]}"]')
    card.locator("textarea[name=reason]").fill("办事人误触评价器，监控可查")
    card.locator("button[type=submit]").click()
    expect(
        clerk.locator(f'[data-my-rating="{second["rating"]}"] [data-appeal-state="pending"]')
    ).to_be_visible()
    context.clear_cookies()

    supervisor = context.new_page()
    sign_in_page(supervisor, SUPERVISOR)
    supervisor.goto("/workbench")
    supervisor.locator("#appeals h2 a").click()
    pending = supervisor.locator("[data-pending-appeal]").first
    pending.locator('input[value="upheld"]').check()
    pending.locator("textarea[name=reason]").fill("调阅监控，确属误触")
    pending.locator("button[type=submit]").click()
    expect(supervisor.locator(".flash-success")).to_contain_text("申诉成立")
    expect(supervisor.locator('[data-decided-appeal][data-state="upheld"]')).to_have_count(1)
    with db.reading() as session:
        rating = session.get(Rating, second["rating"])
        appeal = session.execute(select(RatingAppeal)).scalar_one()
        assert rating is not None and rating.voided
        assert appeal.state is AppealState.UPHELD and appeal.decision_reason == "调阅监控，确属误触"
