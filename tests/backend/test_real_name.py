"""Real-name tickets and appointment check-in by the ID card's lookup hash.

The kiosk sends the HMAC of the ID number (hallbus.idlookup) instead of the number;
the backend finds today's booking by it. The hash identifies a person: it is stored,
but never returned, echoed in an error, or logged.
"""

from __future__ import annotations

import json
import logging
from datetime import time
from typing import Any

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.models import Appointment, AppointmentState, Hall, QueueCategory, Ticket
from backend.privacy import IdentityProtector
from tests.conftest import DEFAULT_NOW, SECRET, Api

ID_NUMBER = "11010519491231002X"  # checksum-valid, used only in tests
OTHER_ID = "110105199003071239"
TICKETS = "/api/v1/halls/BH/tickets"
CHECK_IN = "/api/v1/halls/BH/appointments/check-in"
TODAY = DEFAULT_NOW.date()  # 2026-11-26 10:00 in the hall is the same calendar day


def lookup(number: str) -> str:
    return IdentityProtector.from_secret(SECRET).lookup_hash(number)


def book(
    db: Database,
    code: str,
    id_number: str = ID_NUMBER,
    *,
    slot: tuple[time, time] = (time(9, 0), time(17, 0)),
    state: AppointmentState = AppointmentState.BOOKED,
    category: str = "A",
    day: Any = TODAY,
) -> int:
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        category_id = session.execute(
            select(QueueCategory.id).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == category
            )
        ).scalar_one()
        appointment = Appointment(
            hall_id=hall_id,
            category_id=category_id,
            day=day,
            slot_start=slot[0],
            slot_end=slot[1],
            code=code,
            name_masked="张*",
            phone_last4="1234",
            id_lookup_hash=lookup(id_number),
            state=state,
            created_at=DEFAULT_NOW,
        )
        session.add(appointment)
        session.flush()
        return appointment.id


def appointment(db: Database, appointment_id: int) -> Appointment:
    with db.reading() as session:
        found = session.get(Appointment, appointment_id)
        assert found is not None
        session.expunge(found)
        return found


def test_check_in_by_hash_equals_check_in_by_code(
    api: Api, db: Database, device_token: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk = device_token()
    person = lookup(ID_NUMBER)
    booked = book(db, "REAL0001")

    status, by_hash = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": person})
    assert status == 201, by_hash
    assert by_hash["category"] == "A" and by_hash["standing"] == "appointment"
    assert person not in json.dumps(by_hash)
    row = appointment(db, booked)
    assert row.state is AppointmentState.CHECKED_IN and row.ticket_id == by_hash["id"]

    # The same appointment by its code, and by the hash again: the same ticket.
    status, by_code = api.post(CHECK_IN, kiosk, json={"code": "REAL0001"})
    assert status == 201 and by_code["id"] == by_hash["id"]
    assert by_code["number"] == by_hash["number"]
    status, again = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": person})
    assert status == 201 and again["id"] == by_hash["id"]
    with db.reading() as session:
        tickets = session.execute(select(Ticket).where(Ticket.appointment_id == booked)).all()
        assert len(tickets) == 1
    assert all(person not in record.getMessage() for record in caplog.records)


def test_check_in_by_code_first_then_by_hash_gives_the_same_ticket(
    api: Api, db: Database, device_token: Any
) -> None:
    kiosk = device_token()
    book(db, "REAL0002")
    status, by_code = api.post(CHECK_IN, kiosk, json={"code": "REAL0002"})
    assert status == 201, by_code
    status, by_hash = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": lookup(ID_NUMBER)})
    assert status == 201 and by_hash["id"] == by_code["id"]


def test_by_hash_takes_todays_earliest_booked_slot_of_this_hall(
    api: Api, db: Database, device_token: Any
) -> None:
    kiosk = device_token()
    later = book(db, "REAL0003", slot=(time(14, 0), time(15, 0)))
    earlier = book(db, "REAL0004", slot=(time(9, 30), time(11, 0)), category="B")
    book(db, "REAL0005", day=TODAY.replace(day=27))  # another day: not today's
    book(db, "REAL0006", slot=(time(8, 0), time(9, 0)), state=AppointmentState.CANCELLED)

    status, first = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": lookup(ID_NUMBER)})
    assert status == 201, first
    assert first["category"] == "B"
    assert appointment(db, earlier).ticket_id == first["id"]
    assert appointment(db, later).state is AppointmentState.BOOKED

    # With the earliest checked in, the next card read checks in the later booking.
    status, second = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": lookup(ID_NUMBER)})
    assert status == 201 and second["id"] != first["id"] and second["category"] == "A"
    assert appointment(db, later).ticket_id == second["id"]


def test_unknown_and_malformed_hashes(api: Api, db: Database, device_token: Any) -> None:
    kiosk = device_token()
    book(db, "REAL0007")
    unknown = lookup(OTHER_ID)
    status, body = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": unknown})
    assert status == 404 and body["error"]["code"] == "not_found"
    assert unknown not in json.dumps(body)

    malformed = [
        lookup(ID_NUMBER).upper(),  # upper-case hex
        lookup(ID_NUMBER)[:63],
        "z" * 64,
        ID_NUMBER,  # a raw ID number is refused, and not echoed back
    ]
    for value in malformed:
        status, body = api.post(CHECK_IN, kiosk, json={"id_lookup_hash": value})
        assert status == 400 and body["error"]["code"] == "bad_input", body
        assert value not in json.dumps(body, ensure_ascii=False)
        status, body = api.post(TICKETS, kiosk, json={"category": "A", "id_lookup_hash": value})
        assert status == 400, body
        assert value not in json.dumps(body, ensure_ascii=False)

    # Exactly one of code and hash.
    status, _ = api.post(CHECK_IN, kiosk, json={})
    assert status == 400
    status, _ = api.post(
        CHECK_IN, kiosk, json={"code": "REAL0007", "id_lookup_hash": lookup(ID_NUMBER)}
    )
    assert status == 400
    assert appointment_state(db, "REAL0007") is AppointmentState.BOOKED


def appointment_state(db: Database, code: str) -> AppointmentState:
    with db.reading() as session:
        return session.execute(
            select(Appointment.state).where(Appointment.code == code)
        ).scalar_one()


def test_real_name_ticket_stores_the_hash_and_never_returns_it(
    api: Api, db: Database, device_token: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk = device_token()
    person = lookup(ID_NUMBER)
    status, issued = api.post(
        TICKETS, kiosk, json={"category": "A", "id_lookup_hash": person, "request_id": "rn-1"}
    )
    assert status == 201, issued
    assert person not in json.dumps(issued) and "id_lookup_hash" not in issued
    # A retry with the same request id: the same ticket, still without the hash.
    status, retried = api.post(
        TICKETS, kiosk, json={"category": "A", "id_lookup_hash": person, "request_id": "rn-1"}
    )
    assert status == 201 and retried["id"] == issued["id"]
    status, anonymous = api.post(TICKETS, kiosk, json={"category": "A"})
    assert status == 201

    with db.reading() as session:
        assert session.get(Ticket, issued["id"]).id_lookup_hash == person  # type: ignore[union-attr]
        assert session.get(Ticket, anonymous["id"]).id_lookup_hash is None  # type: ignore[union-attr]
    status, found = api.get(f"{TICKETS}/{issued['number']}", kiosk)
    assert status == 200 and person not in json.dumps(found)
    status, public = api.get(f"/api/v1/public/tickets/{issued['public_token']}")
    assert status == 200 and person not in json.dumps(public)
    assert all(person not in record.getMessage() for record in caplog.records)
