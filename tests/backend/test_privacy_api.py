"""Personal data around cases: the public lookup, the QR progress page, what the
case row stores and what the logs see."""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.db import Database
from backend.models import Case
from backend.privacy import credit_code_check_character, mask_id_number
from backend.receipts import new_receipt_number
from tests.conftest import Api, clerk_for_window


def resident_id(first17: str) -> str:
    """A synthetic 居民身份证号 with a correct GB 11643 check character."""
    weights = [pow(2, 17 - position, 11) for position in range(17)]
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


NAME = "张晓三"
ID_NUMBER = resident_id("32010619900307123")
PHONE = "13987654321"
LOOKUP = "/api/v1/public/case-lookup"


def register_case(api: Api, db: Database) -> dict[str, Any]:
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, case = api.post(
        "/api/v1/cases",
        clerk,
        {
            "hall": "BH",
            "matter_code": "GS-001",
            "applicant": {"kind": "person", "name": NAME, "id_number": ID_NUMBER, "phone": PHONE},
        },
    )
    assert status == 201, case
    return case


def assert_no_personal_data(text: str) -> None:
    for secret in (ID_NUMBER, ID_NUMBER[6:14], PHONE, PHONE[3:7] + PHONE[7:], NAME):
        assert secret not in text, secret


def lookup(client: FlaskClient, receipt: str, last4: str) -> Any:
    return client.post(LOOKUP, json={"receipt_number": receipt, "phone_last4": last4})


def test_public_views_show_the_masked_applicant_and_no_personal_data(
    api: Api, db: Database, client: FlaskClient
) -> None:
    case = register_case(api, db)
    by_lookup = lookup(client, case["receipt_number"], PHONE[-4:])
    by_token = client.get(f"/api/v1/public/cases/{case['public_token']}")
    for response in (by_lookup, by_token):
        assert response.status_code == 200, response.get_json()
        view = response.get_json()
        assert view["receipt_number"] == case["receipt_number"]
        assert view["applicant"] == "张*三"
        assert (view["state"], view["due_on"]) == ("accepted", "2026-11-27")
        assert "applicant_id" not in view and "phone" not in view
        assert [item["step"] for item in view["timeline"]] == ["受理"]
        assert set(view["timeline"][0]) == {"at", "step", "action"}  # no staff names either
        assert_no_personal_data(response.get_data(as_text=True))
    assert client.get("/api/v1/public/cases/" + "A" * 43).status_code == 404


def test_lookup_misses_are_indistinguishable_and_malformed_receipts_are_400(
    api: Api, db: Database, client: FlaskClient
) -> None:
    case = register_case(api, db)
    good = case["receipt_number"]
    wrong_digits = lookup(client, good, "0000")
    unknown = new_receipt_number(date(2026, 11, 26))
    assert unknown != good
    no_such_case = lookup(client, unknown, PHONE[-4:])
    # The same answer whether the receipt exists or not: nothing to enumerate.
    assert wrong_digits.status_code == no_such_case.status_code == 404
    assert wrong_digits.get_data() == no_such_case.get_data()
    assert wrong_digits.get_json()["error"]["code"] == "not_found"
    assert_no_personal_data(wrong_digits.get_data(as_text=True))

    typo = good[:-2] + good[-1] + good[-2] if good[-1] != good[-2] else good[:-1] + "x"
    for receipt in (good[:-1], typo, "2026-11-26-1234", "20261332123456780"):
        response = lookup(client, receipt, PHONE[-4:])
        assert response.status_code == 400, receipt
        assert response.get_json()["error"]["code"] == "bad_input"
    assert lookup(client, good, "12a4").status_code == 400


def test_public_lookup_is_rate_limited_per_client(app: Flask, client: FlaskClient) -> None:
    allowed = app.extensions["hallkit"].settings.public_lookup_per_minute
    unknown = new_receipt_number(date(2026, 11, 26))
    for _ in range(allowed):
        assert lookup(client, unknown, "1234").status_code == 404
    response = lookup(client, unknown, "1234")
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.get_json()["error"]["detail"]["retry_after_seconds"] >= 1
    # Another address has its own allowance.
    other = client.post(
        LOOKUP,
        json={"receipt_number": unknown, "phone_last4": "1234"},
        environ_overrides={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other.status_code == 404


def test_case_row_stores_identity_protected(app: Flask, api: Api, db: Database) -> None:
    case = register_case(api, db)
    with db.reading() as session:
        row = session.execute(select(Case).where(Case.id == case["id"])).scalar_one()
        columns = {c.key: getattr(row, c.key) for c in Case.__table__.columns}
    assert ID_NUMBER not in row.applicant_id_cipher
    assert re.fullmatch(r"[0-9a-f]{64}", row.applicant_id_hash)
    assert row.applicant_id_masked == mask_id_number(ID_NUMBER) == "320***********" + ID_NUMBER[-4:]
    assert row.applicant_name != NAME and row.applicant_name_masked == "张*三"
    assert row.phone_last4 == PHONE[-4:]
    stored = " ".join(str(value) for value in columns.values())
    assert_no_personal_data(stored)
    # Protected, not thrown away: the key holder can still read them.
    protector = app.extensions["hallkit"].protector
    assert protector.reveal(row.applicant_id_cipher) == ID_NUMBER
    assert protector.lookup_hash(ID_NUMBER) == row.applicant_id_hash
    assert protector.open_text(row.applicant_name) == NAME

    # An organisation's name is public; its 统一社会信用代码 is protected like an ID.
    code = "91320106MA1XYW7Q0" + credit_code_check_character("91320106MA1XYW7Q0")
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, body = api.post(
        "/api/v1/cases",
        clerk,
        {
            "hall": "BH",
            "matter_code": "GS-001",
            "applicant": {
                "kind": "organisation",
                "name": "锦州滨海示例科技有限公司",
                "id_number": code,
                "phone": "0416-1234567",
            },
        },
    )
    assert status == 201, body
    assert body["applicant"] == "锦州滨海示例科技有限公司"
    with db.reading() as session:
        org = session.execute(select(Case).where(Case.id == body["id"])).scalar_one()
    assert org.applicant_name == "锦州滨海示例科技有限公司"
    assert code not in org.applicant_id_cipher and protector.reveal(org.applicant_id_cipher) == code
    assert org.applicant_id_masked == mask_id_number(code)
    assert org.phone_last4 == "4567"


def test_registration_logs_no_raw_id_number(
    api: Api, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    caplog.set_level(logging.DEBUG)
    status, _ = api.post(
        "/api/v1/cases",
        clerk,
        {
            "hall": "BH",
            "matter_code": "GS-001",
            "applicant": {"kind": "person", "name": NAME, "id_number": ID_NUMBER, "phone": PHONE},
        },
    )
    assert status == 201
    # A rejected registration is logged too ("rejected bad_input: …").
    status, _ = api.post(
        "/api/v1/cases",
        clerk,
        {
            "hall": "BH",
            "matter_code": "GS-001",
            "applicant": {
                "kind": "person",
                "name": NAME,
                "id_number": ID_NUMBER[:17] + "Y",
                "phone": PHONE,
            },
        },
    )
    assert status == 400
    assert caplog.records, "expected the request to log something"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert ID_NUMBER not in text and ID_NUMBER[:17] not in text, text
        assert PHONE not in text, text


def test_person_names_up_to_the_api_limit_are_accepted(api: Api, db: Database) -> None:
    """The API takes names of up to 200 characters (ApplicantIn.name); the stored form
    of a person's name is its ciphertext, which must fit as well."""
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    for length in (40, 60, 200):
        name = ("阿卜杜热合曼·买买提" * 30)[:length]
        status, body = api.post(
            "/api/v1/cases",
            clerk,
            {
                "hall": "BH",
                "matter_code": "GS-001",
                "applicant": {
                    "kind": "person",
                    "name": name,
                    "id_number": ID_NUMBER,
                    "phone": PHONE,
                },
            },
        )
        assert status == 201, (length, body)
        assert body["applicant"] == name[0] + "*" * (length - 2) + name[-1]
