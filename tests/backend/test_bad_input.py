"""Rejected requests: every one answers {"error": {"code", "message"}} with the
right status, and none of them changes anything in the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from backend.db import Database
from backend.models import (
    ApiToken,
    AuditEntry,
    Case,
    CaseEvent,
    HallEvent,
    Rating,
    RatingRequest,
    Ticket,
)
from tests.conftest import DEMO_PASSWORD, Api, clerk_for_window

WATCHED = (Ticket, Case, CaseEvent, Rating, RatingRequest, AuditEntry, HallEvent, ApiToken)


def resident_id(first17: str) -> str:
    """A synthetic 居民身份证号 with a correct GB 11643 check character."""
    weights = [pow(2, 17 - position, 11) for position in range(17)]
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    token: str | None
    body: dict[str, Any]  # a well-formed body

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def counts(db: Database) -> dict[str, int]:
    with db.reading() as session:
        return {
            model.__tablename__: int(
                session.execute(select(func.count()).select_from(model)).scalar_one()
            )
            for model in WATCHED
        }


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def send(client: FlaskClient, target: Target, data: str | bytes, content_type: str) -> TestResponse:
    return client.post(target.path, data=data, headers=target.headers(content_type))


@pytest.fixture
def targets(api: Api, db: Database, device_token: Any) -> list[Target]:
    kiosk = device_token("kiosk-1", "kiosk")
    evaluator = device_token("eval-1", "evaluator")
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    applicant = {
        "kind": "person",
        "name": "李四",
        "id_number": resident_id("11010519880214003"),
        "phone": "13912345678",
    }
    return [
        Target("issue ticket", "/api/v1/halls/BH/tickets", kiosk, {"category": "A"}),
        Target(
            "register case",
            "/api/v1/cases",
            clerk,
            {"hall": "BH", "matter_code": "GS-001", "applicant": applicant},
        ),
        Target(
            "submit rating",
            "/api/v1/halls/BH/ratings",
            evaluator,
            {"rating_id": "r-1", "level": 5, "ticket_id": 1, "window": "1"},
        ),
        Target(
            "sign in",
            "/api/v1/auth/sign-in",
            None,
            {"employee_no": "BH0101", "password": DEMO_PASSWORD},
        ),
    ]


def test_malformed_json_is_400_and_changes_nothing(
    client: FlaskClient, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    for target in targets:
        for raw in ('{"category": "A",', "{'single': 'quotes'}", "", "\xff\xfe", "NaN]"):
            error = assert_error(send(client, target, raw, "application/json"), 400, "bad_input")
            assert "JSON" in error["message"], (target.name, raw)
        for not_an_object in ("[]", "null", '"text"', "42"):
            response = send(client, target, not_an_object, "application/json")
            assert_error(response, 400, "bad_input")
    assert counts(db) == before


def test_wrong_content_type_is_400_and_changes_nothing(
    client: FlaskClient, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    for target in targets:
        payload = json.dumps(target.body)
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/json"):
            error = assert_error(send(client, target, payload, content_type), 400, "bad_input")
            assert "Content-Type" in error["message"]
        response = client.post(target.path, data=target.body, headers=target.headers(""))
        assert_error(response, 400, "bad_input")  # a form post
    assert counts(db) == before


def test_unknown_field_is_400_naming_the_field(
    api: Api, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    for target in targets:
        status, body = api.post(target.path, target.token, target.body | {"colour": "red"})
        assert status == 400, (target.name, body)
        assert body["error"]["code"] == "bad_input"
        fields = [item["field"] for item in body["error"]["detail"]["errors"]]
        assert fields == ["colour"], (target.name, fields)
    case = targets[1]
    nested = case.body | {"applicant": case.body["applicant"] | {"nickname": "小李"}}
    status, body = api.post(case.path, case.token, nested)
    assert status == 400
    assert [e["field"] for e in body["error"]["detail"]["errors"]] == ["applicant.nickname"]
    assert counts(db) == before


def test_wrong_types_are_400_naming_the_field(
    api: Api, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    wrong = {
        "issue ticket": {"category": 5, "priority_kind": "vip"},
        "register case": {"applicant": "李四", "joint_departments": "GS"},
        "submit rating": {"level": "five", "reasons": "太慢"},
        "sign in": {"employee_no": ["BH0101"]},
    }
    for target in targets:
        changes = wrong[target.name]
        status, body = api.post(target.path, target.token, target.body | changes)
        assert status == 400, (target.name, body)
        assert body["error"]["code"] == "bad_input"
        fields = {item["field"].split(".")[0] for item in body["error"]["detail"]["errors"]}
        assert fields == set(changes), (target.name, fields)
    # Values of the right type but out of range are refused the same way.
    rating = targets[2]
    for changes in ({"level": 0}, {"level": 6}, {"rating_id": "has space"}, {"rating_id": ""}):
        status, body = api.post(rating.path, rating.token, rating.body | changes)
        assert status == 400, (changes, body)
    assert counts(db) == before


def test_oversized_body_is_413_and_changes_nothing(
    client: FlaskClient, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    for target in targets:
        payload = json.dumps(target.body | {"padding": "x" * (256 * 1024 + 1)})
        assert_error(send(client, target, payload, "application/json"), 413, "payload_too_large")
    assert counts(db) == before


def test_missing_or_invalid_token_is_401(
    client: FlaskClient, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    for target in targets[:3]:
        payload = json.dumps(target.body)
        for authorization in (None, "Bearer not-a-real-token", "Basic QkgwMTAxOnB3", "Bearer "):
            headers = {"Content-Type": "application/json"}
            if authorization is not None:
                headers["Authorization"] = authorization
            response = client.post(target.path, data=payload, headers=headers)
            assert_error(response, 401, "not_authenticated")
    assert counts(db) == before


def test_device_token_on_staff_only_endpoints_is_403(
    api: Api, client: FlaskClient, db: Database, device_token: Any, targets: list[Target]
) -> None:
    kiosk = device_token("kiosk-9", "kiosk")
    before = counts(db)
    headers = {"Authorization": f"Bearer {kiosk}"}
    for method, path, body in (
        ("POST", "/api/v1/cases", targets[1].body),
        ("POST", "/api/v1/halls/BH/windows/1/call-next", None),
        ("GET", "/api/v1/rectifications", None),
        ("GET", "/api/v1/catalog/matters/GS-001/versions", None),
        ("POST", "/api/v1/ratings/1/void", {"reason": "设备不能作废评价"}),
        ("POST", "/api/v1/auth/sign-out", {}),
    ):
        response = client.open(path, method=method, json=body, headers=headers)
        assert_error(response, 403, "forbidden")
    # Nothing changed but the audit log, which records each refusal (and only those).
    after = counts(db)
    assert after == before | {"audit_log": before["audit_log"] + 6}
    with db.reading() as session:
        refused = session.execute(
            select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id.desc()).limit(6)
        ).all()
    assert set(refused) == {("device:kiosk-9", "access.refused")}


def test_unknown_hall_category_and_route_are_404(
    client: FlaskClient, db: Database, targets: list[Target]
) -> None:
    before = counts(db)
    ticket, case, rating, sign_in = targets
    attempts = [
        (ticket, "/api/v1/halls/XX/tickets", ticket.body),
        (rating, "/api/v1/halls/XX/ratings", rating.body),
        (case, case.path, case.body | {"hall": "XX"}),
        (sign_in, sign_in.path, sign_in.body | {"hall": "XX"}),
        (ticket, ticket.path, {"category": "W"}),  # BH has no category W
        (ticket, ticket.path, {"matter_code": "NOPE-1"}),
    ]
    for target, path, body in attempts:
        response = client.post(path, data=json.dumps(body), headers=target.headers())
        assert_error(response, 404, "not_found")
    events = client.get("/api/v1/halls/XX/events", headers=ticket.headers())
    assert_error(events, 404, "not_found")
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(client.get("/api/v1/auth/sign-in"), 405, "method_not_allowed")
    assert_error(client.delete("/api/v1/cases"), 405, "method_not_allowed")
    assert counts(db) == before


def test_openapi_document_describes_the_api(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    paths = document["paths"]
    for path, method in (
        ("/api/v1/halls/{hall}/tickets", "post"),
        ("/api/v1/halls/{hall}/windows/{number}/call-next", "post"),
        ("/api/v1/cases", "post"),
        ("/api/v1/cases/{case_id}", "get"),
        ("/api/v1/cases/{case_id}/transitions", "post"),
        ("/api/v1/halls/{hall}/ratings", "post"),
        ("/api/v1/auth/sign-in", "post"),
        ("/api/v1/public/case-lookup", "post"),
        ("/api/v1/catalog/search", "get"),
        ("/api/v1/catalog/matters/{code}", "put"),
        ("/api/v1/rectifications", "get"),
        ("/api/v1/halls/{hall}/events", "get"),
    ):
        assert method in paths.get(path, {}), (path, method)
    schemas = document["components"]["schemas"]
    assert {"Error", "IssueTicket", "RegisterCase", "SubmitRating", "SignIn"} <= set(schemas)
    operation_ids = []
    for path, operations in paths.items():
        assert path.startswith("/api/"), path
        for method, operation in operations.items():
            assert method in {"get", "post", "put", "delete", "patch"}, (path, method)
            assert operation.get("summary", "").strip(), (path, method)
            assert operation["responses"], (path, method)
            operation_ids.append(operation["operationId"])
            for name in (p["name"] for p in operation.get("parameters", []) if p["in"] == "path"):
                assert "{" + name + "}" in path
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert len(operation_ids) == len(set(operation_ids))
    # Every reference in the document points at a component that exists.
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= set(schemas)
    assert document["paths"]["/api/v1/cases"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/api/v1/public/case-lookup"]["post"]
