"""办件 through the HTTP API: registration, the step machine, suspensions,
forwarding, joint handling, disclosure, catalog versions and access rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.db import Database
from backend.models import Case, CaseEvent
from backend.privacy import is_valid_resident_id
from backend.receipts import is_well_formed_receipt
from backend.workdays import Suspension, WorkCalendar
from tests.conftest import Api, FakeClock, clerk_for_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)  # the conftest clock: Thursday 2026-11-26 10:00 in the hall
ADMIN = "BH9101"
SUPERVISOR = "BH9001"


def resident_id(first17: str) -> str:
    """A synthetic 居民身份证号 with a correct GB 11643 check character."""
    weights = [pow(2, 17 - position, 11) for position in range(17)]
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


ID_NUMBER = resident_id("11010519880214003")
PHONE = "13912345678"


def applicant(**changes: Any) -> dict[str, Any]:
    return {"kind": "person", "name": "张晓三", "id_number": ID_NUMBER, "phone": PHONE, **changes}


def register(api: Api, token: str, matter: str, **extra: Any) -> tuple[int, Any]:
    body = {"hall": "BH", "matter_code": matter, "applicant": applicant(), **extra}
    return api.post("/api/v1/cases", token, body)


def registered(api: Api, token: str, matter: str, **extra: Any) -> dict[str, Any]:
    status, body = register(api, token, matter, **extra)
    assert status == 201, body
    return body


def step(api: Api, token: str, case_id: int, action: str, **extra: Any) -> tuple[int, Any]:
    return api.post(f"/api/v1/cases/{case_id}/transitions", token, {"action": action, **extra})


def stepped(api: Api, token: str, case_id: int, action: str, **extra: Any) -> dict[str, Any]:
    status, body = step(api, token, case_id, action, **extra)
    assert status == 200, body
    return body


def get_case(api: Api, token: str, case_id: int) -> dict[str, Any]:
    status, body = api.get(f"/api/v1/cases/{case_id}", token)
    assert status == 200, body
    return body


def count_cases(db: Database) -> int:
    with db.reading() as session:
        return int(session.execute(select(func.count()).select_from(Case)).scalar_one())


def at_window(api: Api, db: Database, window: str) -> str:
    return api.sign_in(clerk_for_window(db, window), window=window)


def set_local(clock: FakeClock, *args: int) -> None:
    """Move the clock to a hall-local time, handed out in UTC like the real clock."""
    clock.now = datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def gs_clerk(api: Api, db: Database) -> str:
    """A 工商 clerk signed in at window 1 (GS-001 … GS-004 are handled there)."""
    return at_window(api, db, "1")


def test_synthetic_resident_id_passes_gb11643() -> None:
    assert is_valid_resident_id(ID_NUMBER)
    assert not is_valid_resident_id(ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1"))


# --------------------------------------------------------------------------- registration


def test_registration_returns_receipt_and_working_day_deadline(
    api: Api, db: Database, gs_clerk: str
) -> None:
    case = registered(api, gs_clerk, "GS-001")
    assert is_well_formed_receipt(case["receipt_number"])
    assert case["receipt_number"].startswith("20261126")
    assert case["state"] == "accepted"
    assert case["matter"] == {
        "code": "GS-001",
        "name": "企业设立登记（有限责任公司）",
        "version": 1,
    }
    expected = WorkCalendar().add_working_days(TODAY, 1)
    assert case["due_on"] == expected.due.isoformat() == "2026-11-27"
    assert case["due_provisional"] is False
    assert case["accepted_on"] == "2026-11-26"
    assert case["public_token"]
    assert count_cases(db) == 1


def test_registration_of_a_withdrawn_matter_is_refused(
    api: Api, db: Database, gs_clerk: str
) -> None:
    admin = api.sign_in(ADMIN)
    status, body = api.post("/api/v1/catalog/matters/GS-002/withdraw", admin, {})
    assert status == 200, body
    status, body = register(api, gs_clerk, "GS-002")
    assert status == 404, body
    assert body["error"]["code"] == "not_found"
    assert count_cases(db) == 0


def test_refused_registrations_store_no_case(api: Api, db: Database, gs_clerk: str) -> None:
    wrong_check = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
    outsider = at_window(api, db, "29")  # 公安 window: GS matters are not theirs
    supervisor = api.sign_in(SUPERVISOR)
    attempts = [
        (gs_clerk, {"matter_code": "GS-999"}, 404, "not_found"),  # not in the catalog
        (gs_clerk, {"applicant": applicant(id_number=wrong_check)}, 400, "bad_input"),
        (gs_clerk, {"applicant": applicant(phone="12")}, 400, "bad_input"),
        (gs_clerk, {"not_accepted_reason": "   "}, 400, "bad_input"),  # 不予受理 needs a reason
        (gs_clerk, {"joint_departments": ["NOPE"]}, 400, "bad_input"),
        (outsider, {}, 403, "forbidden"),
        (supervisor, {}, 403, "forbidden"),
    ]
    for token, changes, status_expected, code in attempts:
        body = {"hall": "BH", "matter_code": "GS-001", "applicant": applicant(), **changes}
        status, reply = api.post("/api/v1/cases", token, body)
        assert (status, reply["error"]["code"]) == (status_expected, code), (changes, reply)
    assert count_cases(db) == 0


def test_not_accepted_registration_records_the_reason_and_has_no_due_date(
    api: Api, db: Database, gs_clerk: str
) -> None:
    case = registered(api, gs_clerk, "GS-001", not_accepted_reason="申请事项不属于本机关职权范围")
    assert case["state"] == "not_accepted"
    assert case["due_on"] is None
    assert case["decision_reason"] == "申请事项不属于本机关职权范围"
    assert [(e["action"], e["from"], e["to"]) for e in case["timeline"]] == [
        ("not_accept", None, "not_accepted")
    ]
    status, body = step(api, gs_clerk, case["id"], "undertake")
    assert status == 409 and body["error"]["code"] == "invalid_transition"


# --------------------------------------------------------------------------- step machine


def test_full_step_sequence_records_every_event(api: Api, db: Database, gs_clerk: str) -> None:
    case = registered(api, gs_clerk, "GS-001")
    for action in ("undertake", "review", "approve", "complete"):
        stepped(api, gs_clerk, case["id"], action, note=f"{action} ok")
    status, body = step(api, gs_clerk, case["id"], "deliver")
    assert status == 400, body  # who collected the result is required
    delivered = stepped(api, gs_clerk, case["id"], "deliver", collected_by="张晓三（本人）")
    assert delivered["state"] == "delivered"
    assert delivered["collected_by"] == "张晓三（本人）"
    actor = f"staff:{clerk_for_window(db, '1')}"
    trail = [(e["action"], e["from"], e["to"], e["actor"]) for e in delivered["timeline"]]
    assert trail == [
        ("accept", None, "accepted", actor),
        ("undertake", "accepted", "undertaking", actor),
        ("review", "undertaking", "reviewing", actor),
        ("approve", "reviewing", "approved", actor),
        ("complete", "approved", "completed", actor),
        ("deliver", "completed", "delivered", actor),
    ]
    assert [e["step"] for e in delivered["timeline"]] == [
        "受理",
        "承办",
        "审核",
        "批准",
        "办结",
        "发证/取件",
    ]
    assert delivered["timeline"][1]["note"] == "undertake ok"


def test_illegal_transitions_are_409_and_leave_the_case_unchanged(
    api: Api, db: Database, gs_clerk: str
) -> None:
    case = registered(api, gs_clerk, "GS-001")
    # state reached → actions that must be refused there
    refused = {
        "accepted": ("approve", "deliver", "review", "return", "complete"),
        "undertaking": ("undertake", "approve", "complete", "deliver"),
        "reviewing": ("review", "complete", "deliver"),
        "approved": ("deliver", "approve", "deny"),
        "completed": ("complete", "withdraw", "deny"),
        "delivered": ("deliver", "withdraw", "undertake"),
    }
    path = {
        "accepted": "undertake",
        "undertaking": "review",
        "reviewing": "approve",
        "approved": "complete",
        "completed": "deliver",
    }
    state = "accepted"
    while True:
        snapshot = get_case(api, gs_clerk, case["id"])
        assert snapshot["state"] == state
        for action in refused[state]:
            status, body = step(api, gs_clerk, case["id"], action, note="x", collected_by="本人")
            assert (status, body["error"]["code"]) == (409, "invalid_transition"), (state, action)
        after = get_case(api, gs_clerk, case["id"])
        assert (after["state"], after["timeline"]) == (snapshot["state"], snapshot["timeline"])
        if state not in path:
            break
        state = stepped(api, gs_clerk, case["id"], path[state], collected_by="本人")["state"]
    assert state == "delivered"


def test_immediate_matter_completes_straight_from_acceptance(api: Api, db: Database) -> None:
    clerk = at_window(api, db, "3")
    case = registered(api, clerk, "GS-005")  # 个体工商户设立登记: promised 0 days (即办)
    assert case["due_on"] == TODAY.isoformat()
    done = stepped(api, clerk, case["id"], "complete")
    assert done["state"] == "completed"
    assert [(e["from"], e["to"]) for e in done["timeline"]] == [
        (None, "accepted"),
        ("accepted", "completed"),
    ]


def test_deny_withdraw_and_return_require_a_reason(api: Api, db: Database, gs_clerk: str) -> None:
    case = registered(api, gs_clerk, "GS-001")
    stepped(api, gs_clerk, case["id"], "undertake")
    stepped(api, gs_clerk, case["id"], "review")
    for action in ("deny", "withdraw", "return"):
        status, body = step(api, gs_clerk, case["id"], action, note="  ")
        assert (status, body["error"]["code"]) == (400, "bad_input"), action
    assert get_case(api, gs_clerk, case["id"])["state"] == "reviewing"
    back = stepped(api, gs_clerk, case["id"], "return", note="材料核验不一致")
    assert (back["state"], back["timeline"][-1]["from"]) == ("undertaking", "reviewing")
    denied = stepped(api, gs_clerk, case["id"], "deny", note="不符合法定条件")
    assert denied["state"] == "denied"
    assert denied["decision_reason"] == "不符合法定条件"

    other = registered(api, gs_clerk, "GS-001")
    withdrawn = stepped(api, gs_clerk, other["id"], "withdraw", note="申请人主动撤回")
    assert withdrawn["state"] == "withdrawn"
    assert withdrawn["decision_reason"] == "申请人主动撤回"
    assert withdrawn["timeline"][-1]["note"] == "申请人主动撤回"


# --------------------------------------------------------------------------- suspensions


def test_supplement_suspension_moves_the_due_date_by_the_suspended_working_days(
    api: Api, db: Database, clock: FakeClock
) -> None:
    clerk = at_window(api, db, "9")
    case = registered(api, clerk, "LDRS-002")  # 劳务派遣经营许可: 10 working days
    calendar = WorkCalendar()
    # Hand count from Thu 26 Nov: 27, 30 Nov, 1-4, 7-10 Dec -> 10th working day Thu 10 Dec.
    assert case["due_on"] == "2026-12-10" == calendar.add_working_days(TODAY, 10).due.isoformat()

    set_local(clock, 2026, 11, 27, 10, 0)  # Friday: the 补正 notice goes out
    clerk = at_window(api, db, "9")  # yesterday's sign-in has expired
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/suspend", clerk, {"kind": "午休", "reason": "x"}
    )
    assert status == 400, body  # not a reason the law lets the clock stop for
    status, suspended = api.post(
        f"/api/v1/cases/{case['id']}/suspend",
        clerk,
        {"kind": "补正", "reason": "缺少营业执照复印件"},
    )
    assert status == 200, suspended
    assert suspended["suspended"] == "补正"
    assert suspended["due_on"] is None  # an open suspension: no due date can be given
    assert "缺少营业执照复印件" in suspended["next_step"]

    # While the clock stands still the case only resumes (or is withdrawn).
    status, body = step(api, clerk, case["id"], "undertake")
    assert status == 409 and body["error"]["code"] == "invalid_transition"
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/suspend", clerk, {"kind": "补正", "reason": "再次补正"}
    )
    assert status == 409, body
    assert get_case(api, clerk, case["id"])["state"] == "accepted"

    set_local(clock, 2026, 12, 2, 9, 30)  # Wednesday: the materials arrive
    clerk = at_window(api, db, "9")
    status, resumed = api.post(f"/api/v1/cases/{case['id']}/resume", clerk, {"note": "材料已补齐"})
    assert status == 200, resumed
    assert resumed["suspended"] is None
    # Not counted: Fri 27 Nov .. Wed 2 Dec. Counted again from Thu 3 Dec: 3, 4, 7-11, 14-16
    # -> the 10th working day is Wed 16 Dec.
    assert resumed["due_on"] == "2026-12-16"
    expected = calendar.deadline_with_suspensions(
        TODAY, 10, [Suspension(date(2026, 11, 27), date(2026, 12, 2), "补正")]
    )
    assert resumed["due_on"] == expected.due.isoformat()
    suspended_working_days = calendar.working_days_between(date(2026, 11, 26), date(2026, 12, 2))
    assert suspended_working_days == 4
    assert calendar.working_days_between(date(2026, 12, 10), date(2026, 12, 16)) == 4
    assert resumed["suspensions"] == [
        {
            "kind": "补正",
            "started_on": "2026-11-27",
            "ended_on": "2026-12-02",
            "reason": "缺少营业执照复印件",
        }
    ]
    assert [e["action"] for e in resumed["timeline"]] == ["accept", "suspend", "resume"]
    stepped(api, clerk, case["id"], "undertake")


# --------------------------------------------------------------------------- forward, joint


def test_forward_moves_the_case_to_the_other_department(
    api: Api, db: Database, gs_clerk: str
) -> None:
    case = registered(api, gs_clerk, "GS-001")
    for department in ("GS", "NOPE"):  # its own department, an unknown one
        status, body = api.post(
            f"/api/v1/cases/{case['id']}/forward", gs_clerk, {"department": department}
        )
        assert status == 400, body
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/forward", gs_clerk, {"department": "GSJ", "window": "4"}
    )
    assert status == 200, body
    gsj_clerk = at_window(api, db, "4")
    view = get_case(api, gsj_clerk, case["id"])
    assert view["department"] == "国税分局"
    assert view["timeline"][-1]["action"] == "forward"
    assert "国税分局" in view["timeline"][-1]["note"]
    # The 工商 clerk no longer sees it; the 国税 clerk carries on.
    status, _ = api.get(f"/api/v1/cases/{case['id']}", gs_clerk)
    assert status == 404
    assert stepped(api, gsj_clerk, case["id"], "undertake")["state"] == "undertaking"


def test_joint_case_cannot_be_approved_until_every_joint_department_approved(
    api: Api, db: Database, gs_clerk: str
) -> None:
    case = registered(api, gs_clerk, "GS-001", joint_departments=["GSJ", "DS"])
    assert case["joint"] is True
    assert [p["decision"] for p in case["participants"]] == ["pending", "pending"]
    stepped(api, gs_clerk, case["id"], "undertake")
    stepped(api, gs_clerk, case["id"], "review")
    status, body = step(api, gs_clerk, case["id"], "approve")
    assert status == 409 and body["error"]["code"] == "invalid_transition"

    gsj = at_window(api, db, "4")
    ds = at_window(api, db, "6")
    # A department signs only for itself.
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/joint-decision", gsj, {"department": "DS", "approve": True}
    )
    assert status == 403, body
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/joint-decision", gsj, {"department": "GSJ", "approve": True}
    )
    assert status == 200, body
    status, body = step(api, gs_clerk, case["id"], "approve")
    assert status == 409, body
    assert get_case(api, gs_clerk, case["id"])["state"] == "reviewing"

    status, body = api.post(
        f"/api/v1/cases/{case['id']}/joint-decision", ds, {"department": "DS", "approve": True}
    )
    assert status == 200, body
    assert [p["decision"] for p in body["participants"]] == ["approved", "approved"]
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/joint-decision", ds, {"department": "DS", "approve": False}
    )
    assert status == 409, body  # already decided
    assert stepped(api, gs_clerk, case["id"], "approve")["state"] == "approved"


def test_disclosure_only_after_completion(api: Api, db: Database, gs_clerk: str) -> None:
    case = registered(api, gs_clerk, "GS-001")
    url = f"/api/v1/cases/{case['id']}/disclosure"
    status, body = api.post(url, gs_clerk, {"public": True})
    assert status == 409 and body["error"]["code"] == "invalid_transition"
    assert get_case(api, gs_clerk, case["id"])["public_disclosure"] is False
    for action in ("undertake", "review", "approve", "complete"):
        stepped(api, gs_clerk, case["id"], action)
    status, body = api.post(url, gs_clerk, {"public": True})
    assert status == 200, body
    assert body["public_disclosure"] is True
    assert get_case(api, gs_clerk, case["id"])["timeline"][-1]["action"] == "disclose"


def test_case_events_cannot_be_updated_or_deleted(api: Api, db: Database, gs_clerk: str) -> None:
    case = registered(api, gs_clerk, "GS-001")
    with pytest.raises(PermissionError), db.writing() as session:
        event = session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case["id"])
        ).scalar_one()
        event.note = "rewritten"
        session.flush()
    with pytest.raises(PermissionError), db.writing() as session:
        event = session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case["id"])
        ).scalar_one()
        session.delete(event)
        session.flush()
    with db.reading() as session:
        event = session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case["id"])
        ).scalar_one()
        assert (event.action, event.note) == ("accept", "")


# --------------------------------------------------------------------------- calendars


def test_deadlines_follow_the_holiday_calendar_and_flag_years_without_data(
    api: Api, db: Database, clock: FakeClock
) -> None:
    set_local(clock, 2026, 2, 10, 10, 0)  # Tuesday before 春节
    clerk = at_window(api, db, "21")
    case = registered(api, clerk, "GT-001")  # 国有建设用地使用权出让: 20 working days
    # By hand: 11, 12, 13, Sat 14 (调休) = 4; 15-23 Feb 春节; 24-27 = 8; Sat 28 (调休) = 9;
    # 2-6 Mar = 14; 9-13 Mar = 19; Mon 16 Mar = 20.
    assert case["due_on"] == "2026-03-16"
    assert WorkCalendar().add_working_days(date(2026, 2, 10), 20).due == date(2026, 3, 16)
    assert case["due_provisional"] is False

    set_local(clock, 2027, 3, 1, 10, 0)  # Monday; no official holiday data for 2027 yet
    clerk = at_window(api, db, "1")
    case = registered(api, clerk, "GS-001")
    assert case["receipt_number"].startswith("20270301")
    assert case["due_on"] == "2027-03-02"
    assert case["due_provisional"] is True


# --------------------------------------------------------------------------- versions


def _spec_of(api: Api, code: str) -> dict[str, Any]:
    status, detail = api.get(f"/api/v1/catalog/matters/{code}")
    assert status == 200, detail
    return {k: v for k, v in detail.items() if k not in ("version", "department_name", "is_free")}


def test_editing_a_matter_keeps_registered_cases_on_their_version(
    api: Api, db: Database, gs_clerk: str
) -> None:
    before = registered(api, gs_clerk, "GS-001")
    admin = api.sign_in(ADMIN)
    spec = _spec_of(api, "GS-001") | {"promised_days": 2}
    status, body = api.call("PUT", "/api/v1/catalog/matters/GS-001", admin, json=spec)
    assert status == 200, body
    assert body["version"] == 2 and body["changed"] is True

    after = registered(api, gs_clerk, "GS-001")
    old = get_case(api, gs_clerk, before["id"])
    new = get_case(api, gs_clerk, after["id"])
    assert old["matter"]["version"] == 1
    assert old["due_on"] == "2026-11-27" == before["due_on"]
    assert new["matter"]["version"] == 2
    assert new["due_on"] == WorkCalendar().add_working_days(TODAY, 2).due.isoformat()
    assert new["due_on"] == "2026-11-30"


# --------------------------------------------------------------------------- access


def test_clerk_of_another_department_cannot_see_or_change_the_case(
    api: Api, db: Database, gs_clerk: str
) -> None:
    case = registered(api, gs_clerk, "GS-001")
    outsider = at_window(api, db, "29")  # 公安
    status, hidden = api.get(f"/api/v1/cases/{case['id']}", outsider)
    missing_status, missing = api.get("/api/v1/cases/987654", outsider)
    assert status == missing_status == 404
    assert hidden == missing  # no hint that the case exists
    status, body = step(api, outsider, case["id"], "undertake")
    assert status in (403, 404), body
    for path, payload in (
        ("suspend", {"kind": "补正", "reason": "x"}),
        ("forward", {"department": "GA"}),
        ("disclosure", {"public": True}),
    ):
        status, body = api.post(f"/api/v1/cases/{case['id']}/{path}", outsider, payload)
        assert status in (403, 404), (path, body)
    view = get_case(api, gs_clerk, case["id"])
    assert view["state"] == "accepted"
    assert view["department"] == "工商分局"
    assert view["suspended"] is None
    assert len(view["timeline"]) == 1


def test_supervisor_reads_but_cannot_transition(api: Api, db: Database, gs_clerk: str) -> None:
    case = registered(api, gs_clerk, "GS-001")
    supervisor = api.sign_in(SUPERVISOR)
    view = get_case(api, supervisor, case["id"])
    assert view["receipt_number"] == case["receipt_number"]
    status, body = step(api, supervisor, case["id"], "undertake")
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    status, body = api.post(
        f"/api/v1/cases/{case['id']}/suspend", supervisor, {"kind": "补正", "reason": "x"}
    )
    assert status == 403, body
    assert get_case(api, gs_clerk, case["id"])["state"] == "accepted"
    assert count_cases(db) == 1
