"""好差评 reports and the national export, through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from backend.db import Database
from backend.models import Rating, Rectification, Staff
from tests.conftest import Api, clerk_for_window

_request_ids = itertools.count(1)


@dataclass
class Hall:
    api: Api
    db: Database
    kiosk: str
    evaluator: str
    clerks: dict[str, str]

    def clerk(self, window: str) -> str:
        if window not in self.clerks:
            self.clerks[window] = self.api.sign_in(clerk_for_window(self.db, window), window=window)
        return self.clerks[window]

    def serve(self, window: str) -> int:
        """A kiosk ticket served to the end at `window`; returns the ticket id."""
        status, ticket = self.api.post(
            "/api/v1/halls/BH/tickets",
            self.kiosk,
            {"category": "A", "request_id": f"r{next(_request_ids)}"},
        )
        assert status == 201, ticket
        clerk = self.clerk(window)
        for action in ("call-next", "start", "finish"):
            status, body = self.api.post(f"/api/v1/halls/BH/windows/{window}/{action}", clerk)
            assert status == 200, (action, body)
        return int(ticket["id"])

    def rate(self, ticket_id: int, window: str, level: int, **extra: Any) -> tuple[int, Any]:
        body = {
            "rating_id": extra.pop("rating_id", uuid.uuid4().hex),
            "level": level,
            "ticket_id": ticket_id,
            "window": window,
            **extra,
        }
        if level <= 2:
            body.setdefault("reasons", ["办事效率低"])
        return self.api.post("/api/v1/halls/BH/ratings", self.evaluator, body)

    def served_and_rated(self, window: str, level: int, **extra: Any) -> str:
        rating_id = uuid.uuid4().hex
        status, body = self.rate(self.serve(window), window, level, rating_id=rating_id, **extra)
        assert status == 201, body
        return rating_id


@pytest.fixture
def hall(api: Api, db: Database, device_token: Any) -> Hall:
    return Hall(api, db, device_token(), device_token("evaluator-1", "evaluator"), {})


def rating_pk(db: Database, rating_id: str) -> int:
    with db.reading() as session:
        return session.execute(select(Rating.id).where(Rating.rating_uid == rating_id)).scalar_one()


def rectification_pk(db: Database, rating_id: str) -> int:
    with db.reading() as session:
        return session.execute(
            select(Rectification.id)
            .join(Rating, Rating.id == Rectification.rating_id)
            .where(Rating.rating_uid == rating_id)
        ).scalar_one()


def level_counts(figures: dict[str, Any]) -> dict[int, int]:
    return {item["level"]: item["count"] for item in figures["levels"]}


@pytest.fixture
def rated(hall: Hall) -> dict[str, str]:
    """Window 1: 5, 4, 3, 2 (called back + rectified), 1 (voided on appeal); window 2: 5, 1."""
    ids = {
        "w1_5": hall.served_and_rated("1", 5),
        "w1_4": hall.served_and_rated("1", 4),
        "w1_3": hall.served_and_rated("1", 3),
        "w1_2": hall.served_and_rated("1", 2, note="电话 13800138000 请回电"),
        "w1_1": hall.served_and_rated("1", 1),
        "w2_5": hall.served_and_rated("2", 5),
        "w2_1": hall.served_and_rated("2", 1),
    }
    supervisor = hall.api.sign_in("BH9001")
    item = rectification_pk(hall.db, ids["w1_2"])
    for action, body in (
        ("callback", {"note": "已电话回访"}),
        ("rectified", {"outcome": "已整改"}),
    ):
        status, reply = hall.api.post(f"/api/v1/rectifications/{item}/{action}", supervisor, body)
        assert status == 200, reply
    item = rectification_pk(hall.db, ids["w2_1"])
    status, reply = hall.api.post(
        f"/api/v1/rectifications/{item}/callback", supervisor, {"note": "已回访"}
    )
    assert status == 200, reply
    status, reply = hall.api.post(
        f"/api/v1/ratings/{rating_pk(hall.db, ids['w1_1'])}/void",
        supervisor,
        {"reason": "申诉核实：误触评价"},
    )
    assert status == 200, reply
    return ids


def test_rates_per_window_with_voided_counted_apart(hall: Hall, rated: dict[str, str]) -> None:
    supervisor = hall.api.sign_in("BH9001")
    status, report = hall.api.get("/api/v1/reports/ratings?group_by=window", supervisor)
    assert status == 200, report
    assert (report["from"], report["to"]) == ("2026-11-01", "2026-11-26")
    total = report["total"]
    assert (total["total"], total["voided"], total["bad"]) == (6, 1, 2)
    assert total["satisfied"] == 4 and total["satisfaction_rate"] == round(4 / 6, 4)
    assert level_counts(total) == {5: 2, 4: 1, 3: 1, 2: 1, 1: 1}
    assert (total["called_back"], total["callback_rate"]) == (2, 1.0)
    assert (total["rectified"], total["rectification_rate"]) == (1, 0.5)
    by_window = {group["code"]: group for group in report["groups"]}
    assert set(by_window) == {"1", "2"}
    one, two = by_window["1"], by_window["2"]
    assert (one["total"], one["voided"], one["satisfaction_rate"]) == (4, 1, 0.75)
    assert (one["bad"], one["callback_rate"], one["rectification_rate"]) == (1, 1.0, 1.0)
    assert level_counts(one) == {5: 1, 4: 1, 3: 1, 2: 1, 1: 0}
    assert next(i for i in one["levels"] if i["level"] == 5)["share"] == 0.25
    assert (two["total"], two["satisfaction_rate"], two["rectification_rate"]) == (2, 0.5, 0.0)


def test_group_by_period_and_bad_queries(hall: Hall, rated: dict[str, str]) -> None:
    supervisor = hall.api.sign_in("BH9001")
    for group_by in ("staff", "department", "matter", "hall", "day", "month"):
        status, report = hall.api.get(
            f"/api/v1/reports/ratings?group_by={group_by}&from=2026-11-26&to=2026-11-26",
            supervisor,
        )
        assert status == 200, (group_by, report)
        assert sum(g["total"] for g in report["groups"]) == 6, group_by
        assert sum(g["voided"] for g in report["groups"]) == 1, group_by
    _, by_staff = hall.api.get("/api/v1/reports/ratings?group_by=staff", supervisor)
    codes = {g["code"] for g in by_staff["groups"]}
    assert codes == {clerk_for_window(hall.db, "1"), clerk_for_window(hall.db, "2")}
    assert all(g["name"] for g in by_staff["groups"])  # managers see the clerk's name
    _, by_day = hall.api.get("/api/v1/reports/ratings?group_by=day", supervisor)
    assert [g["code"] for g in by_day["groups"]] == ["2026-11-26"]  # hall time, not UTC
    _, by_month = hall.api.get("/api/v1/reports/ratings?group_by=month", supervisor)
    assert [g["code"] for g in by_month["groups"]] == ["2026-11"]
    _, earlier = hall.api.get("/api/v1/reports/ratings?from=2026-10-01&to=2026-10-31", supervisor)
    assert earlier["total"]["total"] == 0 and earlier["total"]["satisfaction_rate"] is None
    # a rating at 00:30 hall time counts on that day, though UTC still says the day before
    late = hall.served_and_rated("1", 5)
    with hall.db.writing() as session:  # rated 00:30 on the 27th in the hall = 16:30 UTC the 26th
        rating = session.execute(select(Rating).where(Rating.rating_uid == late)).scalar_one()
        rating.rated_at = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    _, day26 = hall.api.get("/api/v1/reports/ratings?from=2026-11-26&to=2026-11-26", supervisor)
    _, day27 = hall.api.get("/api/v1/reports/ratings?from=2026-11-27&to=2026-11-27", supervisor)
    assert (day26["total"]["total"], day27["total"]["total"]) == (6, 1)
    _, days = hall.api.get(
        "/api/v1/reports/ratings?group_by=day&from=2026-11-26&to=2026-11-27", supervisor
    )
    assert [(g["code"], g["total"]) for g in days["groups"]] == [
        ("2026-11-26", 6),
        ("2026-11-27", 1),
    ]
    # malformed queries
    for query in ("group_by=clerk", "from=2026-11-30&to=2026-11-01", "from=yesterday", "unknown=1"):
        status, body = hall.api.get(f"/api/v1/reports/ratings?{query}", supervisor)
        assert status == 400, (query, body)


def test_who_may_see_reports(
    hall: Hall, api: Api, device_token: Any, rated: dict[str, str]
) -> None:
    clerk = hall.clerk("1")
    assert api.get("/api/v1/reports/ratings", clerk)[0] == 403
    assert api.get("/api/v1/reports/ratings/export.csv", clerk)[0] == 403
    assert api.get("/api/v1/reports/ratings", device_token("hub-bh", "hub"))[0] == 403
    assert api.get("/api/v1/reports/ratings")[0] == 401
    with hall.db.reading() as session:
        window1_department = session.execute(
            select(Staff.department_id).where(Staff.employee_no == clerk_for_window(hall.db, "1"))
        ).scalar_one()
        lead = next(
            staff.employee_no
            for staff in session.execute(
                select(Staff).where(Staff.department_id == window1_department)
            ).scalars()
            if "department_lead" in staff.roles
        )
    assert lead is not None
    lead_token = api.sign_in(lead)
    status, report = api.get("/api/v1/reports/ratings?group_by=department", lead_token)
    assert status == 200, report
    assert [g["key"] for g in report["groups"]] == [window1_department]
    status, export = api.get("/api/v1/reports/ratings/export.json", lead_token)
    assert status == 200
    assert {row["department_code"] for row in export["items"]} == {report["groups"][0]["code"]}


def test_replays_and_foreign_ratings_do_not_change_the_figures(
    hall: Hall, rated: dict[str, str]
) -> None:
    supervisor = hall.api.sign_in("BH9001")
    _, before = hall.api.get("/api/v1/reports/ratings", supervisor)
    ticket = hall.serve("1")
    rating_id = uuid.uuid4().hex
    assert hall.rate(ticket, "1", 5, rating_id=rating_id)[0] == 201
    status, replay = hall.rate(ticket, "1", 5, rating_id=rating_id)  # hub outbox retry
    assert (status, replay["duplicate"]) == (200, True)
    status, second = hall.rate(ticket, "1", 1)  # a second rating of the same service
    assert status == 409, second
    status, foreign = hall.rate(hall.serve("2"), "1", 1)  # served at window 2, rated at 1
    assert status == 409, foreign
    _, after = hall.api.get("/api/v1/reports/ratings", supervisor)
    assert after["total"]["total"] == before["total"]["total"] + 1
    assert after["total"]["bad"] == before["total"]["bad"]


def test_export_has_the_national_fields_and_nothing_about_the_rater(
    hall: Hall, app: Flask, rated: dict[str, str]
) -> None:
    app.config["HALLKIT_REGION_CODE"] = "210791"
    supervisor = hall.api.sign_in("BH9001")
    status, export = hall.api.get("/api/v1/reports/ratings/export.json", supervisor)
    assert status == 200, export
    assert export["count"] == 6  # the voided rating is not exported
    keys = [field["key"] for field in export["fields"]]
    assert keys == [
        "rating_id",
        "channel",
        "channel_name",
        "service_number",
        "service_kind",
        "matter_code",
        "matter_version",
        "matter_name",
        "department_code",
        "department_name",
        "staff_no",
        "staff_name",
        "window",
        "level",
        "level_name",
        "reasons",
        "rated_at",
        "region_code",
    ]
    row = next(r for r in export["items"] if r["rating_id"] == rated["w1_2"])
    assert row["channel"] == "evaluator" and row["channel_name"] == "窗口评价器"
    assert row["service_kind"] == "ticket" and row["service_number"].startswith("20261126-A")
    assert (row["level"], row["level_name"], row["reasons"]) == (2, "不满意", "办事效率低")
    assert row["region_code"] == "210791" and row["window"] == "1"
    assert row["rated_at"] == "2026-11-26T10:00:00+08:00"
    assert row["staff_no"] == clerk_for_window(hall.db, "1") and row["department_name"]
    assert rated["w1_1"] not in {r["rating_id"] for r in export["items"]}
    text = str(export)
    assert "13800138000" not in text and "evaluator-1" not in text  # no note, no device

    response = hall.api.client.get(
        "/api/v1/reports/ratings/export.csv",
        headers={"Authorization": f"Bearer {supervisor}"},
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert len(rows) == 6 and list(rows[0]) == keys
    assert {r["region_code"] for r in rows} == {"210791"}
    # a malformed region code setting is reported, not exported
    app.config["HALLKIT_REGION_CODE"] = "21-07"
    status, body = hall.api.get("/api/v1/reports/ratings/export.json", supervisor)
    assert status == 400 and "行政区划代码" in str(body)
