from __future__ import annotations

from tests.conftest import Api, clerk_for_window


def test_kiosk_ticket_then_clerk_calls_it(api: Api, db, device_token) -> None:
    kiosk = device_token()
    status, ticket = api.post(
        "/api/v1/halls/BH/tickets", kiosk, {"category": "A", "request_id": "r1"}
    )
    assert status == 201, ticket
    assert ticket["number"] == "A001"
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, called = api.post("/api/v1/halls/BH/windows/1/call-next", clerk)
    assert status == 200, called
    assert called["ticket"]["number"] == "A001"


def test_repeated_wrong_passwords_lock_the_account(api: Api, db) -> None:
    employee_no = clerk_for_window(db, "1")
    for _ in range(5):
        status, body = api.post(
            "/api/v1/auth/sign-in",
            json={"employee_no": employee_no, "password": "wrong-password", "hall": "BH"},
        )
        assert status == 401
    # Even the right password is refused while the account is locked.
    status, body = api.post(
        "/api/v1/auth/sign-in",
        json={"employee_no": employee_no, "password": "demo-pass-2026", "hall": "BH"},
    )
    assert status == 401
    assert "locked_until" in body["error"]["detail"]
