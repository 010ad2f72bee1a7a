"""事项目录 through the HTTP API: search, detail, versioned edits, withdrawal and
the spreadsheet import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.catalog.spec import MatterSpec
from backend.catalog.spreadsheet import read_catalog, write_catalog
from backend.db import Database
from backend.models import Department
from backend.services.catalog import all_current, upsert_matters
from tests.conftest import Api, clerk_for_window

ADMIN = "BH9101"
SUPERVISOR = "BH9001"
GS_LEAD = "BH8001"


def search(api: Api, query: str) -> dict[str, Any]:
    status, body = api.get(f"/api/v1/catalog/search?{query}")
    assert status == 200, body
    return body


def spec_of(api: Api, code: str) -> dict[str, Any]:
    status, detail = api.get(f"/api/v1/catalog/matters/{code}")
    assert status == 200, detail
    return {k: v for k, v in detail.items() if k not in ("version", "department_name", "is_free")}


def put(api: Api, token: str, code: str, spec: dict[str, Any]) -> tuple[int, Any]:
    return api.call("PUT", f"/api/v1/catalog/matters/{code}", token, json=spec)


def versions(api: Api, token: str, code: str) -> list[int]:
    status, body = api.get(f"/api/v1/catalog/matters/{code}/versions", token)
    assert status == 200, body
    return [v["version"] for v in body["versions"]]


def test_search_finds_by_pinyin_initials_and_filters_by_department(api: Api) -> None:
    body = search(api, "q=qysl")
    assert body["count"] >= 1
    first = body["results"][0]
    assert (first["code"], first["name"]) == ("GS-001", "企业设立登记（有限责任公司）")
    assert search(api, "q=企业设立")["results"][0]["code"] == "GS-001"

    everything = search(api, "q=许可&limit=100")
    assert {hit["code"].split("-")[0] for hit in everything["results"]} > {"GA"}
    filtered = search(api, "q=许可&department=GA&limit=100")
    codes = [hit["code"] for hit in filtered["results"]]
    assert codes and all(code.startswith("GA-") for code in codes)
    assert "GA-012" in codes  # 旅馆业特种行业许可证核发
    assert search(api, "q=许可&department=NOPE")["results"] == []


def test_old_names_and_common_words_find_the_renamed_matter(api: Api) -> None:
    # The words: the matter is called 企业设立登记 now.
    for query in ("gsdj", "工商登记", "注册登记", "gongshangdengji"):
        first = search(api, f"q={query}")["results"][0]
        assert (first["code"], first["matched"][:5]) == ("GS-001", "alias"), query
    assert "工商登记" in spec_of(api, "GS-001")["aliases"]


def test_matter_detail_lists_materials_fee_and_time_limits(api: Api) -> None:
    status, detail = api.get("/api/v1/catalog/matters/GS-001")
    assert status == 200, detail
    assert detail["name"] == "企业设立登记（有限责任公司）"
    assert (detail["promised_days"], detail["statutory_days"]) == (1, 3)
    assert (detail["fee"], detail["is_free"]) == ("不收费", True)
    assert detail["department"] == "GS" and detail["department_name"] == "工商分局"
    assert detail["version"] == 1
    assert len(detail["materials"]) == 7
    assert detail["materials"][1] == {
        "name": "公司章程",
        "form": "原件",
        "count": 1,
        "electronic_allowed": True,
        "note": "全体股东签署",
    }
    status, paid = api.get("/api/v1/catalog/matters/GA-010")  # 普通护照签发
    assert status == 200, paid
    assert (paid["fee"], paid["is_free"]) == ("每本120元", False)
    status, missing = api.get("/api/v1/catalog/matters/GS-999")
    assert status == 404, missing
    assert missing["error"]["code"] == "not_found"


def test_only_administrators_edit_the_catalog(api: Api, db: Database) -> None:
    spec = spec_of(api, "GS-001") | {"promised_days": 2}
    for token in (
        api.sign_in(clerk_for_window(db, "1"), window="1"),
        api.sign_in(GS_LEAD),
        api.sign_in(SUPERVISOR),
    ):
        status, body = put(api, token, "GS-001", spec)
        assert status == 403, body
        status, body = api.post("/api/v1/catalog/matters/GS-001/withdraw", token, {})
        assert status == 403, body
    status, body = put(api, "", "GS-001", spec)
    assert status == 401, body
    admin = api.sign_in(ADMIN)
    assert versions(api, admin, "GS-001") == [1]
    assert spec_of(api, "GS-001")["promised_days"] == 1


def test_promise_longer_than_the_statutory_limit_is_rejected(api: Api) -> None:
    admin = api.sign_in(ADMIN)
    spec = spec_of(api, "GS-001") | {"promised_days": 5}  # statutory limit is 3
    status, body = put(api, admin, "GS-001", spec)
    assert status == 400, body
    assert body["error"]["code"] == "bad_input"
    reasons = " ".join(item["reason"] for item in body["error"]["detail"]["errors"])
    assert "承诺时限 5 exceeds 法定时限 3" in reasons
    status, body = put(api, admin, "GS-002", spec)  # path and body disagree
    assert status == 400, body
    assert versions(api, admin, "GS-001") == [1]
    assert spec_of(api, "GS-001")["promised_days"] == 1


def test_versions_endpoint_lists_every_version_and_identical_edits_add_none(api: Api) -> None:
    admin = api.sign_in(ADMIN)
    original = spec_of(api, "GS-001")
    status, body = put(api, admin, "GS-001", original)
    assert status == 200, body
    assert (body["version"], body["changed"]) == (1, False)
    assert put(api, admin, "GS-001", original | {"promised_days": 2})[1]["version"] == 2
    assert put(api, admin, "GS-001", original | {"fee": "工本费10元"})[1]["version"] == 3
    status, body = api.get("/api/v1/catalog/matters/GS-001/versions", admin)
    assert status == 200, body
    assert [v["version"] for v in body["versions"]] == [1, 2, 3]
    assert [v["spec"]["promised_days"] for v in body["versions"]] == [1, 2, 1]
    assert body["versions"][2]["spec"]["fee"] == "工本费10元"
    assert body["versions"][1]["created_by"] == f"staff:{ADMIN}"
    status, body = api.get("/api/v1/catalog/matters/GS-001/versions")
    assert status == 401, body  # staff only


def test_withdrawn_matter_has_no_detail_and_no_tickets(
    api: Api, db: Database, device_token: Any
) -> None:
    admin = api.sign_in(ADMIN)
    kiosk = device_token()
    status, ticket = api.post("/api/v1/halls/BH/tickets", kiosk, {"matter_code": "GS-003"})
    assert status == 201, ticket
    assert ticket["category"] == "A"
    status, body = api.post("/api/v1/catalog/matters/GS-003/withdraw", admin, {})
    assert (status, body) == (200, {"code": "GS-003", "active": False})

    status, body = api.get("/api/v1/catalog/matters/GS-003")
    assert status == 404, body
    assert "GS-003" not in [hit["code"] for hit in search(api, "q=注销&limit=100")["results"]]
    status, body = api.post("/api/v1/halls/BH/tickets", kiosk, {"matter_code": "GS-003"})
    assert status == 404, body
    assert body["error"]["code"] == "not_found"
    assert versions(api, admin, "GS-003") == [1]  # the history stays
    status, body = api.post("/api/v1/catalog/matters/NOPE-1/withdraw", admin, {})
    assert status == 404, body


def test_spreadsheet_import_with_one_changed_row_adds_exactly_one_version(
    api: Api, db: Database, tmp_path: Path
) -> None:
    with db.reading() as session:
        current = [version.as_spec() for version, _ in all_current(session)]
        departments = [d.code for d in session.execute(select(Department)).scalars()]
    changed = [
        spec.model_copy(update={"promised_days": 2}) if spec.code == "GS-002" else spec
        for spec in current
    ]
    path = tmp_path / "catalog.csv"
    write_catalog(changed, path)
    report = read_catalog(path, known_departments=departments)
    assert report.errors == []
    assert len(report.matters) == len(current)
    # The spreadsheet reproduces every unchanged matter exactly.
    by_code = {spec.code: spec for spec in report.matters}
    assert [c for c in current if c.code != "GS-002" and by_code[c.code] != c] == []
    with db.writing() as session:
        result = upsert_matters(session, report.matters, actor="import:test")
    assert (result.created, result.new_versions) == (0, 1)
    assert result.unchanged == len(current) - 1
    detail = spec_of(api, "GS-002")
    assert detail["promised_days"] == 2
    assert MatterSpec.model_validate(detail) == by_code["GS-002"]
    admin = api.sign_in(ADMIN)
    assert versions(api, admin, "GS-002") == [1, 2]
    assert versions(api, admin, "GS-001") == [1]
