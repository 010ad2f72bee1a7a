"""收费异常 and 时长异常 (plan 3.1.1.2 违规收费, 3.1.1.1 异常监察): a fee charged
other than the catalog's 收费标准, and a case decided abnormally fast or slow
against its matter's own decided cases; raised by the scan once, shown with the
other findings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.catalog.fees import FeeStandard, fee_standard, parse_yuan
from backend.catalog.spec import MatterSpec
from backend.db import Database
from backend.errors import BadInput, InvalidTransition
from backend.models import Case, CaseEvent, Matter, MatterVersion, Role
from backend.services import cases as case_service
from backend.services import supervision as sv
from tests.backend.test_supervision import (
    MATTER,
    _staff,
    actor_of,
    all_alerts,
    at,
    open_alerts,
    run_scan,
)
from tests.conftest import register_restaurant_case

PASSPORT = "GA-010"  # 普通护照签发: 每本120元
ID_CARD = "GA-001"  # 居民身份证首次申领: 工本费每证20元
DAY = date(2026, 11, 16)  # a Monday


def _spec(fee: str) -> MatterSpec:
    return MatterSpec(
        code="T-1",
        name="测试事项",
        type="行政许可",
        department="GS",
        promised_days=5,
        statutory_days=20,
        fee=fee,
        queue_category="A",
    )


@pytest.mark.parametrize(
    ("fee", "allowed", "refused", "unknown"),
    [
        ("不收费", [0], [1, 5000], []),
        ("每本120元", [0, 12000, 24000], [10000, 15000, 12050], []),
        ("通行证每证60元；签注每件15元", [7500, 6000, 3000, 13500], [5000, 100], []),
        ("住宅类每件80元，非住宅类每件550元", [8000, 55000, 63000], [9000, 10000], []),
        ("按本市城市道路挖掘修复费标准收取", [], [], [0, 10000]),
        ("首次申领不收费；换领、补领收取工本费", [], [], [2000]),
        ("按每平方米3元/平方米收取", [], [], [300]),
    ],
)
def test_what_a_fee_standard_allows(
    fee: str, allowed: list[int], refused: list[int], unknown: list[int]
) -> None:
    standard = fee_standard(_spec(fee))
    assert [standard.allows(fen) for fen in allowed] == [True] * len(allowed)
    assert [standard.allows(fen) for fen in refused] == [False] * len(refused)
    assert [standard.allows(fen) for fen in unknown] == [None] * len(unknown)


def test_a_large_charge_is_decided_without_a_large_table() -> None:
    standard = FeeStandard("每件80元，加收10元", free=False, amounts_fen=(8000, 1000))
    assert standard.allows(99_999_000) is True  # far past the Frobenius bound
    assert standard.allows(99_999_050) is False  # not in whole 10 yuan


@pytest.mark.parametrize("text", ["", "abc", "-5", "12.345", "1e3", "99999999999"])
def test_a_charged_amount_must_be_yuan(text: str) -> None:
    with pytest.raises(ValueError):
        parse_yuan(text)


def _register(database: Database, matter: str, department: str, accepted: Any) -> int:
    with database.writing() as session:
        handler = _staff(session, department, Role.CLERK)
        return register_restaurant_case(
            session, matter_code=matter, handler=handler, now=accepted
        ).id


def _fee(database: Database, case_id: int, amount: str, now: Any) -> None:
    with database.writing() as session:
        case_service.record_fee(
            session,
            case_id=case_id,
            amount=amount,
            actor=actor_of(database, case_id),
            now=now,
            allow_all_departments=True,
        )


def test_a_fee_for_a_free_matter_is_a_finding(database: Database) -> None:
    charged = _register(database, MATTER, "SYJ", at(DAY, 9))
    free = _register(database, MATTER, "SYJ", at(DAY, 9, 30))
    _fee(database, charged, "50", at(DAY, 10))
    _fee(database, free, "0", at(DAY, 10))
    run_scan(database, at(DAY, 11))
    finding = open_alerts(database, charged)["收费异常"]
    assert finding.detail["rule"] == "fee_for_free_matter"
    assert finding.detail["charged_fen"] == 5000
    assert "50.00 元" in finding.message and "不收费" in finding.message
    assert {r["role"] for r in finding.recipients} >= {"supervisor", "department_lead"}
    assert "收费异常" not in open_alerts(database, free)
    run_scan(database, at(DAY, 12))  # raised once
    assert [a.kind for a in all_alerts(database, charged)].count("收费异常") == 1


def test_a_fee_the_standard_cannot_make_is_a_finding(database: Database) -> None:
    wrong = _register(database, PASSPORT, "GA", at(DAY, 9))
    right = _register(database, PASSPORT, "GA", at(DAY, 9, 10))
    _fee(database, wrong, "150.00", at(DAY, 10))
    _fee(database, right, "240", at(DAY, 10))  # two passports
    run_scan(database, at(DAY, 11))
    finding = open_alerts(database, wrong)["收费异常"]
    assert finding.detail["rule"] == "fee_not_in_standard"
    assert finding.detail["standard_amounts_fen"] == [12000]
    assert "收费异常" not in open_alerts(database, right)
    # A correction is a new record: the corrected amount is checked again.
    _fee(database, right, "100", at(DAY, 14))
    run_scan(database, at(DAY, 15))
    assert open_alerts(database, right)["收费异常"].detail["charged_fen"] == 10000


def test_a_bad_fee_record_is_refused_and_changes_nothing(database: Database) -> None:
    case_id = _register(database, ID_CARD, "GA", at(DAY, 9))
    for amount in ("", "二十", "-20", "20.001"):
        with pytest.raises(BadInput):
            _fee(database, case_id, amount, at(DAY, 10))
    with database.writing() as session:
        case_service.transition(
            session,
            case_id=case_id,
            action="withdraw",
            actor=actor_of(database, case_id),
            now=at(DAY, 11),
            note="申请人撤回",
            allow_all_departments=True,
        )
    with pytest.raises(InvalidTransition):
        _fee(database, case_id, "20", at(DAY, 12))
    with database.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.fee_charged_fen is None
        actions = session.execute(
            select(CaseEvent.action).where(CaseEvent.case_id == case_id)
        ).scalars()
        assert "fee" not in set(actions)


# ------------------------------------------------------------------ 时长异常


def _history(database: Database, count: int, days: list[float]) -> None:
    """``count`` decided SYJ-001 cases taking ``days`` (cycled) from 受理 to 办结,
    decided in the weeks before DAY."""
    with database.writing() as session:
        version_id = session.execute(
            select(MatterVersion.id)
            .join(Matter, Matter.id == MatterVersion.matter_id)
            .where(Matter.code == MATTER)
        ).scalar_one()
        handler = _staff(session, "SYJ", Role.CLERK)
        for index in range(count):
            accepted = at(DAY - timedelta(days=40 - index % 30), 9)
            case = register_restaurant_case(
                session, matter_code=MATTER, handler=handler, now=accepted
            )
            assert case.matter_version_id == version_id
            case.state = case_service.CaseState.COMPLETED
            case.completed_at = accepted + timedelta(days=days[index % len(days)])


def _decide(database: Database, case_id: int, start: Any, end: Any) -> None:
    steps = ("undertake", "review", "approve", "complete")
    for number, action in enumerate(steps, start=1):
        with database.writing() as session:
            case_service.transition(
                session,
                case_id=case_id,
                action=action,
                actor=actor_of(database, case_id),
                now=start + (end - start) * number / len(steps),
                allow_all_departments=True,
            )


SPREAD = [2.0, 2.5, 3.0, 3.5, 4.0]  # days: Q1 2.5, Q3 3.5 on the log scale


def test_a_case_decided_abnormally_fast_or_slow_is_a_finding(database: Database) -> None:
    _history(database, 30, SPREAD)
    fast = _register(database, MATTER, "SYJ", at(DAY, 9))
    usual = _register(database, MATTER, "SYJ", at(DAY - timedelta(days=3), 9))
    slow = _register(database, MATTER, "SYJ", at(DAY - timedelta(days=40), 9))
    _decide(database, fast, at(DAY, 9), at(DAY, 9, 20))  # 20 minutes
    _decide(database, usual, at(DAY - timedelta(days=3), 9), at(DAY, 9))
    _decide(database, slow, at(DAY - timedelta(days=40), 9), at(DAY, 10))
    run_scan(database, at(DAY, 11))
    too_fast = open_alerts(database, fast)["时长异常"]
    assert too_fast.detail["rule"] == "too_fast"
    assert too_fast.detail["sample"] >= 30
    assert too_fast.detail["seconds"] == 20 * 60
    assert too_fast.detail["q1_seconds"] == pytest.approx(2.5 * 86400, rel=0.01)
    assert "用时 0.3 小时" in too_fast.message and "异常快" in too_fast.message
    assert open_alerts(database, slow)["时长异常"].detail["rule"] == "too_slow"
    assert "时长异常" not in open_alerts(database, usual)
    run_scan(database, at(DAY, 12))
    assert [a.kind for a in all_alerts(database, fast)].count("时长异常") == 1


def test_durations_need_a_sample_of_the_matter(database: Database) -> None:
    _history(database, sv.DEFAULT_POLICY.duration_min_sample - 1, SPREAD)
    fast = _register(database, MATTER, "SYJ", at(DAY, 9))
    _decide(database, fast, at(DAY, 9), at(DAY, 9, 20))
    run_scan(database, at(DAY, 11))
    assert "时长异常" not in open_alerts(database, fast)


def test_the_fences_are_far_out_on_the_log_scale() -> None:
    day = 86400.0
    fences = sv.duration_fences([day * d for d in SPREAD * 6])
    assert fences is not None
    assert fences.q1 == pytest.approx(2.5 * day, rel=0.01)
    assert fences.q3 == pytest.approx(3.5 * day, rel=0.01)
    # log IQR = ln(1.4); 3 IQR beyond: 2.5 / 1.4³ and 3.5 × 1.4³ days, widened
    # to at least half Q1 and twice Q3.
    assert fences.lower == pytest.approx(2.5 / 1.4**3 * day, rel=0.01)
    assert fences.upper == pytest.approx(3.5 * 1.4**3 * day, rel=0.01)
    same_day = sv.duration_fences([day] * 30)
    assert same_day is not None
    assert same_day.lower == pytest.approx(day / 2) and same_day.upper == pytest.approx(2 * day)
    assert sv.duration_fences([day] * 19) is None
