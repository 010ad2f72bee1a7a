"""好差评 through the HTTP API: rate-now requests, once-per-service ratings,
rectification of bad ratings with working-day deadlines, appeals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.db import Database
from backend.models import (
    Hall,
    Rating,
    RatingRequest,
    RatingRequestState,
    Rectification,
    RectificationState,
)
from backend.services.policy import HallPolicy
from backend.services.ratings import expire_requests
from backend.workdays import WorkCalendar
from tests.conftest import Api, FakeClock, clerk_for_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUPERVISOR = "BH9001"
RATINGS = "/api/v1/halls/BH/ratings"


def issue(api: Api, kiosk: str, category: str = "A") -> dict[str, Any]:
    status, ticket = api.post("/api/v1/halls/BH/tickets", kiosk, {"category": category})
    assert status == 201, ticket
    return ticket


def window_action(api: Api, clerk: str, action: str, window: str = "1") -> dict[str, Any]:
    status, body = api.post(f"/api/v1/halls/BH/windows/{window}/{action}", clerk)
    assert status == 200, (action, body)
    return body


def serve(api: Api, db: Database, kiosk: str) -> tuple[dict[str, Any], str]:
    """Issue an A ticket and serve it completely at window 1; returns (ticket, clerk token)."""
    ticket = issue(api, kiosk)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    called = window_action(api, clerk, "call-next")
    assert called["ticket"]["id"] == ticket["id"]
    window_action(api, clerk, "start")
    window_action(api, clerk, "finish")
    return ticket, clerk


def rate(
    api: Api, token: str, ticket_id: int, level: int, rating_id: str = "r-1", **extra: Any
) -> tuple[int, Any]:
    body = {"rating_id": rating_id, "level": level, "ticket_id": ticket_id, "window": "1", **extra}
    return api.post(RATINGS, token, body)


def count(db: Database, model: type) -> int:
    with db.reading() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def rectifications(api: Api, token: str) -> list[dict[str, Any]]:
    status, body = api.get("/api/v1/rectifications", token)
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


@pytest.fixture
def kiosk(device_token: Any) -> str:
    token: str = device_token("kiosk-1", "kiosk")
    return token


@pytest.fixture
def evaluator(device_token: Any) -> str:
    token: str = device_token("eval-1", "evaluator")
    return token


def test_finish_requests_a_rating_and_records_none_until_one_is_submitted(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, _ = serve(api, db, kiosk)
    status, body = api.get("/api/v1/halls/BH/events?after=0", evaluator)
    assert status == 200, body
    requested = [e for e in body["events"] if e["kind"] == "rating_requested"]
    assert len(requested) == 1
    assert requested[0]["data"]["ticket_id"] == ticket["id"]
    assert requested[0]["data"]["window"] == "1"
    assert count(db, Rating) == 0
    with db.reading() as session:
        request = session.execute(select(RatingRequest)).scalar_one()
        assert request.state is RatingRequestState.OPEN


def test_rating_is_idempotent_on_its_id_and_once_per_service(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, _ = serve(api, db, kiosk)
    status, first = rate(api, evaluator, ticket["id"], 5, "r-1")
    assert status == 201, first
    assert (first["level"], first["label"], first["duplicate"]) == (5, "非常满意", False)
    assert first["device_id"] == "eval-1"
    status, again = rate(api, evaluator, ticket["id"], 5, "r-1")
    assert status == 200, again
    assert again["duplicate"] is True
    assert again["rating_id"] == "r-1"
    status, other = rate(api, evaluator, ticket["id"], 1, "r-2", reasons=["服务态度差"])
    assert status == 409, other  # 一次一评
    assert other["error"]["code"] == "conflict"
    assert count(db, Rating) == 1
    assert count(db, Rectification) == 0
    with db.reading() as session:
        assert session.execute(select(RatingRequest.state)).scalar_one() is RatingRequestState.RATED


def test_only_a_served_ticket_can_be_rated_and_only_at_its_window(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    waiting = issue(api, kiosk)
    status, body = rate(api, evaluator, waiting["id"], 5, "r-waiting")
    assert status == 409, body
    assert body["error"]["code"] == "invalid_transition"
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    window_action(api, clerk, "call-next")  # called, but service has not started
    status, body = rate(api, evaluator, waiting["id"], 5, "r-called")
    assert status == 409, body
    status, body = rate(api, evaluator, 987654, 5, "r-unknown")
    assert status == 404, body
    window_action(api, clerk, "start")
    window_action(api, clerk, "finish")
    status, body = rate(api, evaluator, waiting["id"], 5, "r-wrong-window", window="2")
    assert status == 409, body
    assert body["error"]["code"] == "conflict"
    assert count(db, Rating) == 0
    status, body = rate(api, evaluator, waiting["id"], 5, "r-right-window")
    assert status == 201, body


def test_bad_rating_needs_a_reason_and_opens_a_rectification(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, clerk = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket["id"], 2)
    assert status == 400, body
    assert body["error"]["code"] == "bad_input"
    assert count(db, Rating) == 0
    status, body = rate(api, evaluator, ticket["id"], 2, reasons=["办事效率低"])
    assert status == 201, body

    calendar = WorkCalendar()
    today = date(2026, 11, 26)
    supervisor = api.sign_in(SUPERVISOR)
    (item,) = rectifications(api, supervisor)
    assert item["state"] == "open"
    assert item["reasons"] == ["办事效率低"]
    assert item["callback_due"] == calendar.add_working_days(today, 1).due.isoformat()
    assert item["callback_due"] == "2026-11-27"
    assert item["rectify_due"] == calendar.add_working_days(today, 15).due.isoformat()
    assert item["rectify_due"] == "2026-12-17"
    assert item["working_days_left"] == 15
    assert item["provisional"] is False

    # Department leads see their own department's items; clerks see none.
    assert len(rectifications(api, api.sign_in("BH8001"))) == 1  # 工商 lead
    assert rectifications(api, api.sign_in("BH8002")) == []  # 国税 lead
    status, body = api.get("/api/v1/rectifications", clerk)
    assert status == 403, body


def test_rectification_deadlines_skip_the_national_day_holiday(
    api: Api, db: Database, kiosk: str, evaluator: str, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)  # before 国庆
    ticket, _ = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket["id"], 1, reasons=["服务态度差"])
    assert status == 201, body
    with db.reading() as session:
        item = session.execute(select(Rectification)).scalar_one()
    # Callback: Wed 30 Sep. Rectify: 30 Sep = 1; 1-7 Oct 国庆; 8, 9 = 3; Sat 10 (调休) = 4;
    # 12-16 = 9; 19-23 = 14; Mon 26 Oct = 15.
    assert item.callback_due == date(2026, 9, 30)
    assert item.rectify_due == date(2026, 10, 26)
    calendar = WorkCalendar()
    assert item.callback_due == calendar.add_working_days(date(2026, 9, 29), 1).due
    assert item.rectify_due == calendar.add_working_days(date(2026, 9, 29), 15).due


def test_rectification_goes_callback_then_rectified_then_follow_up(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, _ = serve(api, db, kiosk)
    assert rate(api, evaluator, ticket["id"], 1, reasons=["多次跑动"])[0] == 201
    supervisor = api.sign_in(SUPERVISOR)
    (item,) = rectifications(api, supervisor)
    base = f"/api/v1/rectifications/{item['id']}"

    def post(action: str, body: dict[str, Any]) -> tuple[int, Any]:
        return api.post(f"{base}/{action}", supervisor, body)

    assert post("rectified", {"outcome": "已整改"})[0] == 409  # callback first
    assert post("follow-up", {"level": 5})[0] == 409
    assert post("callback", {"note": "已电话回访申请人"}) == (
        200,
        {"id": item["id"], "state": "called_back"},
    )
    assert post("callback", {"note": "again"})[0] == 409
    assert post("follow-up", {"level": 5})[0] == 409  # not rectified yet
    assert post("rectified", {"outcome": "窗口增设引导，一次告知到位"})[1]["state"] == "rectified"
    status, body = post("follow-up", {"level": 4})
    assert status == 200, body
    assert (body["state"], body["follow_up_level"]) == ("closed", 4)
    assert post("follow-up", {"level": 5})[0] == 409
    with db.reading() as session:
        stored = session.get(Rectification, item["id"])
        assert stored is not None and stored.state is RectificationState.CLOSED
        assert stored.callback_note == "已电话回访申请人"


def test_supervisor_voids_a_rating_and_the_row_stays(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket, clerk = serve(api, db, kiosk)
    assert rate(api, evaluator, ticket["id"], 1, "r-void", reasons=["其他"])[0] == 201
    with db.reading() as session:
        rating_pk = session.execute(
            select(Rating.id).where(Rating.rating_uid == "r-void")
        ).scalar_one()
    url = f"/api/v1/ratings/{rating_pk}/void"
    status, body = api.post(url, clerk, {"reason": "申诉：评价器误触"})
    assert status == 403, body  # the rated clerk cannot void
    supervisor = api.sign_in(SUPERVISOR)
    status, body = api.post(url, supervisor, {"reason": "x"})
    assert status == 400, body  # a reason of substance is required
    status, body = api.post(url, supervisor, {"reason": "申诉复核：监控显示评价器被误触"})
    assert status == 200, body
    assert body["voided"] is True and body["rating_id"] == "r-void"
    status, body = api.post(url, supervisor, {"reason": "申诉复核：重复提交"})
    assert status == 409, body
    with db.reading() as session:
        rating = session.execute(select(Rating)).scalar_one()
        item = session.execute(select(Rectification)).scalar_one()
    assert rating.voided and rating.void_reason == "申诉复核：监控显示评价器被误触"
    assert rating.level == 1
    assert item.state is RectificationState.VOIDED


def test_unanswered_rating_request_expires_and_records_no_rating(
    api: Api, db: Database, kiosk: str, clock: FakeClock
) -> None:
    serve(api, db, kiosk)
    with db.reading() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        timeout = HallPolicy.from_json(hall.call_policy).rating_timeout_seconds
    with db.writing() as session:
        assert expire_requests(session, now=clock.now + timedelta(seconds=timeout - 1)) == 0
    with db.writing() as session:
        assert expire_requests(session, now=clock.now + timedelta(seconds=timeout + 1)) == 1
    with db.reading() as session:
        assert (
            session.execute(select(RatingRequest.state)).scalar_one() is RatingRequestState.EXPIRED
        )
    assert count(db, Rating) == 0
    assert count(db, Rectification) == 0


def test_working_days_left_counts_from_the_hall_local_date(
    api: Api, db: Database, kiosk: str, evaluator: str, clock: FakeClock
) -> None:
    ticket, _ = serve(api, db, kiosk)
    assert rate(api, evaluator, ticket["id"], 2, reasons=["超时办理"])[0] == 201
    # Friday 27 Nov 07:30 in the hall is still Thursday 26 Nov in UTC; the real clock
    # (models.utcnow) hands out UTC datetimes, so the fake one does too here.
    clock.now = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert clock.now.astimezone(SHANGHAI).date() == date(2026, 11, 27)
    supervisor = api.sign_in(SUPERVISOR)
    (item,) = rectifications(api, supervisor)
    assert item["rectify_due"] == "2026-12-17"
    expected = WorkCalendar().remaining_working_days(date(2026, 12, 17), date(2026, 11, 27))
    assert item["working_days_left"] == expected == 14
