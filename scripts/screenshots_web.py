"""Screenshots of every staff and phone page into docs/screenshots/web-*.png.

Builds a throw-away demo database (migrated + demo hall), puts some life in it
(tickets, a served ticket, cases, a delegation, a booking), starts the app on a
free loopback port and drives Debian's Chromium headless.

    .venv/bin/python scripts/screenshots_web.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.models import Hall, Staff  # noqa: E402
from backend.services import cases as case_service  # noqa: E402
from backend.services import queue as queue_service  # noqa: E402
from backend.web.testing import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    RunningServer,
    running_server,
    seed_database,
)

PASSWORD = "demo-pass-2026"
# Thursday 10:00 in the hall: a working day, inside issuing hours.
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def sign_in(page: Page, employee_no: str, window: str = "") -> None:
    page.goto("/staff/sign-in")
    page.fill("input[name=employee_no]", employee_no)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=window]", window)
    page.click("button[type=submit]")
    page.wait_for_selector(".who-name")


def populate(server: RunningServer) -> dict[str, str]:
    extension = server.app.extensions["hallkit"]
    tokens: dict[str, str] = {}
    with extension.db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        for prefix, priority in [
            ("A", None),
            ("A", "elderly"),
            ("Z", None),
            ("A", None),
            ("A", None),
            ("F", None),
            ("F", None),
        ]:
            view = queue_service.issue_ticket(
                session,
                hall_id=hall_id,
                category_prefix=prefix,
                priority_kind=priority,
                now=NOW,
                actor="device:kiosk-1",
            )
            tokens.setdefault(f"ticket_{prefix}", view.public_token)
        tokens["ticket_F_last"] = view.public_token
        staff = session.execute(select(Staff).where(Staff.employee_no == "BH0102")).scalar_one()
        actor = case_service.Actor("staff:BH0102", staff.id, staff.department_id)
        for name, matter, days_ago in [
            ("孙丽", "GS-002", 0),
            ("周强", "GS-001", 3),
            ("吴敏", "GS-002", 5),
        ]:
            case = case_service.register_case(
                session,
                hall_id=hall_id,
                matter_code=matter,
                applicant=case_service.Applicant(
                    case_service.ApplicantKind.PERSON, name, "21070319850615123X", "13812340000"
                ),
                protector=extension.protector,
                actor=actor,
                now=NOW - timedelta(days=days_ago),
            )
        tokens["case"] = case.public_token
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        url = f"sqlite:///{Path(temp) / 'hall.db'}"
        seed_database(url, PASSWORD)
        now = [NOW]
        with running_server(url, Path(temp) / "var", clock=lambda: now[0]) as server:
            tokens = populate(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                desk = browser.new_context(
                    base_url=server.url, viewport={"width": 1440, "height": 900}
                )
                page = desk.new_page()

                def shot(name: str, full: bool = True) -> None:
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(args.out / f"web-{name}.png"), full_page=full)
                    print("wrote", f"web-{name}.png")

                page.goto("/staff/sign-in")
                page.fill("input[name=employee_no]", "BH0101")
                page.fill("input[name=window]", "1")
                shot("sign-in")
                sign_in(page, "BH0101", "1")
                page.keyboard.press("n")
                page.wait_for_selector('[data-current-ticket="A002"]')
                page.keyboard.press("s")
                page.wait_for_selector(".current .badge-serving")
                shot("console")
                page.keyboard.press("t")
                shot("console-transfer", full=False)
                page.keyboard.press("Escape")
                page.keyboard.press("g")
                page.wait_for_url(re.compile(r".*/cases/new.*"))
                page.select_option("select[name=matter]", "GS-001")
                page.wait_for_selector("#register-form")
                page.check("input[name=received][value='0']")
                page.check("input[name=received][value='1']")
                page.fill("input[name=applicant_name]", "郑佳明")
                page.fill("input[name=id_number]", "21070319850615123X")
                page.fill("input[name=phone]", "13811112222")
                shot("case-new")
                page.locator("input[name=phone]").press("Control+Enter")
                page.wait_for_selector("[data-case-state]")
                shot("case-detail")
                case_url = page.url.split("?")[0]
                page.goto(case_url + "/slip")
                shot("case-slip")
                page.emulate_media(media="print")
                shot("case-slip-print")
                page.emulate_media(media="screen")
                page.goto("/cases")
                shot("cases")
                # A 不予受理 registration and its notice.
                page.goto("/cases/new?matter=GS-002")
                page.fill("input[name=applicant_name]", "钱七")
                page.fill("input[name=id_number]", "21070319850615123X")
                page.fill("input[name=phone]", "13811113333")
                page.click(".danger-zone summary")
                page.fill(
                    "textarea[name=reason]", "申请事项不属于本中心受理范围，请向市场监管部门咨询。"
                )
                page.click("button[value=not_accept]")
                page.wait_for_selector("[data-case-state=not_accepted]")
                page.goto(page.url.split("?")[0] + "/notice")
                shot("case-notice")

                lead = browser.new_context(
                    base_url=server.url, viewport={"width": 1440, "height": 900}
                )
                page = lead.new_page()
                sign_in(page, "BH0102")
                page.click("#delegations summary")
                page.fill("input[name=delegate_other]", "BH0601")
                page.fill("input[name=ends_at]", "2026-11-27T18:00")
                page.fill("input[name=reason]", "外出培训")
                page.click("#delegation-form button[type=submit]")
                page.wait_for_selector("[data-delegation]")
                shot("workbench")

                phone = browser.new_context(
                    base_url=server.url,
                    viewport={"width": 390, "height": 844},
                    device_scale_factor=2,
                    is_mobile=True,
                )
                page = phone.new_page()
                page.goto(f"/m/t/{tokens['ticket_F_last']}")
                shot("phone-ticket")
                page.goto(f"/m/c/{tokens['case']}")
                shot("phone-case")
                page.goto("/m/book?matter=GS-001&day=2026-11-27")
                page.check("input[name=slot][value='09:30']")
                page.fill("input[name=name]", "李四")
                page.fill("input[name=id_number]", "210703199001011236")
                page.fill("input[name=phone]", "13900001111")
                shot("phone-book")
                page.click("#book-form button[type=submit]")
                page.wait_for_selector("[data-appointment-code]")
                shot("phone-booked")
                browser.close()


if __name__ == "__main__":
    main()
