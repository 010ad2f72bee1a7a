"""The kiosk's protocol additions through the real hub, broker and backend.

KioskState (retained, debounced, notices), matter_detail, device health, appointment
check-in by code and by the ID card's lookup hash, real-name tickets, follow_url,
rating a case by receipt without a window, case next action and supplement list, the
life_event search filter.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backend.cli import main as hall_cli
from backend.db import Database
from backend.models import (
    Appointment,
    AppointmentState,
    Device,
    Hall,
    QueueCategory,
    Staff,
    Ticket,
)
from backend.models.cases import Case
from backend.models.sms import TicketContact
from backend.privacy import IdentityProtector
from backend.services import cases as case_service
from backend.services import eventlog
from hallbus.client import RequestFailed
from hallbus.errors import ErrorCode
from hallbus.idlookup import id_lookup_hash, parse_lookup_key
from hallbus.messages import RatingAccepted, SubmitRating, TakeTicket, TicketIssued
from hallbus.topics import Component
from tests.conftest import SECRET, register_restaurant_case
from tests.hub.conftest import WAIT_S, new_id, wait_until
from tests.hub.conftest import Hall as HubHall

SHANGHAI_OFFSET = timedelta(hours=8)
ID_NUMBER = "11010519491231002X"  # checksum-valid, used only in tests
OTHER_ID_NUMBER = "110105199003071239"  # checksum-valid, no booking
CLERK = "BH0101"


def _database(hall: HubHall) -> Database:
    """The database as the backend's own pages write to it: a commit wakes the
    event readers (the hub's long-poll) at once, as it does in the backend.
    A plain Database would leave the hub to find the change when its long-poll
    times out, 5 s later."""
    return Database.with_wakeups(hall.backend.database_url, hall.backend.var_dir)


def _hall_id(session: Any) -> int:
    return int(session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one())


def book_for_today(hall: HubHall, code: str) -> None:
    """An appointment for today's service day (booking through the API needs a later day)."""
    database = _database(hall)
    try:
        with database.writing() as session:
            hall_id = _hall_id(session)
            category = session.execute(
                select(QueueCategory).where(
                    QueueCategory.hall_id == hall_id, QueueCategory.prefix == "A"
                )
            ).scalar_one()
            today = (hall.clock() + SHANGHAI_OFFSET).date()
            session.add(
                Appointment(
                    hall_id=hall_id,
                    category_id=category.id,
                    day=today,
                    slot_start=time(9, 0),
                    slot_end=time(17, 0),
                    code=code,
                    name_masked="张*",
                    id_lookup_hash=IdentityProtector.from_secret(SECRET).lookup_hash(ID_NUMBER),
                    state=AppointmentState.BOOKED,
                    created_at=hall.clock(),
                )
            )
    finally:
        database.dispose()


def register_case(hall: HubHall, matter_code: str = "SYJ-001") -> tuple[int, str]:
    database = _database(hall)
    try:
        with database.writing() as session:
            staff = session.execute(select(Staff).where(Staff.employee_no == CLERK)).scalar_one()
            case = register_restaurant_case(
                session, matter_code=matter_code, handler=staff, now=hall.clock()
            )
            return case.id, case.receipt_number
    finally:
        database.dispose()


def _actor(session: Any, case_id: int) -> case_service.Actor:
    case = session.get(Case, case_id)
    assert case is not None
    return case_service.Actor("staff:test", case.handler_staff_id, case.department_id)


def suspend_for_materials(hall: HubHall, case_id: int, reason: str) -> None:
    database = _database(hall)
    try:
        with database.writing() as session:
            case_service.suspend(
                session,
                case_id=case_id,
                kind="补正",
                reason=reason,
                actor=_actor(session, case_id),
                now=hall.clock(),
                allow_all_departments=True,
            )
    finally:
        database.dispose()


def finish(hall: HubHall, case_id: int) -> None:
    database = _database(hall)
    try:
        with database.writing() as session:
            for action in ("undertake", "review", "approve", "complete"):
                case_service.transition(
                    session,
                    case_id=case_id,
                    action=action,
                    actor=_actor(session, case_id),
                    now=hall.clock(),
                    allow_all_departments=True,
                )
    finally:
        database.dispose()


def announce_notices(hall: HubHall, notices: list[dict[str, str]]) -> None:
    """What the admin notice pages emit on every change (backend/web/admin/notices.py)."""
    database = _database(hall)
    try:
        with database.writing() as session:
            eventlog.emit(session, _hall_id(session), "notices_changed", {"notices": notices})
    finally:
        database.dispose()


# --------------------------------------------------------------------- kiosk state


def test_kiosk_state_has_queues_catalogue_and_follows_events(hall: HubHall) -> None:
    hall.start_hub()
    kiosk = hall.kiosk()
    hall_display = hall.hall_display()
    # Retained: the kiosk gets it on subscribe; the catalogue digest arrives a bit later.
    state = kiosk.states.wait_for(lambda s: bool(s.life_events), WAIT_S * 2)
    prefixes = [c.prefix for c in state.categories]
    assert "A" in prefixes and not state.degraded
    assert state.departments and all(d.code and d.name for d in state.departments)
    codes = {d.code for d in state.departments}
    assert any(set(c.departments) <= codes and c.departments for c in state.categories)
    assert "企业开办" in state.life_events

    waiting_before = next(c.waiting for c in state.categories if c.prefix == "A")
    assert waiting_before is not None
    ticket = kiosk.take_ticket("A")
    updated = kiosk.states.wait_for(
        lambda s: next(c.waiting for c in s.categories if c.prefix == "A") == waiting_before + 1,
        WAIT_S,
    )
    assert updated.seq > state.seq
    # Where the category's windows are, as the online ticket said.
    category_a = next(c for c in updated.categories if c.prefix == "A")
    assert (category_a.floor, category_a.window_area) == (ticket.floor, ticket.window_area)

    announce_notices(hall, [{"id": "1", "title": "停电通知", "body": "今日16:00后暂停办理"}])
    with_notice = kiosk.states.wait_for(
        lambda s: "停电通知：今日16:00后暂停办理" in s.notices, WAIT_S
    )
    assert with_notice.seq > updated.seq
    # The event carries the complete active list: it replaces the snapshot's notices.
    assert with_notice.notices == ["停电通知：今日16:00后暂停办理"]
    calls = hall_display.states.wait_for(
        lambda s: s.notices == ["停电通知：今日16:00后暂停办理"], WAIT_S
    )

    announce_notices(hall, [])
    kiosk.states.wait_for(lambda s: s.seq > with_notice.seq and not s.notices, WAIT_S)
    # Cleared notices are left out of the call list's JSON (an added field, unset).
    hall_display.states.wait_for(lambda s: s.seq > calls.seq and not s.notices, WAIT_S)


def test_kiosk_state_is_debounced(mosquitto_hall: HubHall) -> None:
    hub = mosquitto_hall.start_hub()
    kiosk = mosquitto_hall.kiosk()
    kiosk.states.wait_for(lambda s: bool(s.life_events), WAIT_S * 2)
    published = hub.metrics.snapshot().get("published_kiosk_state", 0)
    for _ in range(8):
        kiosk.take_ticket("B")
    final = kiosk.states.wait_for(
        lambda s: next(c.waiting for c in s.categories if c.prefix == "B") == 8, WAIT_S
    )
    assert final is not None
    # Eight tickets in well under a second: a few states per kiosk, not one per ticket.
    sent = hub.metrics.snapshot().get("published_kiosk_state", 0) - published
    kiosks = 2  # kiosk-1, kiosk-2 in the test registry
    assert sent <= kiosks * 6, sent


# ------------------------------------------------------------------- matter detail


def test_matter_detail_and_life_event_search(hall: HubHall) -> None:
    hall.start_hub()
    kiosk = hall.kiosk()
    detail = kiosk.matter_detail("GS-001")
    assert detail.matter_code == "GS-001" and detail.department_name
    assert detail.materials and all(m.name for m in detail.materials)
    assert detail.steps and detail.category is not None
    with pytest.raises(RequestFailed) as refused:
        kiosk.matter_detail("NO-SUCH-1")
    assert refused.value.code is ErrorCode.NOT_FOUND

    results = kiosk.search(life_event="婚育收养", limit=100)
    assert results.items
    everything = kiosk.search(limit=100)
    assert results.total < everything.total  # a filter, not a ranking
    assert kiosk.search(life_event="没有这个生活事件").total == 0


# ------------------------------------------------------------------------- health


def test_device_health_reaches_registry_backend_and_health_endpoint(hall: HubHall) -> None:
    hub = hall.start_hub()
    kiosk = hall.kiosk()
    kiosk.report_health(Component.PRINTER, "paper_out", "纸卷用完")
    wait_until(
        lambda: (
            hub.health_report()["device_health"].get("kiosk-1", {}).get("printer", {}).get("state")
            == "paper_out"
        ),
        what="health recorded",
    )
    assert hub.health is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.health.port}/health", timeout=5) as reply:
        report = json.load(reply)
    assert report["device_health"]["kiosk-1"]["printer"]["detail"] == "纸卷用完"

    def backend_health() -> dict[str, Any]:
        database = _database(hall)
        try:
            with database.reading() as session:
                row = session.execute(
                    select(Device).where(Device.device_id == "kiosk-1")
                ).scalar_one_or_none()
                return dict(row.health) if row is not None and row.health else {}
        finally:
            database.dispose()

    wait_until(lambda: backend_health().get("printer") == "paper_out", what="backend health")
    assert backend_health()["printer_detail"] == "纸卷用完"

    # A report naming another device or a component the kiosk has not is not recorded.
    kiosk.client.publish(
        "hall/bh/kiosk/kiosk-1/health/scanner",
        b'{"v":1,"device":"kiosk-2","component":"scanner","state":"fault","detail":"",'
        b'"at":"2026-11-26T10:00:00+08:00"}',
    )
    kiosk.report_health(Component.SCANNER, "ok")
    wait_until(
        lambda: "scanner" in hub.health_report()["device_health"].get("kiosk-1", {}),
        what="scanner health",
    )
    assert hub.health_report()["device_health"]["kiosk-1"]["scanner"]["state"] == "ok"
    assert hub.metrics.snapshot().get("errors_bad_health", 0) >= 1


# ----------------------------------------------------------------------- tickets


def test_appointment_check_in_by_code_and_follow_url(hall: HubHall) -> None:
    hall.start_hub()
    kiosk = hall.kiosk()
    book_for_today(hall, "HK2026A")
    ticket = kiosk.check_in(appointment_code="HK2026A")
    assert ticket.category == "A" and not ticket.degraded
    assert ticket.follow_url is not None
    assert ticket.follow_url.startswith("http://127.0.0.1:8000/m/t/")
    # The same appointment again: the backend hands back the same ticket.
    assert kiosk.check_in(appointment_code="HK2026A").number == ticket.number

    with pytest.raises(RequestFailed) as unknown:
        kiosk.check_in(appointment_code="NOPE1234")
    assert unknown.value.code is ErrorCode.NOT_FOUND

    walk_in = kiosk.take_ticket("B")
    assert walk_in.follow_url and walk_in.follow_url.startswith("http://127.0.0.1:8000/m/t/")


def exported_lookup_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The key as the kiosk gets it: `hall export-id-lookup-key` of the hall's secret."""
    monkeypatch.setenv("HALLKIT_SECRET_KEY", SECRET)
    monkeypatch.setenv("HALLKIT_VAR_DIR", str(tmp_path / "export-var"))
    out = tmp_path / "id-lookup.key"
    result = CliRunner().invoke(hall_cli, ["export-id-lookup-key", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return parse_lookup_key(out.read_text(encoding="ascii"))


def _ticket_lookup_hash(hall: HubHall, number: str) -> str | None:
    database = _database(hall)
    try:
        with database.reading() as session:
            return session.execute(
                select(Ticket.id_lookup_hash).where(
                    Ticket.hall_id == _hall_id(session), Ticket.display == number
                )
            ).scalar_one()
    finally:
        database.dispose()


def test_appointment_check_in_by_id_card_and_real_name_ticket(
    hall: HubHall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall.start_hub()
    kiosk = hall.kiosk()
    # The booking stores the backend's lookup hash; the kiosk sends its own HMAC of the
    # card's number with the exported key (hallbus.idlookup) — the same value.
    book_for_today(hall, "HK2026C")
    key = exported_lookup_key(tmp_path, monkeypatch)
    person = id_lookup_hash(ID_NUMBER, key)
    assert person == IdentityProtector.from_secret(SECRET).lookup_hash(ID_NUMBER)

    by_card = kiosk.check_in(id_lookup_hash=person)
    assert by_card.category == "A" and not by_card.degraded
    assert by_card.follow_url and by_card.follow_url.startswith("http://127.0.0.1:8000/m/t/")
    # The same appointment by its code, and the card again: the same ticket.
    assert kiosk.check_in(appointment_code="HK2026C").number == by_card.number
    assert kiosk.check_in(id_lookup_hash=person).number == by_card.number
    assert _ticket_lookup_hash(hall, by_card.number) == person

    # A card with no booking today: not_found (the kiosk asks for the code).
    stranger = id_lookup_hash(OTHER_ID_NUMBER, key)
    with pytest.raises(RequestFailed) as unknown:
        kiosk.check_in(id_lookup_hash=stranger)
    assert unknown.value.code is ErrorCode.NOT_FOUND

    # A category plus the card's hash: a real-name queue ticket, the hash kept by the backend.
    real_name = kiosk.client.request(
        TakeTicket(category="B", id_lookup_hash=stranger), TicketIssued, timeout=5
    )
    assert real_name.category == "B" and not real_name.degraded
    assert _ticket_lookup_hash(hall, real_name.number) == stranger
    assert stranger not in real_name.model_dump_json()


def test_a_number_for_the_turn_is_near_sms_reaches_the_backend(
    hall: HubHall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hall.start_hub()
    kiosk = hall.kiosk()
    phone = "13912345678"
    ticket = kiosk.client.request(
        TakeTicket(category="B", notify_phone=phone), TicketIssued, timeout=5
    )
    assert not ticket.degraded and phone not in ticket.model_dump_json()
    database = _database(hall)
    try:
        with database.reading() as session:
            contact = session.execute(
                select(TicketContact)
                .join(Ticket, Ticket.id == TicketContact.ticket_id)
                .where(Ticket.hall_id == _hall_id(session), Ticket.display == ticket.number)
            ).scalar_one()
            assert contact.phone_last4 == "5678" and phone not in contact.phone_cipher
    finally:
        database.dispose()
    assert phone not in caplog.text


# ------------------------------------------------------------------------- cases


def test_case_next_action_supplement_and_rating_without_window(hall: HubHall) -> None:
    hall.start_hub()
    kiosk = hall.kiosk()
    waiting_id, waiting_receipt = register_case(hall)
    suspend_for_materials(hall, waiting_id, "食品安全管理制度文本、从业人员健康证明")
    status = kiosk.case_lookup(waiting_receipt, "1234")
    assert status.supplement == ["食品安全管理制度文本", "从业人员健康证明"]
    assert status.next_action == "请补正材料：食品安全管理制度文本、从业人员健康证明"

    done_id, done_receipt = register_case(hall)
    finish(hall, done_id)
    finished = kiosk.case_lookup(done_receipt, "1234")
    assert finished.supplement is None and finished.next_action
    rating = SubmitRating(
        rating_id=new_id(),
        case_receipt=done_receipt,
        level=5,
        rated_at=datetime.now(UTC),
    )
    assert rating.window is None
    accepted = kiosk.client.request(rating, RatingAccepted, timeout=5)
    assert accepted.rating_id == rating.rating_id and not accepted.duplicate
