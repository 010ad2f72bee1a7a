"""电子监察: 提醒/预警/黄牌/红牌 across the 2026 National Day holiday, idempotency,
clearing, 补正 stopping the clock, process and abnormal-ending checks, the
channels (real SMTP on 127.0.0.1; SMS through a signature-checking fake of the
gateway's API on 127.0.0.1), the scheduler and the API."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from backend.db import Database
from backend.models import (
    Case,
    CaseEvent,
    Department,
    Hall,
    HallEvent,
    Role,
    Staff,
)
from backend.models.report_schedule import ReportSchedule
from backend.models.rollup import rollup_days
from backend.models.supervision import (
    Alert,
    AlertDelivery,
    AlertKind,
    DisciplineContact,
    StaffContact,
)
from backend.services import cases as case_service
from backend.services import notify, sms
from backend.services import supervision as sv
from backend.services.auth import Principal
from tests.backend.aliyun_sms_fake import (
    TEMPLATE_ALERT,
    FakeAliyunSms,
    gateway_settings,
    running_fake,
)
from tests.conftest import Api, FakeClock, register_restaurant_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
MATTER = "SYJ-001"  # 食品经营许可（新办）, 5 working days, department SYJ
LEAD_PHONE = "13700001111"
HANDLER_PHONE = "13912348888"


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A hall-local time as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def _staff(session: Any, department: str, role: Role) -> Staff:
    members = session.execute(
        select(Staff)
        .join(Department, Department.id == Staff.department_id)
        .where(Department.code == department)
        .order_by(Staff.id)
    ).scalars()
    return next(s for s in members if isinstance(s, Staff) and s.has_role(role))


def register_case(database: Database, accepted_at: datetime, matter: str = MATTER) -> int:
    with database.writing() as session:
        handler = _staff(session, "SYJ", Role.CLERK)
        case = register_restaurant_case(
            session, matter_code=matter, handler=handler, now=accepted_at
        )
        return case.id


def actor_of(database: Database, case_id: int) -> case_service.Actor:
    with database.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case_service.Actor(
            label="staff:test", staff_id=case.handler_staff_id, department_id=case.department_id
        )


def run_scan(
    database: Database, now: datetime, policy: sv.SupervisionPolicy = sv.DEFAULT_POLICY
) -> sv.ScanReport:
    with database.writing() as session:
        return sv.scan(session, now, policy)


def open_alerts(database: Database, case_id: int) -> dict[str, Alert]:
    with database.reading() as session:
        rows = (
            session.execute(
                select(Alert).where(Alert.case_id == case_id, Alert.cleared_at.is_(None))
            )
            .scalars()
            .all()
        )
    return {alert.kind: alert for alert in rows}


def all_alerts(database: Database, case_id: int) -> list[Alert]:
    with database.reading() as session:
        return list(
            session.execute(
                select(Alert).where(Alert.case_id == case_id).order_by(Alert.id)
            ).scalars()
        )


@pytest.fixture
def national_day_case(database: Database) -> int:
    """Accepted Tue 2026-09-22 with 5 working days: 23, 24 Sep (25th is 中秋),
    28, 29, 30 Sep -> due Wed 2026-09-30, the day before the National Day break
    (1-7 Oct); the next working days are Thu 8, Fri 9, Sat 10 (调休) and Mon 12 Oct."""
    case_id = register_case(database, at(date(2026, 9, 22)))
    with database.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.due_on == date(2026, 9, 30)
    return case_id


def test_levels_across_national_day(database: Database, national_day_case: int) -> None:
    case_id = national_day_case
    run_scan(database, at(date(2026, 9, 29), 9))
    assert open_alerts(database, case_id) == {}

    # 17:00 on the 29th is 24 hours before the 17:00 deadline on the 30th (2.2.1.3).
    run_scan(database, at(date(2026, 9, 29), 17))
    assert set(open_alerts(database, case_id)) == {AlertKind.REMINDER.value}

    run_scan(database, at(date(2026, 9, 30), 8))  # the last working day: 预警
    assert set(open_alerts(database, case_id)) == {"提醒", "预警"}
    warning = open_alerts(database, case_id)["预警"]
    assert [r["role"] for r in warning.recipients] == ["handler"]

    run_scan(database, at(date(2026, 10, 1), 9))  # holiday: the deadline passed, still 预警
    assert set(open_alerts(database, case_id)) == {"预警"}
    run_scan(database, at(date(2026, 10, 7), 9))  # last holiday day: not a working day late
    assert set(open_alerts(database, case_id)) == {"预警"}

    run_scan(database, at(date(2026, 10, 8), 9))  # first working day after: 黄牌
    current = open_alerts(database, case_id)
    assert set(current) == {"黄牌"}
    assert {r["role"] for r in current["黄牌"].recipients} == {"handler", "department_lead"}
    cleared_warning = next(a for a in all_alerts(database, case_id) if a.kind == "预警")
    assert cleared_warning.clear_reason == "escalated"

    # The yellow card has 2 working days (9 Oct, 10 Oct 调休) to be cleared.
    run_scan(database, at(date(2026, 10, 10), 16))
    assert set(open_alerts(database, case_id)) == {"黄牌"}
    run_scan(database, at(date(2026, 10, 11), 16))  # Sunday
    assert set(open_alerts(database, case_id)) == {"黄牌"}
    run_scan(database, at(date(2026, 10, 12), 9))  # Monday: 红牌
    current = open_alerts(database, case_id)
    assert set(current) == {"黄牌", "红牌"}
    assert {r["role"] for r in current["红牌"].recipients} >= {"handler", "department_lead"}


def test_red_card_reaches_discipline_contacts(database: Database, national_day_case: int) -> None:
    with database.writing() as session:
        session.add(
            DisciplineContact(
                name="纪工委书记",
                title="区纪工委书记",
                email="jw@example.gov.cn",
                phone="13600002222",
                active=True,
            )
        )
        session.add(DisciplineContact(name="停用", title="", email="", phone="", active=False))
    run_scan(database, at(date(2026, 10, 8)))
    run_scan(database, at(date(2026, 10, 13)))
    red = open_alerts(database, national_day_case)["红牌"]
    assert [r["name"] for r in red.recipients if r["role"] == "discipline"] == ["纪工委书记"]


def test_red_card_days_are_configurable(database: Database, national_day_case: int) -> None:
    policy = sv.SupervisionPolicy(red_card_after_working_days=0)
    run_scan(database, at(date(2026, 10, 8)), policy)
    assert "红牌" not in open_alerts(database, national_day_case)
    run_scan(database, at(date(2026, 10, 9)), policy)
    assert "红牌" in open_alerts(database, national_day_case)


def test_scan_is_idempotent(database: Database, national_day_case: int) -> None:
    now = at(date(2026, 10, 12))
    first = run_scan(database, now)
    second = run_scan(database, now)
    assert first.raised["黄牌"] == 1
    assert sum(second.raised.values()) == 0 and sum(second.cleared.values()) == 0
    with database.reading() as session:
        count = session.execute(
            select(func.count()).select_from(Alert).where(Alert.case_id == national_day_case)
        ).scalar_one()
        deliveries = session.execute(select(func.count()).select_from(AlertDelivery)).scalar_one()
    run_scan(database, now)
    with database.reading() as session:
        assert (
            session.execute(
                select(func.count()).select_from(Alert).where(Alert.case_id == national_day_case)
            ).scalar_one()
            == count
        )
        assert (
            session.execute(select(func.count()).select_from(AlertDelivery)).scalar_one()
            == deliveries
        )


def test_alerts_clear_when_case_completes(database: Database, national_day_case: int) -> None:
    case_id = national_day_case
    run_scan(database, at(date(2026, 10, 8)))
    assert "黄牌" in open_alerts(database, case_id)
    actor = actor_of(database, case_id)
    with database.writing() as session:
        for action in ("undertake", "review", "approve", "complete"):
            case_service.transition(
                session,
                case_id=case_id,
                action=action,
                actor=actor,
                now=at(date(2026, 10, 8), 11),
                allow_all_departments=True,
            )
    report = run_scan(database, at(date(2026, 10, 8), 12))
    assert report.cleared["黄牌"] == 1
    assert open_alerts(database, case_id) == {}
    yellow = next(a for a in all_alerts(database, case_id) if a.kind == "黄牌")
    assert yellow.clear_reason == "case_completed"
    run_scan(database, at(date(2026, 10, 20)))  # never comes back
    assert open_alerts(database, case_id) == {}


def test_supplement_does_not_count_toward_deadline(database: Database) -> None:
    """补正 from Mon 28 Sep to Fri 9 Oct: 23, 24 Sep were used (2 of 5); counting
    resumes on Sat 10 Oct (调休): 10, 12, 13 Oct -> due Tue 2026-10-13."""
    case_id = register_case(database, at(date(2026, 9, 22)))
    actor = actor_of(database, case_id)
    with database.writing() as session:
        case_service.suspend(
            session,
            case_id=case_id,
            kind="补正",
            reason="缺营业执照复印件",
            actor=actor,
            now=at(date(2026, 9, 28)),
            allow_all_departments=True,
        )
    run_scan(database, at(date(2026, 9, 30)))
    run_scan(database, at(date(2026, 10, 8)))
    assert open_alerts(database, case_id) == {}  # the clock stands still
    with database.writing() as session:
        case_service.resume(
            session,
            case_id=case_id,
            note="材料已补齐",
            actor=actor,
            now=at(date(2026, 10, 9)),
            allow_all_departments=True,
        )
        case = session.get(Case, case_id)
        assert case is not None and case.due_on == date(2026, 10, 13)
    run_scan(database, at(date(2026, 10, 12), 9))
    assert set(open_alerts(database, case_id)) == set()
    run_scan(database, at(date(2026, 10, 13), 9))
    assert set(open_alerts(database, case_id)) == {"提醒", "预警"}
    run_scan(database, at(date(2026, 10, 14), 9))
    assert set(open_alerts(database, case_id)) == {"黄牌"}


def test_suspension_clears_a_warning(database: Database, national_day_case: int) -> None:
    case_id = national_day_case
    run_scan(database, at(date(2026, 9, 30), 9))
    assert "预警" in open_alerts(database, case_id)
    with database.writing() as session:
        case_service.suspend(
            session,
            case_id=case_id,
            kind="专家评审",
            reason="组织专家评审",
            actor=actor_of(database, case_id),
            now=at(date(2026, 9, 30), 10),
            allow_all_departments=True,
        )
    run_scan(database, at(date(2026, 9, 30), 11))
    assert open_alerts(database, case_id) == {}
    warning = next(a for a in all_alerts(database, case_id) if a.kind == "预警")
    assert warning.clear_reason == "suspended"


def test_supplement_never_returned_is_flagged(database: Database) -> None:
    case_id = register_case(database, at(date(2026, 9, 22)))
    actor = actor_of(database, case_id)
    with database.writing() as session:
        case_service.suspend(
            session,
            case_id=case_id,
            kind="补正",
            reason="缺材料",
            actor=actor,
            now=at(date(2026, 9, 23)),
            allow_all_departments=True,
        )
    policy = sv.SupervisionPolicy(supplement_overdue_working_days=3)
    # Working days after 23 Sep: 24 Sep, 28, 29, 30 Sep -> the 4th is 30 Sep.
    run_scan(database, at(date(2026, 9, 29)), policy)
    assert "异常办结" not in open_alerts(database, case_id)
    run_scan(database, at(date(2026, 9, 30)), policy)
    flagged = open_alerts(database, case_id)["异常办结"]
    assert flagged.detail["reason"] == "supplement_not_returned"
    assert flagged.detail["working_days"] == 4
    with database.writing() as session:
        case_service.resume(
            session,
            case_id=case_id,
            note="",
            actor=actor,
            now=at(date(2026, 10, 8)),
            allow_all_departments=True,
        )
    run_scan(database, at(date(2026, 10, 8), 11), policy)
    assert "异常办结" not in open_alerts(database, case_id)


def _insert_events(
    database: Database, case_id: int, steps: list[tuple[str, str | None, str]], start: datetime
) -> None:
    with database.writing() as session:
        for minute, (action, from_state, to_state) in enumerate(steps):
            session.add(
                CaseEvent(
                    case_id=case_id,
                    at=start.replace(minute=minute),
                    action=action,
                    from_state=from_state,
                    to_state=to_state,
                    actor_staff_id=None,
                    actor_label="import",
                    department_id=None,
                    note="",
                )
            )


def test_skipped_review_is_detected(database: Database) -> None:
    case_id = register_case(database, at(date(2026, 11, 20)))
    run_scan(database, at(date(2026, 11, 20), 11))  # the acceptance itself is in order
    assert open_alerts(database, case_id) == {}
    _insert_events(
        database,
        case_id,
        [
            ("undertake", "accepted", "undertaking"),
            ("approve", "undertaking", "approved"),  # 审核 skipped
        ],
        at(date(2026, 11, 23), 9),
    )
    report = run_scan(database, at(date(2026, 11, 23), 10))
    process = open_alerts(database, case_id)["流程异常"]
    assert process.detail["rule"] == "skipped"
    assert process.detail["skipped"] == ["审核"]
    assert "审核" in process.message
    assert report.raised["流程异常"] == 1
    again = run_scan(database, at(date(2026, 11, 23), 10, 5))  # inside the overlap window
    assert again.raised["流程异常"] == 0


def test_out_of_order_and_time_reversed(database: Database) -> None:
    case_id = register_case(database, at(date(2026, 11, 20)))
    run_scan(database, at(date(2026, 11, 20), 11))
    _insert_events(
        database,
        case_id,
        [
            ("review", "undertaking", "reviewing"),  # but the case was still "accepted"
        ],
        at(date(2026, 11, 19), 9),
    )  # and dated before the acceptance
    run_scan(database, at(date(2026, 11, 23), 10))
    rules = sorted(a.detail["rule"] for a in all_alerts(database, case_id))
    assert rules == ["out_of_order", "time_reversed"]


def test_abnormal_endings_are_flagged(database: Database) -> None:
    withdrawn = register_case(database, at(date(2026, 11, 20)))
    with database.writing() as session:
        case_service.transition(
            session,
            case_id=withdrawn,
            action="withdraw",
            actor=actor_of(database, withdrawn),
            now=at(date(2026, 11, 23)),
            note="申请人撤回",
            allow_all_departments=True,
        )
    run_scan(database, at(date(2026, 11, 23), 11))
    flagged = open_alerts(database, withdrawn)["异常办结"]
    assert flagged.detail["reason"] == "withdraw"
    assert {r["role"] for r in flagged.recipients} >= {"supervisor", "department_lead"}
    # A finding stays until acknowledged; the closed case does not clear it.
    run_scan(database, at(date(2026, 11, 24), 11))
    assert "异常办结" in open_alerts(database, withdrawn)


def test_check_events_allows_the_normal_path() -> None:
    rows = [
        ("accept", None, "accepted"),
        ("undertake", "accepted", "undertaking"),
        ("review", "undertaking", "reviewing"),
        ("return", "reviewing", "undertaking"),
        ("suspend", "undertaking", "undertaking"),
        ("resume", "undertaking", "undertaking"),
        ("review", "undertaking", "reviewing"),
        ("approve", "reviewing", "approved"),
        ("complete", "approved", "completed"),
        ("deliver", "completed", "delivered"),
    ]
    events = [
        CaseEvent(
            id=i + 1,
            case_id=1,
            at=at(date(2026, 11, 2), 9, i),
            action=a,
            from_state=f,
            to_state=t,
            actor_label="x",
            note="",
        )
        for i, (a, f, t) in enumerate(rows)
    ]
    assert sv.check_events(events, 5, {e.id for e in events}) == []
    instant = [
        CaseEvent(
            id=1,
            case_id=1,
            at=at(date(2026, 11, 2)),
            action="accept",
            from_state=None,
            to_state="accepted",
            actor_label="x",
            note="",
        ),
        CaseEvent(
            id=2,
            case_id=1,
            at=at(date(2026, 11, 2), 11),
            action="complete",
            from_state="accepted",
            to_state="completed",
            actor_label="x",
            note="",
        ),
    ]
    assert sv.check_events(instant, 0, {1, 2}) == []  # 即办
    assert [f[3]["skipped"] for f in sv.check_events(instant, 5, {1, 2})] == [
        ["承办", "审核", "批准"]
    ]


# --------------------------------------------------------------------------- channels


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def sms_fake() -> Iterator[FakeAliyunSms]:
    with running_fake() as fake:
        yield fake


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    # aiosmtpd checks readiness by connecting to the port it was given, so it
    # needs a concrete free port rather than 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_yellow_card_email_over_real_smtp(
    database: Database,
    national_day_case: int,
    smtp_server: tuple[_Inbox, int],
    sms_fake: FakeAliyunSms,
) -> None:
    inbox, port = smtp_server
    with database.writing() as session:
        case = session.get(Case, national_day_case)
        assert case is not None
        lead = next(
            s
            for s in session.execute(select(Staff)).scalars()
            if s.department_id == case.department_id and s.has_role(Role.DEPARTMENT_LEAD)
        )
        session.add(
            StaffContact(staff_id=lead.id, email="lead.syj@example.gov.cn", phone=LEAD_PHONE)
        )
    run_scan(database, at(date(2026, 10, 8)))
    clock = FakeClock(at(date(2026, 10, 8), 9, 1))
    channels = notify.default_channels(
        smtp=notify.SmtpSettings(host="127.0.0.1", port=port),
        sms_gateway=sms.AliyunSmsGateway(gateway_settings(sms_fake)),
    )
    report = sv.deliver_pending(database, channels, clock)
    assert report.sent == 2 and report.failed == 0  # the lead's e-mail and SMS
    assert [r.phone for r in sms_fake.accepted] == [LEAD_PHONE]
    assert len(inbox.messages) == 1
    _sender, recipients, raw = inbox.messages[0]
    assert recipients == ["lead.syj@example.gov.cn"]
    message = message_from_bytes(raw)
    assert "黄牌" in str(make_header(decode_header(message["Subject"])))
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode("utf-8")
    assert "已超过承诺期限（2026-09-30）" in body
    with database.reading() as session:
        email = session.execute(
            select(AlertDelivery).where(
                AlertDelivery.channel == "email", AlertDelivery.status == "sent"
            )
        ).scalar_one()
        assert email.status == "sent" and email.address_masked == "l***@example.gov.cn"
        handler_sms = session.execute(
            select(AlertDelivery).where(
                AlertDelivery.channel == "sms", AlertDelivery.recipient_role == "handler"
            )
        ).scalar_one()
        assert handler_sms.status == "skipped"  # the handler has no contact entered
    assert sv.deliver_pending(database, channels, clock).sent == 0  # nothing sent twice


def test_smtp_failure_is_retried_then_failed(database: Database, national_day_case: int) -> None:
    with database.writing() as session:
        case = session.get(Case, national_day_case)
        assert case is not None
        session.add(
            StaffContact(staff_id=case.handler_staff_id, email="h@example.gov.cn", phone="")
        )
    run_scan(database, at(date(2026, 10, 8)))
    dead = notify.SmtpEmailChannel(notify.SmtpSettings(host="127.0.0.1", port=1, timeout_seconds=2))
    policy = sv.SupervisionPolicy(max_delivery_attempts=2)
    clock = FakeClock(at(date(2026, 10, 8), 9, 5))
    first = sv.deliver_pending(database, {"email": dead}, clock, policy)
    second = sv.deliver_pending(database, {"email": dead}, clock, policy)
    assert (first.retrying, second.failed) == (1, 1)
    with database.reading() as session:
        email = session.execute(
            select(AlertDelivery).where(
                AlertDelivery.channel == "email", AlertDelivery.recipient_role == "handler"
            )
        ).scalar_one()
        assert email.status == "failed" and email.attempts == 2 and "SMTP" in email.last_error


def test_sms_goes_through_the_gateway_and_logs_mask_the_phone_number(
    database: Database,
    national_day_case: int,
    sms_fake: FakeAliyunSms,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with database.writing() as session:
        case = session.get(Case, national_day_case)
        assert case is not None
        session.add(StaffContact(staff_id=case.handler_staff_id, email="", phone=HANDLER_PHONE))
    run_scan(database, at(date(2026, 9, 30), 9))
    caplog.set_level(logging.INFO)
    channels = notify.default_channels(sms_gateway=sms.AliyunSmsGateway(gateway_settings(sms_fake)))
    report = sv.deliver_pending(database, channels, FakeClock(at(date(2026, 9, 30))))
    assert report.sent == 2  # 提醒 and 预警 by SMS to the handler
    assert {r.template_code for r in sms_fake.accepted} == {TEMPLATE_ALERT}
    assert [r.phone for r in sms_fake.accepted] == [HANDLER_PHONE, HANDLER_PHONE]
    assert any("预警" in r.params["content"] for r in sms_fake.accepted)
    text = caplog.text
    assert HANDLER_PHONE not in text
    assert "139****8888" in text
    assert "预警" not in text  # the alert's text is never logged
    sms_fake.mode = "refuse"
    with database.writing() as session:
        session.execute(update(AlertDelivery).values(status="pending", attempts=0))
    refused = sv.deliver_pending(database, channels, FakeClock(at(date(2026, 9, 30))))
    assert refused.failed == 2 and refused.retrying == 0  # a refusal is final at once


def test_alert_sms_without_a_gateway_is_off_never_sent(
    database: Database, national_day_case: int
) -> None:
    """The old logging-only gateway marked these deliveries sent."""
    with database.writing() as session:
        case = session.get(Case, national_day_case)
        assert case is not None
        session.add(StaffContact(staff_id=case.handler_staff_id, email="", phone=HANDLER_PHONE))
    run_scan(database, at(date(2026, 9, 30), 9))
    report = sv.deliver_pending(
        database, notify.default_channels(), FakeClock(at(date(2026, 9, 30)))
    )
    assert (report.sent, report.off) == (0, 2)
    with database.reading() as session:
        deliveries = (
            session.execute(select(AlertDelivery).where(AlertDelivery.channel == "sms"))
            .scalars()
            .all()
        )
    assert {d.status for d in deliveries} == {"off"}
    assert all(d.sent_at is None and d.attempts == 0 for d in deliveries)
    assert all("not configured" in d.last_error for d in deliveries)
    # Off is final: a later run does not try again or count it as a failure.
    again = sv.deliver_pending(
        database, notify.default_channels(), FakeClock(at(date(2026, 9, 30)))
    )
    assert again == sv.DeliveryReport()


def test_scheduler_runs_in_background(database: Database, national_day_case: int) -> None:
    clock = FakeClock(at(date(2026, 10, 8)))
    scheduler = sv.SupervisionScheduler(database, clock, interval_seconds=3600)
    scheduler.start()
    try:
        assert scheduler.completed.wait(30)
    finally:
        scheduler.stop()
    assert scheduler.runs == 1 and scheduler.last_error == ""
    assert "黄牌" in open_alerts(database, national_day_case)


def _alert_events(database: Database, after: int) -> list[dict[str, Any]]:
    with database.reading() as session:
        return [
            payload
            for kind, payload in session.execute(
                select(HallEvent.kind, HallEvent.payload)
                .where(HallEvent.seq > after, HallEvent.kind == sv.ALERT_EVENT)
                .order_by(HallEvent.seq)
            )
        ]


def _last_seq(database: Database) -> int:
    with database.reading() as session:
        return int(session.execute(select(func.max(HallEvent.seq))).scalar_one() or 0)


def test_alert_changes_are_hall_events_without_the_web_app(
    database: Database, national_day_case: int
) -> None:
    """The service announces raised, cleared and acknowledged alerts itself, so
    pages refresh when the scan runs in a separate process; one event per hall
    and transaction, with counts and an id only (no names, no case details)."""
    start = _last_seq(database)
    run_scan(database, at(date(2026, 9, 30)))  # 预警 (and the reminder of the day before)
    raised = _alert_events(database, start)
    assert len(raised) == 1 and raised[0]["raised"] >= 1
    assert set(raised[0]) <= {"raised", "cleared", "alert_id"}
    middle = _last_seq(database)
    run_scan(database, at(date(2026, 10, 8)))  # 黄牌 replaces the 预警
    changed = _alert_events(database, middle)
    assert len(changed) == 1 and changed[0]["raised"] == 1 and changed[0]["cleared"] >= 1
    yellow = open_alerts(database, national_day_case)["黄牌"]
    before_ack = _last_seq(database)
    with database.writing() as session:
        lead = _staff(session, "SYJ", Role.DEPARTMENT_LEAD)
        viewer = Principal(
            kind="staff",
            label="staff:lead",
            hall_id=yellow.hall_id,
            staff_id=lead.id,
            roles=frozenset({"supervisor"}),
        )
        sv.acknowledge(session, yellow.id, viewer, at(date(2026, 10, 8), 11))
    assert _alert_events(database, before_ack) == [{"acknowledged": 1, "alert_id": yellow.id}]
    again = _last_seq(database)
    with database.writing() as session:  # a repeated acknowledgement changes nothing
        sv.acknowledge(session, yellow.id, viewer, at(date(2026, 10, 8), 12))
    assert _alert_events(database, again) == []


def test_scheduler_refreshes_rollups_and_sends_due_reports(
    database: Database, national_day_case: int, smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    with database.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        session.add(
            ReportSchedule(
                hall_id=hall_id,
                recipient_name="监察室",
                recipient_email="jcs@example.gov.cn",
                group_by="department",
                report_format="html",
                frequency="monthly",
                day=1,
                hour=8,
                active=True,
                created_at=at(date(2026, 9, 20)),
                last_period="",
                failures=0,
                last_error="",
            )
        )
    clock = FakeClock(at(date(2026, 10, 8)))
    channels = notify.default_channels(smtp=notify.SmtpSettings(host="127.0.0.1", port=port))
    scheduler = sv.SupervisionScheduler(database, clock, channels, interval_seconds=3600)
    scheduler.run_once()
    assert scheduler.step_errors == {}
    assert scheduler.last_rollup is not None and scheduler.last_rollup.days == 2
    with database.reading() as session:
        days = set(session.execute(select(rollup_days.c.day)).scalars())
    assert {date.fromisoformat(str(day)[:10]) for day in days} == {
        date(2026, 10, 7),
        date(2026, 10, 8),
    }
    assert scheduler.last_reports is not None and len(scheduler.last_reports.sent) == 1
    reports = [raw for _sender, recipients, raw in inbox.messages if "jcs@" in recipients[0]]
    assert len(reports) == 1
    message = message_from_bytes(reports[0])
    files = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert files == ["performance-2026-09-department.html"]
    clock.advance(minutes=5)
    scheduler.run_once()  # the period is sent once
    assert scheduler.last_reports.sent == []


def test_scheduler_without_smtp_sends_no_reports(database: Database) -> None:
    scheduler = sv.SupervisionScheduler(database, FakeClock(at(date(2026, 10, 8))))
    scheduler.run_once()
    assert scheduler.last_reports is None and scheduler.last_rollup is not None


def test_email_attachment_is_built() -> None:
    channel = notify.SmtpEmailChannel(notify.SmtpSettings(sender="hallkit@example.gov.cn"))
    email = channel.build(
        notify.OutgoingMessage(
            recipient_name="张三",
            address="z@example.gov.cn",
            subject="报表",
            body="见附件",
            attachments=(
                notify.Attachment("r.pdf", b"%PDF-1.4", "application", "pdf"),
                notify.Attachment("r.html", "<p>绩效</p>".encode(), "text", "html"),
            ),
        )
    )
    parts = {part.get_filename(): part for part in email.walk() if part.get_filename()}
    assert parts["r.pdf"].get_payload(decode=True) == b"%PDF-1.4"
    assert parts["r.html"].get_content_type() == "text/html"
    html = parts["r.html"].get_payload(decode=True)
    assert isinstance(html, bytes)
    # (a text part gains a final newline, as every MIME text body)
    assert html.decode("utf-8").rstrip() == "<p>绩效</p>"


# --------------------------------------------------------------------------- API


def test_alert_api_scopes_and_acknowledge(
    api: Api,
    database_url: str,
    clock: FakeClock,
) -> None:
    database = Database(database_url)
    try:
        case_id = register_case(database, at(date(2026, 9, 22)))
        run_scan(database, at(date(2026, 10, 8)))
        with database.reading() as session:
            case = session.get(Case, case_id)
            assert case is not None
            handler = session.get(Staff, case.handler_staff_id)
            assert handler is not None
            handler_no = handler.employee_no
    finally:
        database.dispose()
    clock.now = at(date(2026, 10, 8), 10)
    supervisor = api.sign_in("BH9001")
    status, body = api.get("/api/v1/supervision/alerts?state=open&kind=黄牌", supervisor)
    assert status == 200, body
    assert [item["case_id"] for item in body["items"]] == [case_id]
    alert_id = body["items"][0]["id"]

    other_lead = api.sign_in("BH8001")  # 工商 lead: not this department
    status, body = api.get("/api/v1/supervision/alerts", other_lead)
    assert status == 200 and body["items"] == []
    status, _ = api.post(f"/api/v1/supervision/alerts/{alert_id}/acknowledge", other_lead, {})
    assert status == 404

    lead = api.sign_in("BH8006")  # 食药监 lead
    status, body = api.get("/api/v1/supervision/alerts", lead)
    assert [item["id"] for item in body["items"]] == [alert_id]
    handler_token = api.sign_in(handler_no)
    status, body = api.post(
        f"/api/v1/supervision/alerts/{alert_id}/acknowledge", handler_token, {"note": "今日办结"}
    )
    assert status == 200, body
    assert body["state"] == "acknowledged"
    status, body = api.get("/api/v1/supervision/alerts?state=acknowledged", supervisor)
    assert [item["id"] for item in body["items"]] == [alert_id]
    status, body = api.get("/api/v1/supervision/alerts?kind=bogus", supervisor)
    assert status == 400

    status, body = api.get("/api/v1/supervision/cases/overdue", lead)
    assert status == 200
    assert [(i["case_id"], i["working_days_overdue"]) for i in body["items"]] == [(case_id, 1)]


def test_live_hall_view(api: Api, clock: FakeClock, device_token: Any) -> None:
    kiosk = device_token()
    for _ in range(3):
        status, _body = api.post("/api/v1/halls/BH/tickets", kiosk, {"category": "A"})
        assert status == 201, _body
    clock.advance(minutes=7)
    supervisor = api.sign_in("BH9001")
    status, body = api.get("/api/v1/supervision/hall/BH", supervisor)
    assert status == 200, body
    category_a = next(c for c in body["categories"] if c["prefix"] == "A")
    assert category_a["waiting"] == 3
    assert category_a["longest_wait_seconds"] == 7 * 60
    assert body["longest_wait"]["category"] == "A"
    assert body["waiting_total"] == 3
    assert len(body["windows"]) > 0 and "state" in body["windows"][0]
    clerk = api.sign_in("BH0101")
    assert api.get("/api/v1/supervision/hall/BH", clerk)[0] == 403


def test_alert_email_is_in_the_contacts_language(
    database: Database, national_day_case: int, smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    with database.writing() as session:
        case = session.get(Case, national_day_case)
        assert case is not None
        lead = next(
            s
            for s in session.execute(select(Staff)).scalars()
            if s.department_id == case.department_id and s.has_role(Role.DEPARTMENT_LEAD)
        )
        assert case.handler_staff_id is not None and case.handler_staff_id != lead.id
        session.add(
            StaffContact(
                staff_id=case.handler_staff_id, email="h@example.gov.cn", phone="", language="en"
            )
        )
        # No language given: the column's default, Chinese.
        session.add(StaffContact(staff_id=lead.id, email="lead@example.gov.cn", phone=""))
    run_scan(database, at(date(2026, 10, 8)))
    clock = FakeClock(at(date(2026, 10, 8), 9, 1))
    channels = notify.default_channels(smtp=notify.SmtpSettings(host="127.0.0.1", port=port))
    assert sv.deliver_pending(database, channels, clock).sent == 2

    def mail_to(address: str) -> tuple[str, str]:
        raw = next(m[2] for m in inbox.messages if m[1] == [address])
        message = message_from_bytes(raw)
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return str(make_header(decode_header(message["Subject"]))), payload.decode("utf-8")

    subject, body = mail_to("h@example.gov.cn")
    assert subject == "Case supervision: Yellow card"
    assert body.startswith("Yellow card: case ") and "past its promised time limit" in body
    assert "黄牌" not in subject + body and "办件" not in subject + body
    subject, body = mail_to("lead@example.gov.cn")
    assert subject == "办件监察提醒：黄牌"
    assert body.startswith("黄牌：办件 ") and "已超过承诺期限（2026-09-30）" in body


def test_alert_sms_is_in_the_discipline_contacts_language(database: Database) -> None:
    with database.writing() as session:
        session.add(DisciplineContact(name="Li", phone="13800138000", active=True, language="en"))
        session.flush()
        contact_id = session.execute(select(DisciplineContact.id)).scalar_one()
    alert = Alert(kind="红牌", message="红牌：……", detail={})
    recipient = sv._Recipient("discipline", "Li", None, contact_id)
    with database.reading() as session:
        address, language = sv._reach(session, notify.SMS, recipient)
    message = sv.delivery_message(alert, "Li", address, language)
    assert (address, language) == ("13800138000", "en")
    assert message.subject == "Case supervision: Red card"
