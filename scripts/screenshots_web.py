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
from typing import Any
from zoneinfo import ZoneInfo

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
    sign_in_page,
)

PASSWORD = "demo-pass-2026"
# Thursday 10:00 in the hall: a working day, inside issuing hours.
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def sign_in(page: Page, employee_no: str, window: str = "") -> None:
    sign_in_page(page, employee_no, PASSWORD, window)


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


def admin_screenshots(browser: Any, server: RunningServer, out: Path) -> None:
    """系统管理 pages as an administrator: web-admin-*.png."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()

    def shot(name: str, full: bool = True) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"web-admin-{name}.png"), full_page=full)
        print("wrote", f"web-admin-{name}.png")

    from datetime import date, time

    from backend.models import Appointment, Device, QueueCategory

    with server.app.extensions["hallkit"].db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        category = session.execute(
            select(QueueCategory.id).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == "A"
            )
        ).scalar_one()
        session.add(
            Appointment(
                hall_id=hall_id,
                category_id=category,
                day=date(2026, 11, 27),
                slot_start=time(10, 0),
                slot_end=time(10, 30),
                code="K7M2Q9XA",
                name_masked="王*",
                phone_last4="8821",
            )
        )
        for device_id, kind, online, health in [
            ("hub-bh", "hub", True, {"cpu": "12%", "queue": 0}),
            ("kiosk-1", "kiosk", True, {"paper": "ok", "printer": "ok"}),
            ("kiosk-2", "kiosk", False, {"paper": "low"}),
            ("hall-display-1", "hall_display", True, {}),
            ("evaluator-1", "evaluator", True, {"battery": "88%"}),
        ]:
            session.add(
                Device(
                    hall_id=hall_id,
                    device_id=device_id,
                    device_type=kind,
                    online=online,
                    last_seen=NOW - timedelta(minutes=0 if online else 47),
                    app_version="1.4.2",
                    config_version="2026-11-20",
                    health=health,
                )
            )
    sign_in(page, "BH9101")
    page.goto("/admin")
    shot("index")
    page.goto("/admin/catalog?department=GS")
    shot("catalog")
    page.goto("/admin/catalog/m/GS-002/edit")
    page.fill("input[name=keywords]", "变更登记、公司变更、换照")
    page.fill("input[name=promised_days]", "1")
    shot("catalog-edit", full=False)
    page.click("#matter-form button[type=submit]")
    shot("catalog-detail")
    page.click("#diff-form button[type=submit]")
    shot("catalog-diff")
    upload = out.parent / ".web-admin-import.csv"
    upload.write_text(
        "事项编码,事项名称,事项类型,实施部门,承诺时限(工作日),法定时限(工作日),排队类别\r\n"
        "GS-950,个体工商户设立登记（测试）,行政许可,GS,1,3,A\r\n"
        "GS-951,个体工商户变更登记（测试）,行政许可,GS,两天,3,A\r\n"
        "GS-952,个体工商户注销登记（测试）,许可,XX,5,3,Q9\r\n",
        encoding="utf-8-sig",
    )
    try:
        page.goto("/admin/catalog/import")
        page.set_input_files("input[name=file]", str(upload))
        page.click("#import-form button[type=submit]")
        shot("catalog-import")
    finally:
        upload.unlink(missing_ok=True)
    for name, path in [
        ("halls", "/admin/halls"),
        ("departments", "/admin/departments"),
        ("windows", "/admin/windows?hall=BH"),
        ("staff", "/admin/staff?department=&active=1&q=BH01"),
        ("queue", "/admin/queue?hall=BH"),
        ("appointments", "/admin/appointments?hall=BH&day=2026-11-27"),
        ("notices", "/admin/notices?hall=BH"),
        ("calendar", "/admin/calendar?year=2026"),
        ("calendar-provisional", "/admin/calendar?year=2027"),
        ("devices", "/admin/devices?hall=BH"),
        ("rating-reasons", "/admin/rating-reasons"),
    ]:
        page.goto(path)
        shot(name)
    page.goto("/admin/windows?hall=BH")
    page.click("tr[data-window='1'] a")
    shot("window-edit")
    page.goto("/admin/staff?q=BH0101")
    page.click("tr[data-staff='BH0101'] a")
    shot("staff-edit")
    page.goto("/admin/devices?hall=BH")
    page.fill("input[name=device_id]", "kiosk-3")
    page.click("#token-form button[type=submit]")
    shot("device-token", full=False)
    context.close()


def supervision_screenshots(browser: Any, server: RunningServer, out: Path) -> None:
    """电子监察 and 绩效 pages as a supervisor: web-supervision-*.png, web-performance-*.png.

    Adds overdue cases (scanned into 预警/黄牌/红牌), a withdrawn case and a fee
    charged for a free matter (findings) and a month of served tickets and
    ratings, so the charts have something to show.
    """
    import random
    from datetime import date, time

    from backend.models import QueueCategory, Rating, StaffPost, Ticket, Window
    from backend.services import supervision as supervision_service

    zone = ZoneInfo("Asia/Shanghai")
    extension = server.app.extensions["hallkit"]
    random.seed(7)
    with extension.db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        registered = []
        for handler, matter, accepted in [
            ("BH1101", "SYJ-001", date(2026, 11, 10)),
            ("BH1102", "SYJ-001", date(2026, 11, 12)),
            ("BH0102", "GS-002", date(2026, 11, 16)),
            ("BH1101", "SYJ-001", date(2026, 11, 19)),
            ("BH1102", "SYJ-001", date(2026, 11, 20)),
        ]:
            staff = session.execute(select(Staff).where(Staff.employee_no == handler)).scalar_one()
            actor = case_service.Actor(f"staff:{handler}", staff.id, staff.department_id)
            case = case_service.register_case(
                session,
                hall_id=hall_id,
                matter_code=matter,
                applicant=case_service.Applicant(
                    case_service.ApplicantKind.ORGANISATION,
                    "锦州海鲜餐饮有限公司",
                    "91210700MA0U6KXX2J",
                    "04163331234",
                ),
                protector=extension.protector,
                actor=actor,
                now=datetime.combine(accepted, time(10), zone).astimezone(UTC),
            )
            registered.append((case, actor))
        case_service.transition(
            session,
            case_id=case.id,
            action="withdraw",
            actor=actor,
            now=NOW - timedelta(days=1),
            note="申请人主动撤回申请",
        )
        charged, charging_clerk = registered[3]  # SYJ-001 is free (不收费): a 收费异常 finding
        case_service.record_fee(
            session,
            case_id=charged.id,
            amount="30",
            actor=charging_clerk,
            now=NOW - timedelta(days=1),
        )
        posts = session.execute(
            select(Window.id, StaffPost.staff_id, Window.number)
            .join(StaffPost, StaffPost.window_id == Window.id)
            .where(Window.hall_id == hall_id, StaffPost.post == "A")
        ).all()
        category = session.execute(
            select(QueueCategory.id).where(QueueCategory.hall_id == hall_id).limit(1)
        ).scalar_one()
        number = 5000
        for offset in range(1, 26):
            day = NOW.astimezone(zone).date() - timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            # Twelve busy windows, and a thirteenth that opened now and then:
            # too little data to rank (数据不足).
            for index, (window_id, staff_id, window_number) in enumerate(posts[:13]):
                slow = 1.0 + (int(window_number) % 4) * 0.5
                count = random.randint(8, 16) if index < 12 else 2 * (offset % 5 == 0)
                for _ in range(count):
                    number += 1
                    hour = random.choice([9, 9, 10, 10, 11, 13, 14, 14, 15, 16])
                    issued = datetime.combine(day, time(hour, random.randint(0, 59)), zone)
                    wait = timedelta(minutes=random.expovariate(1 / (6 * slow)) + hour % 3)
                    called = issued + wait
                    session.add(
                        Ticket(
                            hall_id=hall_id,
                            category_id=category,
                            issue_category_id=category,
                            service_day=day,
                            number=number,
                            display=f"H{number}",
                            channel="kiosk",
                            state="done",
                            issued_at=issued,
                            sort_at=issued,
                            called_at=called,
                            started_at=called,
                            finished_at=called + timedelta(minutes=random.uniform(3, 15)),
                            window_id=window_id,
                            staff_id=staff_id,
                            public_token=f"shot-{number}",
                        )
                    )
                    if random.random() < 0.3:
                        session.add(
                            Rating(
                                rating_uid=f"shot-r{number}",
                                service_key=f"shot:{number}",
                                hall_id=hall_id,
                                window_id=window_id,
                                staff_id=staff_id,
                                department_id=None,
                                channel="evaluator",
                                level=random.choice([5, 5, 5, 4, 4, 3, 2 if slow > 1.5 else 5]),
                                rated_at=called + timedelta(minutes=20),
                            )
                        )
    # Scans on earlier days too: a red card needs a yellow one raised days before.
    for days_back in (8, 3, 0):
        with extension.db.writing() as session:
            supervision_service.scan(session, NOW - timedelta(days=days_back, hours=-1))

    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()

    def shot(name: str, full: bool = True) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"web-{name}.png"), full_page=full)
        print("wrote", f"web-{name}.png")

    sign_in(page, "BH9001")
    page.goto("/supervision")
    shot("supervision-hall")
    page.goto("/supervision/alerts")
    page.locator(".sv-row.kind-red .sv-ack summary").first.click()
    page.locator(".sv-row.kind-red textarea[name=note]").first.fill("已约谈承办人，今日办结")
    shot("supervision-alerts", full=False)
    page.goto("/supervision/overdue")
    shot("supervision-overdue")
    page.goto("/supervision/findings")
    shot("supervision-findings")
    page.goto("/supervision/alerts?kind=%E7%BA%A2%E7%89%8C")
    case_link = page.locator("a[href*='/supervision/cases/']").first.get_attribute("href")
    page.goto(case_link or "/supervision/alerts")
    shot("supervision-case-alerts")
    page.goto("/performance?period=2026-11&group_by=window")
    page.wait_for_selector('[data-pf-chart="heatmap"][data-chart-ready="1"]')
    page.wait_for_selector('[data-pf-chart="trend"][data-chart-ready="1"]')
    shot("performance")
    page.goto("/performance/report.html?period=2026-11&group_by=window")
    shot("performance-report")
    admin = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    page = admin.new_page()
    sign_in(page, "BH9101")
    page.goto("/performance/schedules")
    page.fill("input[name=recipient_name]", "王主任")
    page.fill("input[name=recipient_email]", "wang@example.gov.cn")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector("[data-schedule]")
    shot("performance-schedules")
    context.close()
    admin.close()


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
                admin_screenshots(browser, server, args.out)
                supervision_screenshots(browser, server, args.out)
                browser.close()


if __name__ == "__main__":
    main()
