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

from backend.models import Hall, Rating, RatingChannel, Rectification, Role, Staff  # noqa: E402
from backend.services import cases as case_service  # noqa: E402
from backend.services import queue as queue_service  # noqa: E402
from backend.services import ratings as rating_service  # noqa: E402
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
        # Health as the hub reports it (hub.registry.DeviceRecord.report).
        reported = (NOW - timedelta(minutes=12)).isoformat()
        for device_id, kind, online, health in [
            ("hub-bh", "hub", True, {}),
            (
                "kiosk-1",
                "kiosk",
                True,
                {
                    "printer": "paper_near_end",
                    "printer_detail": "纸卷将尽，请备纸",
                    "printer_at": reported,
                    "scanner": "ok",
                    "scanner_detail": "",
                    "scanner_at": reported,
                },
            ),
            (
                "kiosk-2",
                "kiosk",
                False,
                {"printer": "ok", "printer_detail": "", "printer_at": reported},
            ),
            ("hall-display-1", "hall_display", True, {}),
            (
                "evaluator-1",
                "evaluator",
                True,
                {"button_box": "ok", "button_box_detail": "", "button_box_at": reported},
            ),
        ]:
            session.add(
                Device(
                    hall_id=hall_id,
                    device_id=device_id,
                    device_type=kind,
                    online=online,
                    last_seen=NOW - timedelta(minutes=0 if online else 47),
                    app_version="0.1.0",
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


NOTICE_2027 = """国务院办公厅关于2027年部分节假日安排的通知
一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月6日（农历腊月三十、周六）至13日（周六）放假调休，共8天。2月20日（周六）上班。
"""


def follow_up_screenshots(browser: Any, server: RunningServer, out: Path) -> None:
    """差评整改, 申诉 and the 2027 notice import: web-ratings-*.png, web-admin-calendar-*.png."""
    extension = server.app.extensions["hallkit"]
    with extension.db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        clerk = session.execute(select(Staff).where(Staff.employee_no == "BH0102")).scalar_one()
        actor = case_service.Actor("staff:BH0102", clerk.id, clerk.department_id)
        rating_ids = []
        for index, (level, reasons, note) in enumerate(
            [(1, ("态度不好",), "问了两遍才回答"), (2, ("等候时间长",), "")]
        ):
            case = case_service.register_case(
                session,
                hall_id=hall_id,
                matter_code="GS-005",  # 即办: finished at the window
                applicant=case_service.Applicant(
                    case_service.ApplicantKind.PERSON, "郑华", "21070319850615123X", "13812340000"
                ),
                protector=extension.protector,
                actor=actor,
                now=NOW - timedelta(hours=3 - index),
            )
            case_service.transition(
                session, case_id=case.id, action="complete", actor=actor, now=NOW
            )
            outcome = rating_service.submit_rating(
                session,
                hall_id=hall_id,
                data=rating_service.RatingInput(
                    rating_uid=f"screenshot-bad-{index}",
                    level=level,
                    channel=RatingChannel.WEB,
                    rated_at=NOW,
                    receipt_number=case.receipt_number,
                    reasons=reasons,
                    note=note,
                ),
                actor="screenshot",
            )
            rating_ids.append(outcome.rating.id)
        rating_service.file_appeal(
            session,
            rating_id=rating_ids[1],
            staff_id=clerk.id,
            reason="办事人误触评价器，监控可查",
            now=NOW,
            actor="staff:BH0102",
        )
        lead = next(
            s
            for s in session.execute(
                select(Staff).where(Staff.department_id == clerk.department_id)
            ).scalars()
            if s.has_role(Role.DEPARTMENT_LEAD)
        )
        lead_no = lead.employee_no
        item_id = session.execute(
            select(Rectification.id)
            .join(Rating, Rating.id == Rectification.rating_id)
            .where(Rating.id == rating_ids[0])
        ).scalar_one()

    def shoot(employee_no: str, shots: list[tuple[str, str]]) -> None:
        context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
        page = context.new_page()
        sign_in(page, employee_no)
        for name, path in shots:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"web-{name}.png"), full_page=True)
            print("wrote", f"web-{name}.png")
        context.close()

    shoot(
        lead_no,
        [
            ("ratings-rectifications", "/ratings/rectifications"),
            ("ratings-rectification", f"/ratings/rectifications/{item_id}"),
        ],
    )
    shoot("BH0102", [("ratings-mine", "/ratings/mine")])
    shoot("BH9003", [("ratings-appeals", "/ratings/appeals")])
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, "BH9101")
    page.goto("/admin/calendar?year=2027")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "web-admin-calendar-provisional.png"), full_page=True)
    print("wrote web-admin-calendar-provisional.png")
    page.fill("[data-import-form] textarea[name=content]", NOTICE_2027)
    page.check("[data-import-form] input[name=confirm]")
    page.click("[data-preview-button]")
    page.wait_for_selector("[data-preview]")
    page.locator("#import").screenshot(path=str(out / "web-admin-calendar-import.png"))
    print("wrote web-admin-calendar-import.png")
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--only",
        choices=["follow-up"],
        help="only the 差评整改/申诉 pages and the calendar import",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # The server's workers may still be closing their database files as it stops.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as temp:
        url = f"sqlite:///{Path(temp) / 'hall.db'}"
        seed_database(url, PASSWORD)
        now = [NOW]
        with running_server(url, Path(temp) / "var", clock=lambda: now[0]) as server:
            tokens = populate(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                if args.only == "follow-up":
                    follow_up_screenshots(browser, server, args.out)
                    browser.close()
                    return
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
                # 挂起: A002 fetches a missing paper; the window calls the next one.
                page.keyboard.press("h")
                page.wait_for_selector('[data-held-number="A002"]')
                page.keyboard.press("n")
                page.wait_for_selector('[data-current-ticket="A001"]')
                shot("console-held")
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
                follow_up_screenshots(browser, server, args.out)
                browser.close()


if __name__ == "__main__":
    main()
