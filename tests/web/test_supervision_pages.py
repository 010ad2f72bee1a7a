"""电子监察 pages through the test client, on SQLite and PostgreSQL: who may see
what, the alert board's filters and colours, acknowledging (the supervisor's one
action), the navigation badge, overdue cases, findings, a case's alert history,
the live hall view, and the hall events that drive the live updates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.db import Database
from backend.models import Case, HallEvent, Staff
from backend.models.supervision import Alert
from backend.services import cases as case_service
from backend.services import supervision as sv
from tests.conftest import register_restaurant_case
from tests.web.helpers import FRAGMENT, Browser, issue

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUPERVISOR = "BH9001"
ADMIN = "BH9101"
SYJ_CLERK = "BH1101"  # 食品药品 window 11
SYJ_LEAD = "BH8006"
GS_LEAD = "BH8001"


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(UTC)


def register(db: Database, accepted: datetime, handler: str = SYJ_CLERK) -> int:
    """SYJ-001 (5 working days): accepted Tue 22 Sep 2026 → due Wed 30 Sep."""
    with db.writing() as session:
        staff = session.execute(select(Staff).where(Staff.employee_no == handler)).scalar_one()
        case = register_restaurant_case(session, matter_code="SYJ-001", handler=staff, now=accepted)
        return case.id


def scan(db: Database, now: datetime) -> sv.ScanReport:
    with db.writing() as session:
        return sv.scan(session, now)


@pytest.fixture
def yellow_case(db: Database) -> int:
    case_id = register(db, at(date(2026, 9, 22)))
    scan(db, at(date(2026, 10, 8)))  # the first working day after the National Day break
    return case_id


def rows(html: str) -> list[tuple[str, str]]:
    """(kind, state) of every alert row on a board."""
    return re.findall(r'data-alert-kind="([^"]+)" data-alert-state="([^"]+)"', html)


def test_pages_by_role(browser: Browser, client: FlaskClient) -> None:
    assert client.get("/supervision/alerts").status_code == 302  # not signed in
    assert browser.sign_in(SYJ_CLERK, "11").status_code == 302
    for path in ("/supervision", "/supervision/alerts", "/supervision/overdue"):
        response = browser.get(path)
        assert response.status_code == 403, path
        assert "您的角色无权访问此页面" in response.get_data(as_text=True)
    # The clerk's navigation has no 电子监察 entry and no badge.
    assert "alert-badge" not in browser.get("/workbench").get_data(as_text=True)


def test_board_shows_colour_coded_cards_and_filters(browser: Browser, db: Database) -> None:
    case_id = register(db, at(date(2026, 9, 22)))
    scan(db, at(date(2026, 9, 30)))  # the last working day: 预警
    browser.sign_in(SUPERVISOR)
    page = browser.get("/supervision/alerts").get_data(as_text=True)
    assert ("预警", "open") in rows(page)
    assert 'class="sv-kind kind-warning"' in page
    scan(db, at(date(2026, 10, 8)))  # one working day late: 黄牌, the 预警 escalated
    page = browser.get("/supervision/alerts").get_data(as_text=True)
    assert rows(page) == [("黄牌", "open")]
    assert 'class="sv-kind kind-yellow"' in page
    cleared = browser.get("/supervision/alerts?state=cleared").get_data(as_text=True)
    assert ("预警", "cleared") in rows(cleared) and "已升级为黄牌" in cleared
    assert ("提醒", "cleared") in rows(cleared) and "已过期限" in cleared
    scan(db, at(date(2026, 10, 12)))  # two working days after the card: 红牌
    page = browser.get("/supervision/alerts").get_data(as_text=True)
    assert rows(page)[0] == ("红牌", "open")  # the worst first
    assert 'class="sv-kind kind-red"' in page
    only_yellow = browser.get("/supervision/alerts?kind=黄牌").get_data(as_text=True)
    assert rows(only_yellow) == [("黄牌", "open")]
    with db.reading() as session:
        department = session.get(Case, case_id).department_id  # type: ignore[union-attr]
    assert len(rows(browser.get(f"/supervision/alerts?department={department}").data.decode())) == 2
    assert rows(browser.get(f"/supervision/alerts?department={department + 1}").data.decode()) == []
    assert browser.get("/supervision/alerts?kind=蓝牌").status_code == 400


def test_department_lead_sees_only_own_department(
    browser: Browser, app: Flask, db: Database, yellow_case: int
) -> None:
    browser.sign_in(GS_LEAD)
    assert rows(browser.get("/supervision/alerts").get_data(as_text=True)) == []
    assert "data-overdue-case" not in browser.get("/supervision/overdue").get_data(as_text=True)
    # Another department's case and its alert history: not found, as if missing.
    assert browser.get(f"/supervision/cases/{yellow_case}/alerts").status_code == 404
    with db.reading() as session:
        alert_id = session.execute(select(Alert.id)).scalar_one()
    refused = browser.post(f"/supervision/alerts/{alert_id}/acknowledge", {"note": "x"})
    assert refused.status_code == 302  # back with the error flashed
    with db.reading() as session:
        assert session.get(Alert, alert_id).acknowledged_at is None  # type: ignore[union-attr]
    other = Browser(app.test_client())
    other.sign_in(SYJ_LEAD)
    assert rows(other.get("/supervision/alerts").get_data(as_text=True)) == [("黄牌", "open")]


def test_supervisor_acknowledges_with_a_note_and_the_badge_counts_down(
    browser: Browser, db: Database, yellow_case: int
) -> None:
    browser.sign_in(SUPERVISOR)
    page = browser.get("/supervision").get_data(as_text=True)
    assert re.search(r'id="alert-badge"[^>]*><b data-alert-count="1">1</b>', page)
    assert (
        browser.get("/supervision/badge", headers=FRAGMENT)
        .get_data(as_text=True)
        .endswith(">1</b>")
    )
    with db.reading() as session:
        alert = session.execute(select(Alert)).scalar_one()
        before = session.execute(select(HallEvent.seq).order_by(HallEvent.seq.desc())).first()
    response = browser.post(
        f"/supervision/alerts/{alert.id}/acknowledge",
        {"note": "已电话督办，承办人承诺明日办结", "back": "/supervision/alerts?state=active"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/supervision/alerts?state=active"
    with db.reading() as session:
        stored = session.get(Alert, alert.id)
        assert stored is not None and stored.acknowledged_at is not None
        assert stored.acknowledge_note == "已电话督办，承办人承诺明日办结"
        supervisor = session.execute(select(Staff).where(Staff.employee_no == SUPERVISOR))
        assert stored.acknowledged_by_staff_id == supervisor.scalar_one().id
        # The acknowledgement is announced to the live pages.
        events = session.execute(
            select(HallEvent.kind, HallEvent.payload).where(
                HallEvent.seq > (before[0] if before else 0)
            )
        ).all()
    assert ("supervision_alert", {"acknowledged": 1, "alert_id": alert.id}) in [
        (kind, payload) for kind, payload in events
    ]
    board = browser.get("/supervision/alerts").get_data(as_text=True)
    assert rows(board) == [("黄牌", "acknowledged")] and "承办人承诺明日办结" in board
    assert browser.get("/supervision/badge", headers=FRAGMENT).get_data(as_text=True) == ""
    assert "data-alert-count" not in browser.get("/supervision").get_data(as_text=True)
    # A second acknowledgement keeps the first (idempotent).
    browser.post(f"/supervision/alerts/{alert.id}/acknowledge", {"note": "再次"})
    with db.reading() as session:
        assert session.get(Alert, alert.id).acknowledge_note.startswith("已电话")  # type: ignore[union-attr]
    # Without the CSRF token the form is refused.
    assert (
        browser.post(f"/supervision/alerts/{alert.id}/acknowledge", csrf=False).status_code == 400
    )


def test_the_scan_announces_new_alerts_once_per_hall(db: Database) -> None:
    register(db, at(date(2026, 9, 22)))
    register(db, at(date(2026, 9, 22)))
    with db.reading() as session:
        last = session.execute(select(HallEvent.seq).order_by(HallEvent.seq.desc())).first()
    scan(db, at(date(2026, 10, 8)))
    with db.reading() as session:
        events = session.execute(
            select(HallEvent.kind, HallEvent.payload).where(
                HallEvent.seq > (last[0] if last else 0)
            )
        ).all()
    announced = [payload for kind, payload in events if kind == "supervision_alert"]
    assert len(announced) == 1 and announced[0]["raised"] == 2


def test_overdue_list_marks_the_card(browser: Browser, db: Database, yellow_case: int) -> None:
    browser.sign_in(SUPERVISOR)
    page = browser.get("/supervision/overdue").get_data(as_text=True)
    row = re.search(
        rf'<tr data-overdue-case="{yellow_case}" class="kind-yellow">(.*?)</tr>', page, re.S
    )
    assert row, page
    assert "食品经营许可" in row.group(1) and 'data-kind="黄牌"' in row.group(1)
    # 2026-09-30 to 2026-11-26 (the app's today): 37 working days late.
    assert "<strong>37</strong>" in row.group(1)


def test_findings_list_abnormal_endings(browser: Browser, db: Database) -> None:
    case_id = register(db, at(date(2026, 11, 24)))
    with db.writing() as session:
        case = session.get(Case, case_id)
        assert case is not None
        case_service.transition(
            session,
            case_id=case_id,
            action="withdraw",
            actor=case_service.Actor("staff:test", case.handler_staff_id, case.department_id),
            now=at(date(2026, 11, 25)),
            note="申请人主动撤回",
        )
    scan(db, at(date(2026, 11, 25), 11))
    browser.sign_in(SUPERVISOR)
    page = browser.get("/supervision/findings").get_data(as_text=True)
    assert 'data-alert-kind="异常办结" data-rule="withdraw"' in page
    assert "申请人主动撤回" in page
    # Time-limit alerts are not findings.
    assert 'data-alert-kind="黄牌"' not in page
    fragment = browser.get("/supervision/findings", headers=FRAGMENT).get_data(as_text=True)
    assert fragment.lstrip().startswith("<table")


def test_case_alert_history_with_deliveries(
    browser: Browser, db: Database, yellow_case: int
) -> None:
    scan(db, at(date(2026, 10, 12)))
    browser.sign_in(SYJ_CLERK, "11")  # the handler may read the case, so its history
    page = browser.get(f"/supervision/cases/{yellow_case}/alerts").get_data(as_text=True)
    kinds = re.findall(
        r'<article class="sv-history [^"]*" data-alert="\d+" data-alert-kind="([^"]+)"', page
    )
    assert kinds == ["预警", "黄牌", "红牌"] or kinds == ["黄牌", "红牌"]
    assert 'data-delivery="in_page"' in page and "已送达" in page
    # No address on file for SMS: the gap is shown, not hidden.
    assert 'data-delivery="sms"' in page and "无地址" in page
    assert "data-ack=" not in page  # acknowledging is for supervisors and leads


def test_an_sms_without_a_gateway_shows_as_channel_off(
    browser: Browser, db: Database, yellow_case: int
) -> None:
    from backend.models.supervision import StaffContact
    from backend.services import notify
    from tests.conftest import FakeClock

    with db.writing() as session:
        case = session.get(Case, yellow_case)
        assert case is not None and case.handler_staff_id is not None
        session.add(StaffContact(staff_id=case.handler_staff_id, email="", phone="13912348888"))
    scan(db, at(date(2026, 10, 12)))
    report = sv.deliver_pending(db, notify.default_channels(), FakeClock(at(date(2026, 10, 12))))
    assert report.off >= 1 and report.sent == 0
    browser.sign_in(SYJ_CLERK, "11")
    page = browser.get(f"/supervision/cases/{yellow_case}/alerts").get_data(as_text=True)
    assert "通道未开通" in page and "139****8888" in page and "13912348888" not in page


def test_live_hall_view_and_its_fragment(browser: Browser, db: Database, clock) -> None:
    issue(db, "A", clock=clock)
    issue(db, "A", clock=clock)
    clock.advance(minutes=12)
    browser.sign_in(SUPERVISOR)
    page = browser.get("/supervision").get_data(as_text=True)
    assert 'data-live-refresh="/supervision/hall/panel"' in page
    assert "ticket_called" in page and "window_state" in page
    assert re.search(
        r'<tr data-category="A"[^>]*>.*?<td class="num" data-waiting>2</td>', page, re.S
    )
    assert "data-waiting-total>2<" in page
    assert 'data-elapsed="720"' in page  # the oldest A ticket has waited 12 minutes
    fragment = browser.get("/supervision/hall/panel", headers=FRAGMENT).get_data(as_text=True)
    assert "<html" not in fragment and "data-window=" in fragment


def test_a_fee_recorded_at_the_desk_is_checked_and_listed_with_the_findings(
    app: Flask, browser: Browser, db: Database
) -> None:
    """SYJ-001 is free (不收费): a fee recorded for it is a 收费异常 finding."""
    case_id = register(db, at(date(2026, 11, 24)))
    clerk = Browser(app.test_client())
    clerk.sign_in(SYJ_CLERK)
    refused = clerk.post(f"/cases/{case_id}/fee", {"amount": "三十"}, follow_redirects=True)
    assert "金额须为元" in refused.get_data(as_text=True)
    assert clerk.post(f"/cases/{case_id}/fee", {"amount": "30"}).status_code == 302
    detail = clerk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r"data-fee-charged>\s*30\.00 元", detail) and "不收费" in detail
    scan(db, at(date(2026, 11, 24), 11))
    browser.sign_in(SUPERVISOR)
    page = browser.get("/supervision/findings").get_data(as_text=True)
    assert 'data-alert-kind="收费异常" data-rule="fee_for_free_matter"' in page
    assert "不收费事项收费" in page and "30.00 元" in page
    english = browser.get("/supervision/findings?lang=en").get_data(as_text=True)
    assert "Fee anomaly" in english and "Fee charged for a free matter" in english
    assert "Duration anomaly" in english  # the kind filter offers it
