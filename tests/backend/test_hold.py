"""挂起 (hold): the visitor fetches a missing paper, the window serves others,
and the held ticket is resumed later from the console's held list.

Resume rule: at the window that held the ticket or at any window serving its
category; a held ticket is neither waiting nor finished in any figure; a hold
left from an earlier day is closed by close-day with a reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.errors import InvalidTransition
from backend.models import AuditEntry, Hall, HallEvent, Ticket, TicketState, Window, WindowState
from backend.services import queue
from backend.services.performance import Period, Scope, ticket_metrics
from tests.conftest import Api, FakeClock, clerk_for_window
from tests.web.helpers import FRAGMENT, Browser

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in the hall
T0_DAY = T0.date()


def hall_id(db: Database) -> int:
    with db.reading() as session:
        return session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()


def open_window(db: Database, number: str) -> int:
    with db.writing() as session:
        window = session.execute(
            select(Window).where(Window.number == number, Window.hall_id == hall_id(db))
        ).scalar_one()
        window.state = WindowState.OPEN
        return window.id


def issue(db: Database, category: str, at: datetime) -> str:
    with db.writing() as session:
        view = queue.issue_ticket(
            session, hall_id=hall_id(db), category_prefix=category, now=at, actor="test"
        )
        return view.number


def call(db: Database, window_id: int, at: datetime) -> str | None:
    with db.writing() as session:
        result = queue.call_next(session, window_id=window_id, staff_id=None, now=at, actor="test")
        return result.ticket.number if result.ticket else None


def hold(db: Database, window_id: int, at: datetime) -> str:
    with db.writing() as session:
        return queue.hold(
            session, window_id=window_id, reason="补取材料", now=at, actor="test"
        ).number


def resume(db: Database, window_id: int, number: str, at: datetime) -> str:
    with db.writing() as session:
        view = queue.resume_held(
            session, window_id=window_id, number=number, staff_id=None, now=at, actor="test"
        )
        return view.state


def ticket(db: Database, number: str, day: date = T0_DAY) -> Ticket:
    with db.reading() as session:
        found = session.execute(
            select(Ticket).where(Ticket.display == number, Ticket.service_day == day)
        ).scalar_one()
        session.expunge(found)
        return found


def event_kinds(db: Database) -> list[str]:
    with db.reading() as session:
        return list(session.execute(select(HallEvent.kind).order_by(HallEvent.seq)).scalars())


def test_a_held_ticket_frees_the_window_and_is_resumed_there(db: Database) -> None:
    window = open_window(db, "1")
    first = issue(db, "A", T0)
    second = issue(db, "A", T0 + timedelta(seconds=1))
    assert call(db, window, T0 + timedelta(minutes=1)) == first
    with db.writing() as session:
        queue.start_service(session, window_id=window, now=T0 + timedelta(minutes=2), actor="t")
    assert hold(db, window, T0 + timedelta(minutes=3)) == first
    held = ticket(db, first)
    assert held.state is TicketState.HELD and held.finished_at is None
    assert held.held_at == T0 + timedelta(minutes=3) and held.hold_reason == "补取材料"
    # The window is free: the next call takes the next waiting ticket, never the held one.
    assert call(db, window, T0 + timedelta(minutes=4)) == second
    assert call(db, window, T0 + timedelta(minutes=9)) is None
    assert ticket(db, first).state is TicketState.HELD
    assert resume(db, window, first, T0 + timedelta(minutes=20)) == "serving"
    resumed = ticket(db, first)
    assert resumed.resumed_at == T0 + timedelta(minutes=20)
    assert resumed.started_at == T0 + timedelta(minutes=2)  # the service goes on
    with db.reading() as session:
        assert session.get(Window, window).current_ticket_id == resumed.id  # type: ignore[union-attr]
    with db.writing() as session:
        queue.finish_service(session, window_id=window, now=T0 + timedelta(minutes=25), actor="t")
    assert ticket(db, first).state is TicketState.DONE
    kinds = event_kinds(db)
    assert kinds.index("ticket_held") < kinds.index("ticket_resumed")


def test_resume_only_at_the_holding_window_or_one_of_its_category(db: Database) -> None:
    holding, same_category, other_category = (open_window(db, n) for n in ("1", "3", "5"))
    number = issue(db, "A", T0)
    call(db, holding, T0 + timedelta(minutes=1))
    hold(db, holding, T0 + timedelta(minutes=2))
    with db.reading() as session:
        assert [
            t.display for t in queue.held_tickets(session, window_id=same_category, day=T0.date())
        ] == [number]
        assert queue.held_tickets(session, window_id=other_category, day=T0.date()) == []
    with pytest.raises(InvalidTransition, match="同类别窗口"):
        resume(db, other_category, number, T0 + timedelta(minutes=5))
    assert ticket(db, number).state is TicketState.HELD  # the refusal changed nothing
    assert resume(db, same_category, number, T0 + timedelta(minutes=6)) == "serving"
    assert ticket(db, number).window_id == same_category


def test_resume_is_refused_while_the_window_serves_someone_or_the_ticket_is_not_held(
    db: Database,
) -> None:
    window = open_window(db, "1")
    held_number = issue(db, "A", T0)
    busy_number = issue(db, "A", T0 + timedelta(seconds=1))
    call(db, window, T0 + timedelta(minutes=1))
    hold(db, window, T0 + timedelta(minutes=2))
    assert call(db, window, T0 + timedelta(minutes=3)) == busy_number
    with pytest.raises(InvalidTransition, match="请先办结当前号票"):
        resume(db, window, held_number, T0 + timedelta(minutes=4))
    with pytest.raises(InvalidTransition, match="未挂起"):
        resume(db, open_window(db, "3"), busy_number, T0 + timedelta(minutes=4))
    with db.writing() as session, pytest.raises(InvalidTransition):
        queue.hold(session, window_id=open_window(db, "3"), now=T0, actor="t")  # nothing current
    assert ticket(db, held_number).state is TicketState.HELD
    assert ticket(db, busy_number).state is TicketState.CALLED


def test_held_tickets_are_neither_waiting_nor_finished_in_the_figures(
    db: Database, api: Api, clock: FakeClock
) -> None:
    window = open_window(db, "1")
    clock.now = T0 + timedelta(minutes=5)
    number = issue(db, "A", T0)
    issue(db, "A", T0 + timedelta(seconds=1))
    call(db, window, T0 + timedelta(minutes=1))
    hold(db, window, T0 + timedelta(minutes=2))
    status, body = api.get("/api/v1/halls/BH/status")
    assert status == 200, body
    waiting = {c["prefix"]: c["waiting"] for c in body["categories"]}
    assert waiting["A"] == 1  # the other ticket; the held one is not waiting
    with db.reading() as session:
        figures = ticket_metrics(
            session,
            Period("day", "day", T0.date(), T0.date()),
            [],
            Scope(hall_id=hall_id(db)),
            with_p90=False,
        )[()]
    assert figures["tickets_issued"] == 2
    assert figures["tickets_served"] == 0 and figures["avg_service_seconds"] is None
    assert ticket(db, number).state is TicketState.HELD


def test_close_day_closes_holds_of_earlier_days_with_a_reason(db: Database) -> None:
    window = open_window(db, "1")
    yesterday = issue(db, "A", T0 - timedelta(days=1))
    call(db, window, T0 - timedelta(days=1) + timedelta(minutes=1))
    hold(db, window, T0 - timedelta(days=1) + timedelta(minutes=2))
    today = issue(db, "A", T0)
    call(db, window, T0 + timedelta(minutes=1))
    hold(db, window, T0 + timedelta(minutes=2))
    with db.writing() as session:
        closed = queue.close_day(
            session, hall_id=hall_id(db), before=T0.date(), now=T0 + timedelta(hours=1), actor="cli"
        )
    assert closed == 1
    old = ticket(db, yesterday, T0.date() - timedelta(days=1))
    assert old.state is TicketState.CLOSED and old.closed_reason == queue.HOLD_CLOSED_REASON
    assert old.finished_at is None  # never finished: no service time in any figure
    with db.reading() as session:
        figures = ticket_metrics(
            session,
            Period("day", "day", old.service_day, old.service_day),
            [],
            Scope(hall_id=hall_id(db)),
            with_p90=False,
        )[()]
    assert figures["tickets_served"] == 0 and figures["avg_service_seconds"] is None
    assert ticket(db, today).state is TicketState.HELD  # today's hold is not touched
    assert "ticket_hold_closed" in event_kinds(db)
    with db.reading() as session:
        audit = session.execute(
            select(AuditEntry).where(AuditEntry.action == "queue.close_day")
        ).scalar_one()
    assert audit.detail["holds_closed"] == 1


def test_hold_and_resume_over_the_api(db: Database, api: Api, clock: FakeClock) -> None:
    clock.now = T0
    token = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, body = api.post("/api/v1/halls/BH/windows/1/resume", token)
    assert status == 200, body
    number = issue(db, "A", T0)
    assert api.post("/api/v1/halls/BH/windows/1/call-next", token)[0] == 200
    status, body = api.post("/api/v1/halls/BH/windows/1/hold", token, {"reason": "补取材料"})
    assert status == 200 and body["state"] == "held", body
    status, body = api.get("/api/v1/halls/BH/windows/1/held", token)
    assert status == 200 and [item["number"] for item in body["items"]] == [number]
    assert body["items"][0]["hold_reason"] == "补取材料"
    status, body = api.post("/api/v1/halls/BH/windows/1/resume-held", token, {"number": "A999"})
    assert status == 404, body
    status, body = api.post("/api/v1/halls/BH/windows/1/resume-held", token, {"number": "A 1"})
    assert status == 400, body
    with db.reading() as session:
        public_token = session.execute(
            select(Ticket.public_token).where(Ticket.display == number)
        ).scalar_one()
    phone_page = api.client.get(f"/m/t/{public_token}").get_data(as_text=True)
    assert "业务已挂起" in phone_page and "1 号窗口" in phone_page
    status, body = api.post("/api/v1/halls/BH/windows/1/resume-held", token, {"number": number})
    assert status == 200 and body["state"] == "serving" and body["window"] == "1", body


def test_console_holds_and_resumes_from_the_held_list(
    client: object, db: Database, clock: FakeClock
) -> None:
    browser = Browser(client)  # type: ignore[arg-type]
    clock.now = T0
    number = issue(db, "A", T0)
    assert browser.sign_in("BH0101", "1").status_code == 302
    browser.post("/console/resume", headers=FRAGMENT)
    browser.post("/console/call-next", headers=FRAGMENT)
    page = browser.post("/console/hold", {"reason": "补取材料"}, headers=FRAGMENT)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-current-ticket=""' in text and f'data-held-number="{number}"' in text
    assert 'data-hotkey="h"' in text and 'data-hotkey="u"' in text
    page = browser.post("/console/resume-held", {"number": number}, headers=FRAGMENT)
    text = page.get_data(as_text=True)
    assert f'data-current-ticket="{number}"' in text and "data-held-number" not in text


def test_a_refused_console_resume_says_why_and_is_logged(
    client: object, db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    browser = Browser(client)  # type: ignore[arg-type]
    clock.now = T0
    number = issue(db, "A", T0)
    assert browser.sign_in("BH0101", "1").status_code == 302
    browser.post("/console/resume", headers=FRAGMENT)
    with caplog.at_level("INFO", logger="backend.web.console"):
        page = browser.post("/console/resume-held", {"number": number}, headers=FRAGMENT)
    assert page.status_code == 409
    assert "未挂起" in page.get_data(as_text=True)
    assert any("resume_held refused: invalid_transition" in r.getMessage() for r in caplog.records)
    assert ticket(db, number).state is TicketState.WAITING
