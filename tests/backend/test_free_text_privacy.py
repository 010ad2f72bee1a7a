"""Free text from the public is stored masked, and phones are masked by their shape.

A phone number typed into a rating's note used to be stored and returned in
clear; the staff view's phone mask used to make up an area code from the last
four digits (13800138000 -> 0000-***8000).
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import select, update

from backend.db import Database
from backend.migrate import alembic_config, upgrade
from backend.models import AuditEntry, Rating, Rectification
from backend.privacy import mask_phone, redact_text
from tests.backend.test_privacy_api import ID_NUMBER, resident_id
from tests.backend.test_ratings_api import rate, rectifications, serve
from tests.conftest import Api, clerk_for_window

SUPERVISOR = "BH9001"
NOTE = "手机13912345678联系我，邮箱 wang.li@example.com，家里022-23456789"
NOTE_MASKED = "手机139****5678联系我，邮箱 w***@example.com，家里022-****6789"


@pytest.fixture
def kiosk(device_token: Any) -> str:
    token: str = device_token("kiosk-1", "kiosk")
    return token


@pytest.fixture
def evaluator(device_token: Any) -> str:
    token: str = device_token("eval-1", "evaluator")
    return token


@pytest.mark.parametrize(
    ("typed", "shown", "in_text"),
    [
        ("13800138000", "138****8000", "138****8000"),
        ("138 0013 8000", "138****8000", "138 **** 8000"),
        ("+86 13800138000", "+86 138****8000", "+86 138****8000"),
        ("022-23451234", "022-****1234", "022-****1234"),
        ("(022)23451234", "022-****1234", "022-****1234"),
        ("010 65123456", "010-****3456", "010-****3456"),
        ("0571-87654321", "0571-****4321", "0571-****4321"),
        ("0416-1234567", "0416-***4567", "0416-***4567"),
        ("02223451234", "022-****1234", "022-****1234"),
        # No area code: only the last four digits are known to be safe to show.
        ("65123456", "****3456", "65123456"),
    ],
)
def test_phone_mask_keeps_the_numbers_own_shape(typed: str, shown: str, in_text: str) -> None:
    assert mask_phone(typed) == shown
    # Running text: the same shapes, as the person typed them.
    assert redact_text(f"请拨{typed}。") == f"请拨{in_text}。"


def test_redact_text_masks_free_text_and_leaves_other_numbers() -> None:
    assert redact_text(NOTE) == NOTE_MASKED
    assert redact_text(f"身份证{ID_NUMBER}") == f"身份证{ID_NUMBER[:3]}{'*' * 11}{ID_NUMBER[-4:]}"
    assert redact_text("（0571）87654321") == "0571-****4321"
    # Receipt numbers, dates, ticket numbers, amounts and ports are not phones.
    for text in ("受理号20261124409381750", "2026-12-06 10:00", "A001号", "120000元", ":5432"):
        assert redact_text(text) == text


def test_a_rating_note_is_stored_and_returned_masked(
    app: Flask, api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, _ = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket["id"], 5, note="手机13912345678联系我")
    assert status == 201, body
    assert body["note"] == "手机139****5678联系我"
    with db.reading() as session:
        stored = session.execute(select(Rating)).scalar_one()
    assert stored.note == "手机139****5678联系我"
    # A good rating is never called back: its original is not kept at all.
    assert stored.note_sealed == ""
    # A retry of the same rating answers the stored, masked note.
    status, again = rate(api, evaluator, ticket["id"], 5, note="手机13912345678联系我")
    assert (status, again["note"], again["duplicate"]) == (200, "手机139****5678联系我", True)


def test_a_bad_ratings_original_note_is_sealed_for_the_callback_only(
    app: Flask, api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, clerk = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket["id"], 1, reasons=["服务态度差"], note=NOTE)
    assert status == 201, body
    assert body["note"] == NOTE_MASKED
    with db.reading() as session:
        stored = session.execute(select(Rating)).scalar_one()
    assert "13912345678" not in stored.note_sealed
    protector = app.extensions["hallkit"].protector
    assert protector.open_text(stored.note_sealed) == NOTE

    supervisor = api.sign_in(SUPERVISOR)
    (item,) = rectifications(api, supervisor)
    assert "13912345678" not in str(item)
    original = f"/api/v1/rectifications/{item['id']}/original-note"
    status, refused = api.post(original, clerk, {})
    assert status == 403, refused
    assert api.post(original, supervisor, {}) == (200, {"id": item["id"], "note": NOTE})
    with db.reading() as session:
        (audit,) = session.execute(
            select(AuditEntry).where(AuditEntry.action == "rating.note_revealed")
        ).scalars()
    assert (audit.actor, audit.entity_id) == (f"staff:{SUPERVISOR}", str(item["id"]))
    assert "1391234" not in str(audit.detail)

    # The callback record is masked too; once it is made the original is closed.
    base = f"/api/v1/rectifications/{item['id']}"
    assert api.post(f"{base}/callback", supervisor, {"note": "已回访13912345678"})[0] == 200
    with db.reading() as session:
        assert (
            session.execute(select(Rectification.callback_note)).scalar_one() == "已回访139****5678"
        )
    status, closed = api.post(original, supervisor, {})
    assert status == 409, closed


def _register(api: Api, db: Database, phone: str, id_number: str) -> dict[str, Any]:
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    applicant = {"kind": "person", "name": "王小明", "id_number": id_number, "phone": phone}
    status, case = api.post(
        "/api/v1/cases", clerk, {"hall": "BH", "matter_code": "GS-001", "applicant": applicant}
    )
    assert status == 201, case
    return case


def test_the_case_view_masks_the_applicants_phone_by_its_shape(api: Api, db: Database) -> None:
    mobile = _register(api, db, "13800138000", ID_NUMBER)
    assert mobile["phone"] == "138****8000"
    landline = _register(api, db, "022-23451234", resident_id("12010219850101002"))
    assert landline["phone"] == "022-****1234"
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, detail = api.get(f"/api/v1/cases/{landline['id']}", clerk)
    assert (status, detail["phone"]) == (200, "022-****1234")


def test_the_upgrade_masks_notes_stored_in_clear_before_it(
    api: Api, db: Database, database_url: str, kiosk: str, evaluator: str
) -> None:
    ticket, _ = serve(api, db, kiosk)
    assert rate(api, evaluator, ticket["id"], 1, reasons=["服务态度差"])[0] == 201
    # Rows as an older version wrote them: the note and callback record in clear.
    with db.writing() as session:
        session.execute(update(Rating).values(note="手机13912345678联系我"))
        session.execute(update(Rectification).values(callback_note="回访022-23456789"))
    db.dispose()
    command.downgrade(alembic_config(database_url), "0005")
    upgrade(database_url)
    with db.reading() as session:
        assert session.execute(select(Rating.note)).scalar_one() == "手机139****5678联系我"
        assert session.execute(select(Rating.note_sealed)).scalar_one() == ""
        assert (
            session.execute(select(Rectification.callback_note)).scalar_one() == "回访022-****6789"
        )
