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
