"""Staff and phone pages through the Flask test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import select

from backend.models import Appointment, AuditEntry, Case, HallEvent, Staff
from tests.conftest import Api
from tests.web.helpers import FRAGMENT, Browser, issue, resident_id

CASE_FORM = {
    "matter": "GS-001",
    "applicant_kind": "person",
    "applicant_name": "张三丰",
    "phone": "13812345678",
    "received": ["0", "1"],
    "decision": "accept",
}


def register_case(browser: Browser, **overrides: object) -> int:
    form = {**CASE_FORM, "id_number": resident_id(), **overrides}
    response = browser.post("/cases/new", form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    found = re.search(r"/cases/(\d+)", response.headers["Location"])
    assert found
    return int(found.group(1))


def test_sign_in_page_is_chinese_by_default_and_english_on_request(browser: Browser) -> None:
    page = browser.get("/staff/sign-in").get_data(as_text=True)
    assert "工作人员登录" in page and 'lang="zh-CN"' in page
    english = browser.get("/staff/sign-in?lang=en").get_data(as_text=True)
    assert "Staff sign-in" in english and 'lang="en"' in english
    # The choice is remembered for the next page.
    assert "Staff sign-in" in browser.get("/staff/sign-in").get_data(as_text=True)


def test_repeated_wrong_passwords_lock_the_account(browser: Browser, db) -> None:
    for _attempt in range(5):
        response = browser.sign_in("BH0101", password="wrong-password")
        assert response.status_code == 200
        assert "工号或密码错误" in response.get_data(as_text=True)
    locked = browser.sign_in("BH0101")  # the right password, but locked now
    assert locked.status_code == 200
    assert "账号已锁定" in locked.get_data(as_text=True)
    with db.reading() as session:
        staff = session.execute(select(Staff).where(Staff.employee_no == "BH0101")).scalar_one()
        assert staff.failed_logins == 5 and staff.locked_until is not None
        failures = (
            session.execute(select(AuditEntry).where(AuditEntry.action == "auth.failed"))
            .scalars()
            .all()
        )
        assert len(failures) == 5


def test_pages_need_sign_in(browser: Browser) -> None:
    for path in ("/console", "/cases", "/workbench", "/cases/1"):
        response = browser.get(path)
        assert response.status_code == 302
        assert "/staff/sign-in" in response.headers["Location"]


def test_session_expires_with_its_token(browser: Browser, clock) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    assert browser.get("/console").status_code == 200
    clock.advance(hours=10, minutes=1)
    response = browser.get("/console")
    assert response.status_code == 302 and "/staff/sign-in" in response.headers["Location"]


def test_csrf_is_enforced_on_pages_but_not_on_the_bearer_api(browser: Browser, api: Api) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    refused = browser.post("/console/call-next", csrf=False)
    assert refused.status_code == 400
    forged = browser.post("/console/call-next", {"csrf_token": "forged"}, csrf=False)
    assert forged.status_code == 400
    assert browser.post("/console/call-next").status_code == 302
    # The JSON API authenticates with bearer tokens only, so it needs no CSRF token.
    assert api.sign_in("BH0401", window="4")


def test_the_api_neither_reads_nor_sets_the_page_session(browser: Browser) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    # The browser's session cookie goes along, but an API call is not signed in by it.
    answer = browser.client.post("/api/v1/halls/BH/windows/1/call-next?lang=en")
    assert answer.status_code == 401
    assert "Set-Cookie" not in answer.headers and "Cookie" not in answer.headers.get("Vary", "")
    assert browser.get("/console").status_code == 200  # the page session is untouched


def test_console_serves_a_ticket_from_call_to_finish(browser: Browser, db, clock) -> None:
    issue(db, "A", clock=clock)
    issue(db, "A", priority="elderly", clock=clock)
    assert browser.sign_in("BH0101", "1").status_code == 302
    page = browser.get("/console").get_data(as_text=True)
    assert 'data-waiting-number="A001"' in page and 'data-waiting-number="A002"' in page
    assert "mark-priority" in page
    called = browser.post("/console/call-next", headers=FRAGMENT).get_data(as_text=True)
    assert 'data-current-ticket="A002"' in called  # the priority ticket first
    for action in ("recall", "start"):
        assert browser.post(f"/console/{action}", headers=FRAGMENT).status_code == 200
    clock.advance(minutes=6)
    finished = browser.post("/console/finish", headers=FRAGMENT).get_data(as_text=True)
    assert 'data-current-ticket=""' in finished and "<dd data-served>1</dd>" in finished
    # Auto-call: finishing calls the next ticket in the same step.
    browser.post("/console/auto-call", headers=FRAGMENT)
    browser.post("/console/call-next", headers=FRAGMENT)
    issue(db, "A", clock=clock)
    auto = browser.post("/console/finish", headers=FRAGMENT).get_data(as_text=True)
    assert 'data-current-ticket="A003"' in auto


def test_console_marker_never_claims_an_event_its_data_misses(
    browser: Browser, db, clock, monkeypatch
) -> None:
    # An event that commits after the panel read its data (a kiosk issues a ticket
    # meanwhile) must stay after the panel's marker, or the page would skip the
    # refresh that shows it.
    from backend.web import console

    assert browser.sign_in("BH0101", "1").status_code == 302
    read_panel = console._panel_context

    def panel_then_a_ticket_is_issued(session, user):
        context = read_panel(session, user)
        issue(db, "A", clock=clock)
        return context

    monkeypatch.setattr(console, "_panel_context", panel_then_a_ticket_is_issued)
    page = browser.get("/console/panel", headers=FRAGMENT).get_data(as_text=True)
    marker = re.search(r'data-live-seq="(\d+)"', page)
    assert marker is not None
    assert 'data-waiting-number="A001"' not in page  # the data predates the ticket
    with db.reading() as session:
        issued = session.execute(
            select(HallEvent.seq).where(HallEvent.kind == "ticket_issued")
        ).scalar_one()
    assert int(marker.group(1)) < issued


def test_console_pause_transfer_specific_call_and_walk_in(browser: Browser, db, clock) -> None:
    for _ in range(3):
        issue(db, "A", clock=clock)
    assert browser.sign_in("BH0101", "1").status_code == 302
    refused = browser.post(
        "/console/call-specific", {"number": "A003", "reason": ""}, headers=FRAGMENT
    )
    assert refused.status_code == 400 and "原因" in refused.get_data(as_text=True)
    called = browser.post(
        "/console/call-specific", {"number": "A003", "reason": "补交材料"}, headers=FRAGMENT
    ).get_data(as_text=True)
    assert 'data-current-ticket="A003"' in called
    moved = browser.post(
        "/console/transfer", {"target": "window:4", "reason": "涉税"}, headers=FRAGMENT
    ).get_data(as_text=True)
    assert 'data-current-ticket=""' in moved
    paused = browser.post(
        "/console/pause", {"reason": "会议", "minutes": "10"}, headers=FRAGMENT
    ).get_data(as_text=True)
    assert 'data-window-state="paused"' in paused
    refused = browser.post("/console/call-next", headers=FRAGMENT)
    assert refused.status_code == 409
    browser.post("/console/resume", headers=FRAGMENT)
    walk_in = browser.post("/console/walk-in", {"category": "A"}, headers=FRAGMENT)
    assert 'data-current-ticket="A004"' in walk_in.get_data(as_text=True)
    # Window 4 now sees A003 marked as transferred to it.
    other = Browser(browser.client.application.test_client())
    assert other.sign_in("BH0401", "4").status_code == 302
    page = other.get("/console").get_data(as_text=True)
    assert 'data-waiting-number="A003"' in page
    # Who did what and when: the window change in the audit log, the ticket steps in
    # the hall event log (the queue's audit trail), each naming the clerk.
    with db.reading() as session:
        actions = set(session.execute(select(AuditEntry.action)).scalars())
        called = (
            session.execute(
                select(HallEvent).where(HallEvent.kind == "ticket_called").order_by(HallEvent.seq)
            )
            .scalars()
            .first()
        )
    assert {"window.state", "auth.sign_in"} <= actions
    assert called is not None and called.payload.get("actor") == "staff:BH0101"


def test_register_case_print_slip_and_advance(browser: Browser, db, clock) -> None:
    ticket = issue(db, "A", clock=clock)
    assert browser.sign_in("BH0101", "1").status_code == 302
    browser.post("/console/call-next")
    form_page = browser.get(f"/cases/new?ticket={ticket.id}&matter=GS-001").get_data(as_text=True)
    assert "公司章程" in form_page and "不收费" in form_page
    case_id = register_case(browser, ticket_id=str(ticket.id))
    detail = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-case-state="accepted"' in detail and "张*丰" in detail
    assert "13812345678" not in detail
    slip = browser.get(f"/cases/{case_id}/slip").get_data(as_text=True)
    assert "受理通知书" in slip and "<svg" in slip and "张三丰" in slip
    with db.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.ticket_id == ticket.id
        assert f'data-qr-url="http://localhost/m/c/{case.public_token}"' in slip
        receipt = case.receipt_number
    assert receipt in slip
    for action in ("undertake", "review", "approve", "complete"):
        response = browser.post(f"/cases/{case_id}/transition", {"action": action})
        assert response.status_code == 302, action
    refused = browser.post(f"/cases/{case_id}/transition", {"action": "deliver"})
    assert refused.status_code == 302  # shown as a message: who collected it is required
    delivered = browser.post(
        f"/cases/{case_id}/transition", {"action": "deliver", "collected_by": "张三丰"}
    )
    assert delivered.status_code == 302
    browser.post(f"/cases/{case_id}/disclosure", {"public": "1"})
    detail = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-case-state="delivered"' in detail and "发证/取件" in detail


def test_not_accepted_case_prints_the_notice(browser: Browser) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    case_id = register_case(browser, decision="not_accept", reason="不属于本中心受理范围")
    notice = browser.get(f"/cases/{case_id}/notice").get_data(as_text=True)
    assert "不予受理通知书" in notice and "不属于本中心受理范围" in notice
    assert browser.get(f"/cases/{case_id}/slip").status_code == 302


def test_suspend_resume_and_forward(browser: Browser) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    case_id = register_case(browser)
    browser.post(f"/cases/{case_id}/suspend", {"kind": "补正", "reason": "缺少公司章程"})
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "暂停计时" in page and "缺少公司章程" in page
    browser.post(f"/cases/{case_id}/resume", {"note": "已补齐"})
    browser.post(f"/cases/{case_id}/forward", {"department": "GSJ", "note": "涉税"})
    # Forwarded to another department: out of this clerk's scope now.
    assert browser.get(f"/cases/{case_id}").status_code == 404


def test_material_upload_checks_type_and_stays_in_scope(browser: Browser) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    case_id = register_case(browser)
    pdf = io.BytesIO(b"%PDF-1.4\n" + b"0" * 300_000)  # above the JSON API's body limit
    uploaded = browser.post(
        f"/cases/{case_id}/materials",
        {"material": "公司章程", "file": (pdf, "章程.pdf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    link = re.search(rf"/cases/{case_id}/files/([0-9a-f]+)", page)
    assert link and "章程.pdf" in page
    download = browser.get(link.group(0))
    assert download.status_code == 200 and download.data.startswith(b"%PDF-")
    fake = io.BytesIO(b"MZ\x90\x00 not a document")
    refused = browser.post(
        f"/cases/{case_id}/materials",
        {"material": "公司章程", "file": (fake, "scan.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 302
    assert "只接受" in browser.get(f"/cases/{case_id}").get_data(as_text=True)


def test_clerk_cannot_open_another_departments_case(browser: Browser, client, api: Api) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302  # 工商 window
    case_id = register_case(browser)
    other = Browser(client.application.test_client())
    assert other.sign_in("BH0401", "4").status_code == 302  # 国税 window
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/slip"):
        assert other.get(path).status_code == 404
    refused = other.post(f"/cases/{case_id}/transition", {"action": "undertake"})
    assert refused.status_code == 302  # back with "not found", nothing changed
    listing = other.get("/cases").get_data(as_text=True)
    assert f'/cases/{case_id}"' not in listing
    token = api.sign_in("BH0401", window="4")
    status, _body = api.get(f"/api/v1/cases/{case_id}", token)
    assert status == 404


def test_supervisor_reads_every_case_and_changes_none(browser: Browser, client) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    case_id = register_case(browser)
    supervisor = Browser(client.application.test_client())
    assert supervisor.sign_in("BH9001").status_code == 302
    page = supervisor.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-case-state="accepted"' in page and 'data-action="undertake"' not in page
    refused = supervisor.post(f"/cases/{case_id}/transition", {"action": "undertake"})
    assert refused.status_code == 302
    assert 'data-case-state="accepted"' in supervisor.get(f"/cases/{case_id}").get_data(
        as_text=True
    )
    assert supervisor.get("/console").status_code == 302  # no window: sent to sign in at one


def test_delegation_grants_access_for_its_period_only(browser: Browser, client, clock) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    case_id = register_case(browser)
    delegate = Browser(client.application.test_client())
    assert delegate.sign_in("BH0401", "4").status_code == 302
    assert delegate.get(f"/cases/{case_id}").status_code == 404
    created = browser.post(
        "/workbench/delegations",
        {
            "delegate_other": "BH0401",
            "scope": "all",
            "ends_at": _hall_local(clock, hours=2),
            "reason": "外出培训",
        },
    )
    assert created.status_code == 302
    assert delegate.get(f"/cases/{case_id}").status_code == 200
    workbench = delegate.get("/workbench").get_data(as_text=True)
    assert f'data-case-id="{case_id}"' in workbench
    assert delegate.post(f"/cases/{case_id}/transition", {"action": "undertake"}).status_code == 302
    assert 'data-case-state="undertaking"' in delegate.get(f"/cases/{case_id}").get_data(
        as_text=True
    )
    clock.advance(hours=2, minutes=1)  # the delegation ends by itself
    assert delegate.get(f"/cases/{case_id}").status_code == 404


def _hall_local(clock, **delta: float) -> str:
    from zoneinfo import ZoneInfo

    moment = (clock() + timedelta(**delta)).astimezone(ZoneInfo("Asia/Shanghai"))
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_phone_ticket_page_is_private_and_token_bound(browser: Browser, db, clock) -> None:
    ticket = issue(db, "A", clock=clock)
    issue(db, "A", clock=clock)
    page = browser.get(f"/m/t/{ticket.public_token}").get_data(as_text=True)
    assert "A001" in page and 'data-ahead="0"' in page
    assert browser.get("/m/t/not-a-real-token").status_code == 404


def test_phone_case_page_shows_masked_progress(browser: Browser, db) -> None:
    assert browser.sign_in("BH0101", "1").status_code == 302
    case_id = register_case(browser)
    with db.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None
        token = case.public_token
    anonymous = Browser(browser.client.application.test_client())
    page = anonymous.get(f"/m/c/{token}").get_data(as_text=True)
    assert "张*丰" in page and "张三丰" not in page and "13812345678" not in page
    assert anonymous.get("/m/c/guess").status_code == 404


def test_booking_an_appointment_follows_the_hall_rules(browser: Browser, db, clock) -> None:
    page = browser.get("/m/book?matter=GS-001").get_data(as_text=True)
    days = re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', page)
    assert days and "2026-11-26" not in days  # not today: at least one working day ahead
    slots = browser.get(f"/m/book?matter=GS-001&day={days[0]}").get_data(as_text=True)
    assert 'value="09:00"' in slots
    browser.refresh_token(f"/m/book?matter=GS-001&day={days[0]}")
    form = {
        "hall": "BH",
        "matter": "GS-001",
        "day": days[0],
        "slot": "09:00",
        "name": "李四",
        "id_number": resident_id(serial="456"),
        "phone": "13900001111",
    }
    booked = browser.post("/m/book", form)
    assert booked.status_code == 302
    confirmation = browser.get(booked.headers["Location"]).get_data(as_text=True)
    code = re.search(r"data-appointment-code>([A-Z0-9]{8})<", confirmation)
    assert code and "李*" in confirmation
    again = browser.post("/m/book", {**form, "slot": "09:30"})
    assert again.status_code == 200 and "每人每天限预约一次" in again.get_data(as_text=True)
    with db.reading() as session:
        row = session.execute(
            select(Appointment).where(Appointment.code == code.group(1))
        ).scalar_one()
        assert row.phone_last4 == "1111" and "13900001111" not in row.phone_cipher
        assert row.name_masked == "李*"
    cancelled = browser.post(booked.headers["Location"] + "/cancel")
    assert cancelled.status_code == 302
    assert "预约已取消" in browser.get(booked.headers["Location"]).get_data(as_text=True)
    assert browser.get("/m/book/forged-signature").status_code == 404
