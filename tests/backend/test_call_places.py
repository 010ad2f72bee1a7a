"""Calls and the hall snapshot name the window's floor and area (issue 14, item 2).

A call at window 21 (二楼, floor 2) used to carry `floor: null`, so an announcer
configured for floor 2 could not tell it from a floor-1 call.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def _events(api: Api, token: str, kind: str) -> list[dict[str, Any]]:
    status, body = api.get("/api/v1/halls/BH/events?after=0&limit=2000", token)
    assert status == 200, body
    return [event["data"] for event in body["events"] if event["kind"] == kind]


def test_calls_and_recalls_carry_the_windows_floor_and_area(api: Api, device_token: Any) -> None:
    kiosk = device_token("kiosk-1", "kiosk")
    for category in ("J", "A"):
        status, ticket = api.post("/api/v1/halls/BH/tickets", kiosk, json={"category": category})
        assert status in (200, 201), ticket
    upstairs = api.sign_in("BH2101", "21")
    downstairs = api.sign_in("BH0101", "1")
    assert api.post("/api/v1/halls/BH/windows/21/call-next", upstairs)[0] == 200
    assert api.post("/api/v1/halls/BH/windows/1/call-next", downstairs)[0] == 200
    assert api.post("/api/v1/halls/BH/windows/21/recall", upstairs)[0] == 200

    places = {(e["window"], e["floor"], e["area"]) for e in _events(api, kiosk, "ticket_called")}
    assert places == {("21", 2, "二楼大厅"), ("1", 1, "一楼大厅")}
    (recall,) = _events(api, kiosk, "ticket_recalled")
    assert (recall["window"], recall["floor"], recall["area"]) == ("21", 2, "二楼大厅")

    status, snapshot = api.get("/api/v1/halls/BH/status")
    assert status == 200
    calls = {c["window"]: c["floor"] for c in snapshot["recent_calls"]}
    assert calls == {"21": 2, "1": 1}
    windows = {w["number"]: w["floor"] for w in snapshot["windows"]}
    assert windows["21"] == 2 and windows["1"] == 1
    categories = {c["prefix"]: c for c in snapshot["categories"]}
    assert (categories["J"]["floor"], categories["A"]["floor"]) == (2, 1)
    assert categories["J"]["area"].startswith("二楼") and categories["A"]["area"]
    assert all(c["floor"] is not None and c["area"] for c in snapshot["categories"])
