"""The 2027 calendar through the pages (items 4 and 13 of issue 14): a
provisional due date is marked on the acceptance slip and the phone page; the
administrator pastes the State Council notice, previews it, saves it with the
year confirmed, and the dates move and stop being provisional."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from backend.db import Database
from backend.models import AuditEntry, CalendarYear, Case, CaseEvent, Role, Staff, WorkdayOverride
from backend.models.supervision import Alert
from tests.conftest import FakeClock, register_restaurant_case
from tests.web.helpers import Browser

ADMIN = "BH9101"
ACCEPTED = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in the hall
NOTICE = """国务院办公厅关于2027年部分节假日安排的通知
一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月6日（农历腊月三十、周六）至13日（周六）放假调休，共8天。2月20日（周六）上班。
"""


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _register(db: Database) -> tuple[int, str, str]:
    """A 20-working-day case accepted 2026-12-07: provisionally due 2027-01-04."""
    with db.writing() as session:
        members = session.execute(
            select(Staff).where(Staff.department.has(code="GT")).order_by(Staff.id)
        ).scalars()
        handler = next(s for s in members if s.has_role(Role.CLERK))
        case = register_restaurant_case(
            session, matter_code="GT-001", handler=handler, now=ACCEPTED
        )
        return case.id, case.public_token, handler.employee_no


def _count(db: Database, model: Any) -> int:
    with db.reading() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_slip_and_phone_page_mark_a_provisional_due_date(
    browser: Browser, db: Database, clock: FakeClock
) -> None:
    clock.now = ACCEPTED
    case_id, token, handler = _register(db)
    assert browser.sign_in(handler).status_code == 302
    slip = text(browser.get(f"/cases/{case_id}/slip"))
    assert "2027-01-04" in slip and "data-due-provisional" in slip
    assert "2027年节假日安排尚未公布" in slip
    anonymous = Browser(browser.client.application.test_client())
    phone = text(anonymous.get(f"/m/c/{token}"))
    assert "2027-01-04" in phone and "data-due-provisional" in phone and "暂定" in phone

    admin = Browser(browser.client.application.test_client())
    assert admin.sign_in(ADMIN).status_code == 302
    assert admin.post("/admin/calendar/years/2027/confirm", {"source": ""}).status_code == 302
    # Confirmed without a holiday on 1 January: the date stays, and is final now.
    assert "data-due-provisional" not in text(browser.get(f"/cases/{case_id}/slip"))
    assert "data-due-provisional" not in text(anonymous.get(f"/m/c/{token}"))


def test_notice_paste_preview_then_save_confirms_the_year(
    browser: Browser, db: Database, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
    case_id, _token, handler = _register(db)
    assert browser.sign_in(ADMIN).status_code == 302
    page = text(browser.get("/admin/calendar?year=2027"))
    assert "data-provisional" in page and "data-import-form" in page

    form = {"kind": "notice", "content": NOTICE, "source": "国办发明电〔2026〕号", "confirm": "y"}
    preview = browser.post("/admin/calendar/import?year=2027", {**form, "step": "preview"})
    assert preview.status_code == 200
    body = text(preview)
    assert 'data-preview-day="2027-01-01" data-working="0"' in body
    assert 'data-preview-day="2027-02-20" data-working="1"' in body
    assert "data-save-button" in body and "data-problems" not in body
    assert _count(db, WorkdayOverride) == 0  # a preview saves nothing

    saved = browser.post("/admin/calendar/import?year=2027", {**form, "step": "save"})
    assert saved.status_code == 302
    with db.reading() as session:
        assert session.execute(select(func.count()).select_from(WorkdayOverride)).scalar_one() == 12
        year = session.get(CalendarYear, 2027)
        assert year is not None and year.confirmed and year.source == "国办发明电〔2026〕号"
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.due_on, case.due_provisional) == (date(2027, 1, 5), False)
        assert (
            session.execute(
                select(CaseEvent.note).where(
                    CaseEvent.case_id == case_id, CaseEvent.action == "deadline_moved"
                )
            ).scalar_one()
            == "承诺办结日期由 2027-01-04 调整为 2027-01-05（节假日安排变更）"
        )
        assert (
            session.execute(
                select(AuditEntry.detail).where(AuditEntry.action == "calendar.import")
            ).scalar_one()["confirmed"]
            is True
        )
    page = text(browser.get("/admin/calendar?year=2027"))
    assert "data-provisional" not in page and "data-confirmed" in page
    assert "1 件办理中的办件承诺办结日期已重新计算" in page

    # The handler finds the moved date on the workbench until taking note of it.
    clerk = Browser(browser.client.application.test_client())
    assert clerk.sign_in(handler).status_code == 302
    workbench = text(clerk.get("/workbench"))
    assert f'data-moved-deadline="{case_id}"' in workbench
    assert "2027-01-04 → 2027-01-05" in workbench
    with db.reading() as session:
        alert_id = session.execute(
            select(Alert.id).where(Alert.case_id == case_id, Alert.kind == "期限变更")
        ).scalar_one()
    assert clerk.post(f"/workbench/deadline-notices/{alert_id}/seen").status_code == 302
    assert "data-moved-deadline" not in text(clerk.get("/workbench"))


def test_a_notice_with_errors_is_refused_and_changes_nothing(
    browser: Browser, db: Database
) -> None:
    assert browser.sign_in(ADMIN).status_code == 302
    # Pasted under the wrong year: 1 January 2026 was a Thursday, not a Friday.
    form = {"kind": "notice", "content": NOTICE, "confirm": "y", "step": "save"}
    refused = browser.post("/admin/calendar/import?year=2026", form)
    assert refused.status_code == 400
    body = text(refused)
    assert "data-problems" in body and "年份是否选对" in body and "data-save-button" not in body
    assert _count(db, WorkdayOverride) == 0 and _count(db, CalendarYear) == 0


def test_a_csv_file_is_previewed_from_the_upload(browser: Browser, db: Database) -> None:
    assert browser.sign_in(ADMIN).status_code == 302
    upload = (io.BytesIO("日期,类型,说明\n2027-01-01,休,元旦\n".encode()), "2027.csv")
    response = browser.post(
        "/admin/calendar/import?year=2027",
        {"kind": "notice", "content": "", "upload": upload, "step": "preview"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    body = text(response)
    assert 'data-preview-day="2027-01-01" data-working="0"' in body
    assert "2027-01-01,休,元旦" in body  # the preview carries the text for the save


def test_a_clerk_cannot_import_or_confirm(browser: Browser, db: Database) -> None:
    assert browser.sign_in("BH0101").status_code == 302
    form = {"kind": "notice", "content": NOTICE, "step": "save"}
    assert browser.post("/admin/calendar/import?year=2027", form).status_code in (302, 403)
    assert browser.post("/admin/calendar/years/2027/confirm", {}).status_code in (302, 403)
    assert _count(db, WorkdayOverride) == 0 and _count(db, CalendarYear) == 0
