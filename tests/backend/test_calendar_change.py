"""A calendar change moves open cases' due dates (item 13 of issue 14), on
SQLite and PostgreSQL: the 2027 holiday notice entered in one import, the year
confirmed, every open case counted again, each move a case event with the old
and new date, and a 期限变更 notice to the handler."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.errors import BadInput
from backend.holiday_notice import parse_notice
from backend.models import Case, CaseEvent, CaseState, Role, Staff
from backend.models.supervision import Alert, AlertDelivery, AlertKind
from backend.services import calendar_change
from backend.services import cases as case_service
from backend.services import supervision as sv
from backend.services.calendar import calendar_for
from tests.conftest import register_restaurant_case

MATTER_20_DAYS = "GT-001"  # 20 working days, department GT
# Monday 2026-12-07 10:00 in the hall.
ACCEPTED = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
NOTICE_NOW = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
NEW_YEAR = "一、元旦：1月1日（周五）至3日（周日）放假，共3天。"


def _handler(session: object) -> Staff:
    members = session.execute(  # type: ignore[attr-defined]
        select(Staff).join(Staff.department).where(Staff.department.has(code="GT"))
    ).scalars()
    return next(s for s in members if s.has_role(Role.CLERK))


def _register(database: Database) -> int:
    with database.writing() as session:
        case = register_restaurant_case(
            session, matter_code=MATTER_20_DAYS, handler=_handler(session), now=ACCEPTED
        )
        return case.id


def test_a_provisional_due_date_moves_when_the_notice_is_imported(database: Database) -> None:
    case_id = _register(database)
    with database.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None
        # chinesecalendar stops at 2026: the 2027 days are a weekend-only guess.
        assert (case.due_on, case.due_provisional) == (date(2027, 1, 4), True)
        handler_id = case.handler_staff_id

    parsed = parse_notice(NEW_YEAR, 2027)
    assert parsed.ok
    with database.writing() as session:
        change = calendar_change.import_days(
            session,
            year=2027,
            days=parsed.days,
            confirm=True,
            source="国办发明电〔2026〕号",
            actor="staff:BH9101",
            now=NOTICE_NOW,
        )
    assert change.days_written == 3
    assert [(m.old_due, m.new_due) for m in change.moved] == [(date(2027, 1, 4), date(2027, 1, 5))]

    with database.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.due_on, case.due_provisional) == (date(2027, 1, 5), False)
        moved = (
            session.execute(
                select(CaseEvent).where(
                    CaseEvent.case_id == case_id,
                    CaseEvent.action == case_service.DEADLINE_MOVED_ACTION,
                )
            )
            .scalars()
            .all()
        )
        assert len(moved) == 1
        assert "2027-01-04" in moved[0].note and "2027-01-05" in moved[0].note
        assert moved[0].from_state == moved[0].to_state == CaseState.ACCEPTED.value
        # The handler is told: in page (stored = delivered) and by SMS.
        alert = session.execute(
            select(Alert).where(
                Alert.case_id == case_id, Alert.kind == AlertKind.DEADLINE_MOVED.value
            )
        ).scalar_one()
        assert alert.handler_staff_id == handler_id and alert.due_on == date(2027, 1, 5)
        assert "2027-01-04" in alert.message and "2027-01-05" in alert.message
        deliveries = session.execute(
            select(AlertDelivery.channel, AlertDelivery.recipient_staff_id).where(
                AlertDelivery.alert_id == alert.id
            )
        ).all()
        assert sorted(deliveries) == [("in_page", handler_id), ("sms", handler_id)]

        # Every other day of the confirmed year stops being provisional.
        calendar = calendar_for(session)
        day = date(2027, 1, 1)
        while day.year == 2027:
            assert not calendar.is_workday(day).provisional, day
            day += timedelta(days=1)
        assert not calendar.is_workday(date(2027, 1, 1)).working
        assert calendar.is_workday(date(2027, 1, 4)).working
        assert calendar.is_workday(date(2028, 1, 4)).provisional  # 2028 is still unknown


def test_the_supervision_scan_follows_the_moved_date(database: Database) -> None:
    case_id = _register(database)
    # 2027-01-04 (the provisional due day) at 10:00: 预警, last working day.
    on_old_due = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)
    with database.writing() as session:
        sv.scan(session, on_old_due)
    with database.reading() as session:
        kinds = set(
            session.execute(
                select(Alert.kind).where(Alert.case_id == case_id, Alert.cleared_at.is_(None))
            ).scalars()
        )
        assert AlertKind.WARNING.value in kinds
    with database.writing() as session:
        calendar_change.import_days(
            session,
            year=2027,
            days=parse_notice(NEW_YEAR, 2027).days,
            confirm=False,
            source="",
            actor="staff:BH9101",
            now=on_old_due,
        )
    with database.writing() as session:
        sv.scan(session, on_old_due)
    with database.reading() as session:
        warning = session.execute(
            select(Alert).where(Alert.case_id == case_id, Alert.kind == AlertKind.WARNING.value)
        ).scalar_one()
        # The due date is now 2027-01-05: on the 4th one working day is left.
        assert warning.cleared_at is not None
        case = session.get(Case, case_id)
        assert case is not None and case.due_provisional  # the year is not confirmed yet


def test_a_second_move_supersedes_the_first_notice_and_closed_cases_stay(
    database: Database,
) -> None:
    case_id = _register(database)
    closed_id = _register(database)
    with database.writing() as session:
        closed = session.get(Case, closed_id)
        assert closed is not None
        closed.state = CaseState.WITHDRAWN  # not open: its date is history
    with database.writing() as session:
        calendar_change.set_override(
            session,
            day=date(2027, 1, 1),
            working=False,
            note="元旦",
            actor="staff:BH9101",
            now=NOTICE_NOW,
        )
    with database.writing() as session:
        calendar_change.delete_override(
            session, day=date(2027, 1, 1), actor="staff:BH9101", now=NOTICE_NOW
        )
    with database.reading() as session:
        case = session.get(Case, case_id)
        closed = session.get(Case, closed_id)
        assert case is not None and closed is not None
        assert case.due_on == date(2027, 1, 4) and closed.due_on == date(2027, 1, 4)
        notes = (
            session.execute(
                select(CaseEvent.note)
                .where(CaseEvent.case_id == case_id, CaseEvent.action == "deadline_moved")
                .order_by(CaseEvent.id)
            )
            .scalars()
            .all()
        )
        assert len(notes) == 2 and "2027-01-05 调整为 2027-01-04" in notes[1]
        alerts = session.execute(
            select(Alert.cleared_at, Alert.clear_reason)
            .where(Alert.case_id == case_id, Alert.kind == AlertKind.DEADLINE_MOVED.value)
            .order_by(Alert.id)
        ).all()
        assert alerts[0][1] == "superseded" and alerts[1][0] is None
        assert not session.execute(
            select(CaseEvent.id).where(
                CaseEvent.case_id == closed_id, CaseEvent.action == "deadline_moved"
            )
        ).first()


def test_an_import_with_a_day_outside_the_year_changes_nothing(database: Database) -> None:
    case_id = _register(database)
    days = parse_notice(NEW_YEAR, 2027).days
    with pytest.raises(BadInput), database.writing() as session:
        calendar_change.import_days(
            session, year=2026, days=days, confirm=True, source="", actor="x", now=NOTICE_NOW
        )
    with database.reading() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.due_on == date(2027, 1, 4)
        assert calendar_for(session).is_workday(date(2027, 1, 1)).provisional
