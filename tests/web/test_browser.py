"""The main journeys in a real browser (Debian's Chromium, headless), against one
SQLite database and one server for the whole module."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select

from backend.db import Database
from backend.models import Case, Hall, Staff
from backend.services import cases as case_service
from backend.web.testing import CHROMIUM, RunningServer
from tests.conftest import DEFAULT_NOW, FakeClock
from tests.web.helpers import issue, resident_id, sign_in_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture(autouse=True)
def _reset_clock(server_clock: FakeClock) -> None:
    server_clock.now = DEFAULT_NOW


def db_of(server: RunningServer) -> Database:
    database: Database = server.app.extensions["hallkit"].db
    return database


def make_case(server: RunningServer, server_clock: FakeClock, handler: str = "BH0101") -> Case:
    with db_of(server).writing() as session:
        staff = session.execute(select(Staff).where(Staff.employee_no == handler)).scalar_one()
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        return case_service.register_case(
            session,
            hall_id=hall_id,
            matter_code="GS-002",
            applicant=case_service.Applicant(
                kind=case_service.ApplicantKind.PERSON,
                name="王小明",
                id_number=resident_id(serial="777"),
                phone="13700001234",
            ),
            protector=server.app.extensions["hallkit"].protector,
            actor=case_service.Actor(
                label=f"staff:{handler}", staff_id=staff.id, department_id=staff.department_id
            ),
            now=server_clock(),
        )


def test_clerk_calls_serves_registers_and_prints(
    context: BrowserContext, server: RunningServer, server_clock: FakeClock
) -> None:
    page = context.new_page()
    sign_in_page(page, "BH0101", "1")
    expect(page).to_have_url(f"{server.url}/console")
    expect(page.locator("[data-current-ticket]")).to_have_attribute("data-current-ticket", "")
    # A ticket issued at the kiosk appears without a reload (live stream).
    issue(db_of(server), "A", clock=server_clock)
    expect(page.locator('[data-waiting-number="A001"]')).to_be_visible()
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text("A001")
    expect(page.locator('[data-waiting-number="A001"]')).to_have_count(0)
    page.keyboard.press("s")
    expect(page.locator(".current .badge-serving")).to_be_visible()
    page.keyboard.press("g")
    expect(page).to_have_url(f"{server.url}/cases/new?ticket=1")
    page.select_option("select[name=matter]", "GS-001")
    expect(page.locator("#register-form")).to_be_visible()
    page.check("input[name=received][value='0']")
    page.fill("input[name=applicant_name]", "赵六")
    page.fill("input[name=id_number]", resident_id(serial="321"))
    page.fill("input[name=phone]", "13611112222")
    page.locator("input[name=phone]").press("Control+Enter")
    expect(page.locator("[data-case-state]")).to_have_attribute("data-case-state", "accepted")
    receipt = page.locator("[data-receipt]").inner_text()
    with context.expect_page() as printed:
        page.keyboard.press("p")
    slip = printed.value
    expect(slip.locator("h2")).to_have_text("受理通知书")
    expect(slip.locator("[data-receipt]")).to_have_text(receipt)
    expect(slip.locator("figure.qr svg")).to_be_visible()
    expect(slip.locator("ol.materials li")).to_have_count(1)
    # Back at the console, finishing the ticket counts it.
    page.goto("/console")
    page.keyboard.press("f")
    expect(page.locator("[data-served]")).to_have_text("1")


def test_console_never_swaps_in_a_response_older_than_what_it_shows(
    context: BrowserContext, server: RunningServer
) -> None:
    # A refresh started before an action can be answered after it; its content then
    # shows an older event than the action's and must not replace it.
    page = context.new_page()
    sign_in_page(page, "BH0101", "1")
    live = page.locator("#console-live")
    shown = int(live.locator("[data-live-seq]").get_attribute("data-live-seq") or "")
    swap = "([html]) => HallLive.swap(document.getElementById('console-live'), html)"
    page.evaluate(swap, [f'<span hidden data-live-seq="{shown - 1}"></span><p id="older">x</p>'])
    expect(page.locator("#older")).to_have_count(0)
    page.evaluate(swap, [f'<span hidden data-live-seq="{shown + 1}"></span><p id="newer">y</p>'])
    expect(page.locator("#newer")).to_have_count(1)


def test_other_department_case_is_hidden_by_url_and_api(
    context: BrowserContext, server: RunningServer, server_clock: FakeClock
) -> None:
    case = make_case(server, server_clock)
    page = context.new_page()
    sign_in_page(page, "BH0401", "4")  # a 国税 window; the case is 工商's
    response = page.goto(f"/cases/{case.id}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("404")
    api = page.request.get(f"/api/v1/cases/{case.id}")
    assert api.status == 401  # the JSON API takes bearer tokens, never the page cookie


def test_csrf_token_is_required(context: BrowserContext) -> None:
    page = context.new_page()
    sign_in_page(page, "BH0501", "5")
    page.evaluate(
        """() => {
            const form = document.querySelector('form[action$="/console/call-next"]');
            form.querySelector('input[name=csrf_token]').value = 'forged';
            form.submit();  // a plain post, as a forged cross-site form would be
        }"""
    )
    expect(page.locator("h1")).to_have_text("400")
    expect(page.locator(".lead")).to_contain_text("页面已过期或来源不明")


def test_delegation_starts_and_ends(
    context: BrowserContext, chromium: Browser, server: RunningServer, server_clock: FakeClock
) -> None:
    case = make_case(server, server_clock, handler="BH0102")
    delegator = context.new_page()
    sign_in_page(delegator, "BH0102")
    expect(delegator).to_have_url(f"{server.url}/workbench")
    other = chromium.new_context(base_url=server.url)
    delegate = other.new_page()
    sign_in_page(delegate, "BH0601", "6")  # 地税 window
    assert delegate.goto(f"/cases/{case.id}").status == 404

    delegator.click("#delegations summary")
    delegator.fill("input[name=delegate_other]", "BH0601")
    ends = (server_clock() + timedelta(hours=3)).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
    )
    delegator.fill("input[name=ends_at]", ends.strftime("%Y-%m-%dT%H:%M"))
    delegator.fill("input[name=reason]", "外出培训")
    delegator.click("#delegation-form button[type=submit]")
    expect(delegator.locator("[data-delegation] .badge-serving")).to_have_text("生效中")

    assert delegate.goto(f"/cases/{case.id}").status == 200
    delegate.click("button[data-action=undertake]")
    expect(delegate.locator("[data-case-state]")).to_have_attribute(
        "data-case-state", "undertaking"
    )
    delegate.goto("/workbench")
    expect(delegate.locator(f'#delegated-cases [data-case-id="{case.id}"]')).to_be_visible()

    server_clock.advance(hours=3, minutes=1)  # the period is over: nothing has to run
    assert delegate.goto(f"/cases/{case.id}").status == 404
    delegator.reload()
    expect(delegator.locator("[data-delegation]").first).to_contain_text("已到期")
    other.close()


def test_phone_ticket_page_follows_the_queue(
    context: BrowserContext, server: RunningServer, server_clock: FakeClock
) -> None:
    first = issue(db_of(server), "F", clock=server_clock)
    mine = issue(db_of(server), "F", clock=server_clock)
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 800})
    phone.goto(f"/m/t/{mine.public_token}")
    expect(phone.locator("[data-ahead]")).to_have_attribute("data-ahead", "1")
    clerk = context.new_page()
    sign_in_page(clerk, "BH1301", "13")
    clerk.keyboard.press("n")  # calls the first F ticket
    expect(clerk.locator("#current-number")).to_have_text(first.number)
    expect(phone.locator("[data-ahead]")).to_have_attribute("data-ahead", "0")
    clerk.keyboard.press("n")
    expect(phone.locator("[data-called-window]")).to_have_attribute("data-called-window", "13")


def test_clerk_holds_with_h_and_resumes_with_u(
    context: BrowserContext, server: RunningServer, server_clock: FakeClock
) -> None:
    page = context.new_page()
    sign_in_page(page, "BH0101", "1")
    issue(db_of(server), "A", clock=server_clock)
    page.keyboard.press("n")
    current = page.locator("#current-number")
    expect(current).not_to_have_text("—")
    number = current.inner_text()
    page.keyboard.press("h")
    expect(page.locator(f'[data-held-number="{number}"]')).to_be_visible()
    expect(current).to_have_text("—")
    page.keyboard.press("u")
    expect(current).to_have_text(number)
    expect(page.locator(".current .badge-serving")).to_be_visible()
    expect(page.locator("[data-held-number]")).to_have_count(0)
