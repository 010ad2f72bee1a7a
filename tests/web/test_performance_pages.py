"""绩效 pages through the test client on SQLite and PostgreSQL: the ranking page
and its chart data, department scoping, the reports (HTML, Excel, PDF with an
embedded Chinese font), the schedule page's rules, and scheduled reports e-mailed
to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook
from sqlalchemy import select

from backend.db import Database
from backend.models import Department, Hall, QueueCategory, Rating, Staff, StaffPost, Ticket, Window
from backend.models.report_schedule import ReportSchedule
from backend.models.supervision import StaffContact
from backend.services import notify
from backend.services import report_schedule as schedules
from tests.web.helpers import Browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUPERVISOR = "BH9001"
ADMIN = "BH9101"
GS_LEAD = "BH8001"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def data_rows(sheet: Any) -> int:
    """Rows under the header (row 4) down to the first empty name."""
    count = 0
    while sheet.cell(row=5 + count, column=2).value:
        count += 1
    return count


def _window(session: Any, number: str) -> tuple[int, int, int]:
    row = session.execute(
        select(Window.id, Staff.id, Staff.department_id)
        .join(StaffPost, StaffPost.window_id == Window.id)
        .join(Staff, Staff.id == StaffPost.staff_id)
        .where(Window.number == number, StaffPost.post == "A")
    ).first()
    return int(row[0]), int(row[1]), int(row[2])


@pytest.fixture
def served(db: Database) -> dict[str, int]:
    """November: window 1 (工商) serves 4 tickets waiting 5-20 min, window 11 (食药)
    serves 2 waiting 50 min; one 5★ and one 1★ rating at window 1."""
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        category = session.execute(
            select(QueueCategory.id).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == "A"
            )
        ).scalar_one()
        first, clerk_1, department_1 = _window(session, "1")
        eleventh, clerk_11, department_11 = _window(session, "11")
        day = date(2026, 11, 2)  # a Monday
        number = 0
        for window, clerk, waits in (
            (first, clerk_1, (5, 10, 15, 20)),
            (eleventh, clerk_11, (50, 50)),
        ):
            for wait in waits:
                number += 1
                issued = local(day, 9, number)
                called = issued + timedelta(minutes=wait)
                session.add(
                    Ticket(
                        hall_id=hall_id,
                        category_id=category,
                        issue_category_id=category,
                        service_day=day,
                        number=number,
                        display=f"A{number:03d}",
                        channel="kiosk",
                        state="done",
                        issued_at=issued,
                        sort_at=issued,
                        called_at=called,
                        started_at=called,
                        finished_at=called + timedelta(minutes=6),
                        window_id=window,
                        staff_id=clerk,
                        public_token=f"pf-{number}",
                    )
                )
        for level in (5, 1):
            session.add(
                Rating(
                    rating_uid=f"pf-r{level}",
                    service_key=f"pf:{level}",
                    hall_id=hall_id,
                    window_id=first,
                    staff_id=clerk_1,
                    department_id=department_1,
                    level=level,
                    channel="evaluator",
                    rated_at=local(day, 10),
                )
            )
        return {"department_1": department_1, "department_11": department_11}


def test_ranking_page_table_charts_and_data(browser: Browser, served: dict[str, int]) -> None:
    browser.sign_in(SUPERVISOR)
    page = browser.get("/performance?period=2026-11&group_by=window").get_data(as_text=True)
    # 4 and 2 tickets, 2 ratings: too little to rank either window; both are
    # shown apart (数据不足) with what they have, and the page says the rule.
    assert re.findall(r'data-rank-row="(\d+)"', page) == []
    assert len(re.findall(r'data-insufficient-row="(\d+)"', page)) == 2
    assert 'id="ranking-rule"' in page and "数据不足" in page
    assert '<option value="2026-11" selected>' in page and '<option value="2026-Q4"' in page
    # ECharts is served from the hall's own backend, never fetched from another
    # host: every script and stylesheet comes from this server. (Looking for
    # "cdn" anywhere in the page failed once a CSRF token happened to contain it.)
    assert "/static/vendor/echarts.min.js" in page
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', page)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
    assert 'data-pf-chart="ranking"' in page and '"scores": [' in page
    trend_url = re.search(r'data-pf-chart="trend" data-src="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    trend = browser.get(trend_url.replace("&amp;", "&")).get_json()
    assert trend["bucket"] == "day"
    point = next(p for p in trend["points"] if p["bucket"] == "2026-11-02")
    assert point["tickets_served"] == 6
    heat = browser.get("/performance/data/heatmap.json?period=2026-11").get_json()
    assert {(c["weekday"], c["hour"]) for c in heat["cells"]} == {(1, 9)}
    quarter = browser.get("/performance?period=2026-Q4&group_by=clerk").get_data(as_text=True)
    assert "2026-07-01" in quarter  # 纵向: the previous quarter is shown
    assert browser.get("/performance?period=2026-13").status_code == 400
    assert browser.get("/performance?group_by=matter").status_code == 400


def test_department_lead_sees_only_own_department(browser: Browser, served: dict[str, int]) -> None:
    browser.sign_in(GS_LEAD)
    page = browser.get("/performance?period=2026-11&group_by=window").get_data(as_text=True)
    assert len(re.findall(r"data-(?:rank|insufficient)-row=", page)) == 1
    heat = browser.get("/performance/data/heatmap.json?period=2026-11").get_json()
    assert heat["cells"][0]["tickets"] == 4  # window 11's tickets are not the lead's
    workbook = load_workbook(
        io.BytesIO(browser.get("/performance/report.xlsx?period=2026-11&group_by=window").data)
    )
    assert data_rows(workbook["绩效排名"]) == 1  # one window


def test_reports_in_three_formats(browser: Browser, served: dict[str, int]) -> None:
    browser.sign_in(SUPERVISOR)
    html = browser.get("/performance/report.html?period=2026-11&group_by=department")
    assert html.mimetype == "text/html"
    text = html.get_data(as_text=True)
    assert (
        "绩效评估报表" in text and 'data-report-table="ranking"' in text and "<script" not in text
    )
    assert "0.35×满意率" in text
    xlsx = browser.get("/performance/report.xlsx?period=2026-11&group_by=window")
    assert "attachment" in xlsx.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(xlsx.data))
    assert workbook.sheetnames == ["绩效排名", "好差评", "等候热力"]
    sheet = workbook["绩效排名"]
    headers = [cell.value for cell in sheet[4]]
    assert headers[:3] == ["名次", "名称", "得分"]
    p90 = headers.index("P90等候(分)") + 1
    satisfaction = headers.index("满意率") + 1
    values = {sheet.cell(row=r, column=2).value: r for r in (5, 6)}
    window_1 = next(r for name, r in values.items() if str(name).startswith("1 "))
    assert sheet.cell(row=window_1, column=p90).value == 18.5  # minutes, a number
    assert sheet.cell(row=window_1, column=satisfaction).value == 0.5
    assert sheet.cell(row=window_1, column=satisfaction).number_format == "0.0%"
    pdf = browser.get("/performance/report.pdf?period=2026-11&group_by=department")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert b"WenQuanYiMicroHei" in pdf.data  # the Chinese font is embedded
    assert browser.get("/performance/report.doc").status_code == 404


def test_schedules_page_rules(browser: Browser, app: Any, db: Database) -> None:
    form = {
        "recipient_name": "王主任",
        "recipient_email": "wang@example.gov.cn",
        "group_by": "department",
        "report_format": "pdf",
        "frequency": "monthly",
        "day": "1",
        "hour": "8",
    }
    browser.sign_in(SUPERVISOR)
    page = browser.get("/performance/schedules").get_data(as_text=True)
    assert "schedule-form" not in page  # read-only
    refused = browser.post("/performance/schedules", form, follow_redirects=True)
    assert "监察人员只读" in refused.get_data(as_text=True)
    admin = Browser(app.test_client())
    admin.sign_in(ADMIN)
    assert admin.post("/performance/schedules", {**form, "day": "31"}).status_code == 302
    assert (
        admin.post("/performance/schedules", {**form, "recipient_email": "no"}).status_code == 302
    )
    with db.reading() as session:
        assert session.execute(select(ReportSchedule)).first() is None
    assert admin.post("/performance/schedules", form).status_code == 302
    lead = Browser(app.test_client())
    lead.sign_in(GS_LEAD)
    assert lead.post("/performance/schedules", {**form, "department": "999"}).status_code == 302
    with db.reading() as session:
        stored = session.execute(select(ReportSchedule).order_by(ReportSchedule.id)).scalars().all()
        gs = session.execute(select(Department.id).where(Department.code == "GS")).scalar_one()
    assert [s.department_id for s in stored] == [None, gs]
    # The lead sees (and may delete) only the own department's schedule.
    lead_page = lead.get("/performance/schedules").get_data(as_text=True)
    assert re.findall(r'data-schedule="(\d+)"', lead_page) == [str(stored[1].id)]
    assert lead.post(f"/performance/schedules/{stored[0].id}/delete").status_code == 302
    with db.reading() as session:
        assert len(session.execute(select(ReportSchedule)).scalars().all()) == 2
    admin_page = admin.get("/performance/schedules").get_data(as_text=True)
    assert "每月 1 日 08:00" in admin_page and "2026-12-01 08:00" in admin_page


def test_due_cycles() -> None:
    schedule = ReportSchedule(
        frequency="monthly",
        day=1,
        hour=8,
        active=True,
        last_period="",
        failures=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    before = schedules.due_cycle(schedule, local(date(2026, 12, 1), 7, 59))
    assert before.period.label == "2026-10"  # 1 Nov's report is the latest due
    after = schedules.due_cycle(schedule, local(date(2026, 12, 1), 8, 0))
    assert after.period.label == "2026-11"
    weekly = ReportSchedule(
        frequency="weekly",
        day=1,
        hour=9,
        active=True,
        last_period="",
        failures=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert schedules.due_cycle(weekly, local(date(2026, 11, 30), 9)).period.label == "2026-W48"
    assert schedules.due_cycle(weekly, local(date(2026, 11, 29), 9)).period.label == "2026-W47"
    # A schedule created after this cycle's time waits for the next cycle.
    fresh = ReportSchedule(
        frequency="monthly",
        day=1,
        hour=8,
        active=True,
        last_period="",
        failures=0,
        created_at=local(date(2026, 11, 20), 12),
    )
    assert schedules.is_due(fresh, local(date(2026, 11, 26), 10)) is None
    assert schedules.is_due(fresh, local(date(2026, 12, 1), 8)) is not None


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_send_due_reports_over_smtp(
    db: Database, served: dict[str, int], smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    channel = notify.SmtpEmailChannel(notify.SmtpSettings(host="127.0.0.1", port=port))
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        lead = session.execute(select(Staff).where(Staff.employee_no == GS_LEAD)).scalar_one()
        session.add(StaffContact(staff_id=lead.id, email="tian@example.gov.cn", phone=""))
        for report_format, department in (("xlsx", None), ("pdf", lead.department_id)):
            session.add(
                ReportSchedule(
                    hall_id=hall_id,
                    department_id=department,
                    recipient_staff_id=lead.id,
                    recipient_name="田晓燕",
                    recipient_email="tian@example.gov.cn",
                    group_by="window",
                    report_format=report_format,
                    frequency="monthly",
                    day=1,
                    hour=8,
                    active=True,
                    created_at=local(date(2026, 11, 20), 9),
                    last_period="",
                    failures=0,
                    last_error="",
                )
            )
    early = local(date(2026, 12, 1), 7, 30)
    with db.writing() as session:
        assert schedules.send_due_reports(session, early, channel).sent == []
    due = local(date(2026, 12, 1), 8, 5)
    with db.writing() as session:
        outcome = schedules.send_due_reports(session, due, channel)
    assert len(outcome.sent) == 2 and outcome.failed == {}
    assert len(inbox.messages) == 2
    first = inbox.messages[0]
    assert str(make_header(decode_header(first["Subject"]))).endswith("（2026-11）")
    assert "tian@example.gov.cn" in first["To"]
    attachments = {part.get_filename(): part for part in first.walk() if part.get_filename()}
    assert list(attachments) == ["performance-2026-11-window.xlsx"]
    workbook = load_workbook(
        io.BytesIO(attachments["performance-2026-11-window.xlsx"].get_payload(decode=True))
    )
    assert data_rows(workbook["绩效排名"]) == 2  # every department: both windows
    pdf = next(p for p in inbox.messages[1].walk() if p.get_filename())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF")
    # Sent once per period, however often the sender runs.
    with db.writing() as session:
        assert schedules.send_due_reports(session, due + timedelta(hours=3), channel).sent == []
    assert len(inbox.messages) == 2
    with db.reading() as session:
        rows = session.execute(select(ReportSchedule)).scalars().all()
        assert {r.last_period for r in rows} == {"2026-11"}


def test_failed_delivery_is_recorded_and_retried(db: Database, served: dict[str, int]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = notify.SmtpEmailChannel(
        notify.SmtpSettings(host="127.0.0.1", port=port, timeout_seconds=2)
    )
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        session.add(
            ReportSchedule(
                hall_id=hall_id,
                recipient_name="x",
                recipient_email="x@example.gov.cn",
                group_by="department",
                report_format="html",
                frequency="weekly",
                day=1,
                hour=9,
                active=True,
                created_at=local(date(2026, 11, 1), 9),
                last_period="",
                failures=0,
                last_error="",
            )
        )
    now = local(date(2026, 11, 30), 9, 30)
    for attempt in (1, 2):
        with db.writing() as session:
            outcome = schedules.send_due_reports(session, now, channel)
        assert list(outcome.failed)
        with db.reading() as session:
            row = session.execute(select(ReportSchedule)).scalar_one()
            assert row.failures == attempt and row.last_error.startswith("2026-W48: SMTP")
            assert row.last_period == ""


def test_schedule_language_follows_the_page_and_the_form(
    browser: Browser, app: Any, db: Database
) -> None:
    form = {
        "recipient_name": "王主任",
        "recipient_email": "wang@example.gov.cn",
        "group_by": "department",
        "report_format": "pdf",
        "frequency": "monthly",
        "day": "1",
        "hour": "8",
    }
    admin = Browser(app.test_client())
    admin.sign_in(ADMIN)
    assert admin.post("/performance/schedules", form).status_code == 302  # Chinese page
    english_page = admin.get("/performance/schedules?lang=en").get_data(as_text=True)
    assert 'name="language"' in english_page and "E-mail language" in english_page
    assert admin.post("/performance/schedules", form).status_code == 302  # English page
    assert admin.post("/performance/schedules", {**form, "language": "zh"}).status_code == 302
    assert admin.post("/performance/schedules", {**form, "language": "fr"}).status_code == 302
    with db.reading() as session:
        stored = session.execute(select(ReportSchedule).order_by(ReportSchedule.id)).scalars()
        assert [s.language for s in stored] == ["zh", "en", "zh"]  # "fr" refused


def _language_schedule(hall_id: int, staff_id: int, language: str, email: str) -> ReportSchedule:
    return ReportSchedule(
        hall_id=hall_id,
        department_id=None,
        recipient_staff_id=staff_id,
        recipient_name="Tian" if language == "en" else "田晓燕",
        recipient_email=email,
        group_by="window",
        report_format="xlsx",
        frequency="monthly",
        day=1,
        hour=8,
        active=True,
        created_at=local(date(2026, 11, 20), 9),
        last_period="",
        failures=0,
        last_error="",
        language=language,
    )


def test_scheduled_report_is_in_the_schedules_language(
    db: Database, served: dict[str, int], smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    channel = notify.SmtpEmailChannel(notify.SmtpSettings(host="127.0.0.1", port=port))
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        lead = session.execute(select(Staff).where(Staff.employee_no == GS_LEAD)).scalar_one()
        session.add(_language_schedule(hall_id, lead.id, "en", "en@example.gov.cn"))
        session.add(_language_schedule(hall_id, lead.id, "zh", "zh@example.gov.cn"))
    with db.writing() as session:
        outcome = schedules.send_due_reports(session, local(date(2026, 12, 1), 8, 5), channel)
    assert len(outcome.sent) == 2 and len(inbox.messages) == 2
    by_address = {m["To"].split("<")[-1].rstrip(">"): m for m in inbox.messages}

    def parts(message: Message) -> tuple[str, str, Any]:
        subject = str(make_header(decode_header(message["Subject"])))
        body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        text = body.get_payload(decode=True).decode("utf-8")
        document = next(p for p in message.walk() if p.get_filename())
        return subject, text, load_workbook(io.BytesIO(document.get_payload(decode=True)))

    subject, text, workbook = parts(by_address["en@example.gov.cn"])
    assert subject.endswith("performance report (2026-11)")
    assert text.startswith("Tian,") and "Attached is the" in text and "(Monthly)" in text
    assert "绩效" not in subject + text and "附件" not in text
    assert "Performance ranking" in workbook.sheetnames and "绩效排名" not in workbook.sheetnames
    assert data_rows(workbook["Performance ranking"]) == 2
    subject, text, workbook = parts(by_address["zh@example.gov.cn"])
    assert subject.endswith("绩效评估报表（2026-11）")
    assert text.startswith("田晓燕：") and "附件为" in text and "（每月）" in text
    assert "绩效排名" in workbook.sheetnames
