"""Who may do what: the staff pages and the JSON API answer alike (issue 14, item 20).

One rule (backend/services/access.py) for both; a test per role × resource
asks the page and the API the same question. Refusals are audited without
personal data; a delegate's action is recorded "on behalf of" the delegator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.db import Database
from backend.models import AuditEntry, CaseEvent, Delegation, Staff
from tests.conftest import Api, FakeClock
from tests.web.helpers import Browser, resident_id

# Role -> (employee number, window signed in at). The clerk and the lead are of
# 工商 (GS), the department of the case; the other clerk sits at 国税 window 4.
ROLES: dict[str, tuple[str, str | None]] = {
    "clerk": ("BH0101", "1"),
    "other_department_clerk": ("BH0401", "4"),
    "department_lead": ("BH8001", None),
    "supervisor": ("BH9001", None),
    "administrator": ("BH9101", None),
}
CASE_FORM = {
    "matter": "GS-001",
    "applicant_kind": "person",
    "applicant_name": "张三丰",
    "phone": "13812345678",
    "received": ["0", "1"],
    "decision": "accept",
}


def _case(client: FlaskClient) -> int:
    clerk = Browser(client.application.test_client())
    assert clerk.sign_in("BH0101", "1").status_code == 302
    response = clerk.post("/cases/new", {**CASE_FORM, "id_number": resident_id()})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").split("/")[-1].split("?")[0])


def _matter_spec(api: Api) -> dict[str, Any]:
    status, detail = api.get("/api/v1/catalog/matters/GS-002")
    assert status == 200
    return {k: v for k, v in detail.items() if k not in ("version", "department_name", "is_free")}


# resource -> (roles allowed, how the page asks, how the API asks); a refusal is
# 403, or 404 for a case out of the person's scope (as if it did not exist).
def _ask_devices(page: Browser, api: Api, token: str, _case_id: int) -> tuple[int, int]:
    return (
        page.get("/admin/devices").status_code,
        api.get("/api/v1/halls/BH/devices", token)[0],
    )


def _ask_case(page: Browser, api: Api, token: str, case_id: int) -> tuple[int, int]:
    return page.get(f"/cases/{case_id}").status_code, api.get(f"/api/v1/cases/{case_id}", token)[0]


def _ask_catalog_edit(page: Browser, api: Api, token: str, _case_id: int) -> tuple[int, int]:
    spec = _matter_spec(api)
    return (
        page.get("/admin/catalog/m/GS-002/edit").status_code,
        api.call("PUT", "/api/v1/catalog/matters/GS-002", token, json=spec)[0],
    )


def _ask_supervision(page: Browser, api: Api, token: str, _case_id: int) -> tuple[int, int]:
    return page.get("/supervision").status_code, api.get("/api/v1/supervision/hall/BH", token)[0]


def _ask_performance(page: Browser, api: Api, token: str, _case_id: int) -> tuple[int, int]:
    return (
        page.get("/performance").status_code,
        api.get("/api/v1/performance/summary", token)[0],
    )


OVERSIGHT = {"department_lead", "supervisor", "administrator"}
RESOURCES = {
    "supervision": (OVERSIGHT, _ask_supervision, 403),
    "performance": (OVERSIGHT, _ask_performance, 403),
    "devices": ({"supervisor", "administrator"}, _ask_devices, 403),
    "case": (
        {"clerk", "department_lead", "supervisor", "administrator"},
        _ask_case,
        404,
    ),
    "catalog_edit": ({"administrator"}, _ask_catalog_edit, 403),
}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_pages_and_api_answer_alike(
    role: str, resource: str, client: FlaskClient, api: Api, db: Database
) -> None:
    case_id = _case(client)
    employee_no, window = ROLES[role]
    page = Browser(client.application.test_client())
    assert page.sign_in(employee_no, window).status_code == 302
    token = api.sign_in(employee_no, window)
    allowed, ask, refused = RESOURCES[resource]

    page_status, api_status = ask(page, api, token, case_id)

    expected = 200 if role in allowed else refused
    assert (page_status, api_status) == (expected, expected)
    refusals = _refusals(db, f"staff:{employee_no}")
    assert len(refusals) == (0 if role in allowed else 2)  # the page's and the API's


def test_a_refusal_is_audited_without_personal_data(
    client: FlaskClient, api: Api, db: Database
) -> None:
    case_id = _case(client)
    token = api.sign_in("BH0401", "4")
    assert api.get(f"/api/v1/cases/{case_id}", token)[0] == 404
    assert api.post("/api/v1/halls/BH/windows/1/call-next", token)[0] == 403
    entries = _refusals(db, "staff:BH0401")
    assert [(e.entity_id, e.detail["status"]) for e in entries] == [
        (f"/api/v1/cases/{case_id}", 404),
        ("/api/v1/halls/BH/windows/1/call-next", 403),
    ]
    text = " ".join(f"{e.actor} {e.entity_id} {e.detail}" for e in entries)
    assert "张三丰" not in text and "13812345678" not in text and "BH0101" not in text


def test_a_delegate_acts_through_the_api_on_behalf_of_the_delegator(
    client: FlaskClient, api: Api, db: Database, clock: FakeClock
) -> None:
    case_id = _case(client)
    token = api.sign_in("BH0401", "4")
    assert api.get(f"/api/v1/cases/{case_id}", token)[0] == 404
    with db.writing() as session:
        ids = dict(
            session.execute(
                select(Staff.employee_no, Staff.id).where(
                    Staff.employee_no.in_(["BH0101", "BH0401"])
                )
            ).all()
        )
        session.add(
            Delegation(
                delegator_staff_id=ids["BH0101"],
                delegate_staff_id=ids["BH0401"],
                scope="all",
                starts_at=clock() - timedelta(minutes=1),
                ends_at=clock() + timedelta(hours=2),
                reason="外出培训",
            )
        )
    status, _case_view = api.get(f"/api/v1/cases/{case_id}", token)
    assert status == 200  # the API honours the delegation the pages honour
    status, body = api.post(
        f"/api/v1/cases/{case_id}/transitions", token, json={"action": "undertake"}
    )
    assert status == 200, body
    page = Browser(client.application.test_client())
    assert page.sign_in("BH0401", "4").status_code == 302
    response = page.post(f"/cases/{case_id}/transition", {"action": "review"})
    assert response.status_code == 302

    on_behalf = "staff:BH0401 on behalf of staff:BH0101"
    with db.reading() as session:
        events = session.execute(
            select(CaseEvent.action, CaseEvent.actor_label)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.id)
        ).all()
        audited = session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.entity == "case", AuditEntry.entity_id == str(case_id)
            )
        ).all()
    assert [(a, actor) for a, actor in events if actor.startswith("staff:BH0401")] == [
        ("undertake", on_behalf),
        ("review", on_behalf),
    ]
    assert ("case.undertake", on_behalf) in audited and ("case.review", on_behalf) in audited
    clock.advance(hours=3)  # the delegation has ended: refused again, in both
    assert api.get(f"/api/v1/cases/{case_id}", token)[0] == 404
    assert page.get(f"/cases/{case_id}").status_code == 404


def _refusals(db: Database, actor: str) -> list[AuditEntry]:
    with db.reading() as session:
        return list(
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "access.refused", AuditEntry.actor == actor)
                .order_by(AuditEntry.id)
            ).scalars()
        )
