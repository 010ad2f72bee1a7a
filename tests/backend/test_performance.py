"""绩效评估: the metrics against hand-computed values on SQLite and PostgreSQL
(p90 equal to a Python percentile_cont), score and ranking, heat map, trend,
periods and API access."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.errors import BadInput
from backend.models import (
    Case,
    Hall,
    MatterVersion,
    QueueCategory,
    Rating,
    Rectification,
    Staff,
    StaffPost,
    Ticket,
    Window,
)
from backend.services import performance as perf
from tests.conftest import Api, FakeClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)
NOVEMBER = perf.parse_period("2026-11", TODAY)
OCTOBER = perf.parse_period("2026-10", TODAY)
WAITS_WINDOW_1 = [60, 120, 180, 240, 300, 360, 420, 480, 540, 3600]  # seconds
WAITS_WINDOW_2 = [30, 90]


def local(day: date, hour: int, minute: int = 0, second: float = 0) -> datetime:
    base = datetime.combine(day, clock_time(hour, minute), tzinfo=SHANGHAI)
    return (base + timedelta(seconds=second)).astimezone(UTC)


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def _window(session: Any, number: str) -> tuple[int, int, int]:
    """(window id, its A-post clerk, the clerk's department) in hall BH."""
    row = session.execute(
        select(Window.id, Staff.id, Staff.department_id)
        .join(StaffPost, StaffPost.window_id == Window.id)
        .join(Staff, Staff.id == StaffPost.staff_id)
        .join(Hall, Hall.id == Window.hall_id)
        .where(Hall.code == "BH", Window.number == number, StaffPost.post == "A")
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


@pytest.fixture
def dataset(database: Database) -> dict[str, Any]:
    """Tickets at windows 1 and 5 on Mon 2026-11-02 (and one in October),
    three ratings with one rectified bad rating, and three decided cases."""
    with database.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        category = session.execute(
            select(QueueCategory).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == "A"
            )
        ).scalar_one()
        first, clerk_1, department_1 = _window(session, "1")
        fifth, clerk_5, department_5 = _window(session, "5")
        number = 0

        def ticket(
            window: int, clerk: int, day: date, hour: int, wait: float, service: float | None
        ) -> Ticket:
            nonlocal number
            number += 1
            issued = local(day, hour, 0, number)
            called = issued + timedelta(seconds=wait)
            row = Ticket(
                hall_id=hall_id,
                category_id=category.id,
                issue_category_id=category.id,
                service_day=day,
                number=number,
                display=f"A{number:03d}",
                channel="kiosk",
                state="done" if service is not None else "no_show",
                issued_at=issued,
                sort_at=issued,
                called_at=called,
                window_id=window,
                staff_id=clerk,
                started_at=called if service is not None else None,
                finished_at=called + timedelta(seconds=service) if service is not None else None,
                public_token=f"perf-{number}",
            )
            session.add(row)
            return row

        monday = date(2026, 11, 2)
        for wait in WAITS_WINDOW_1:
            ticket(first, clerk_1, monday, 9, wait, 300)
        for wait in WAITS_WINDOW_2:
            ticket(fifth, clerk_5, monday, 14, wait, 600)
        ticket(fifth, clerk_5, monday, 15, 45, None)  # no-show: waited, never served
        ticket(first, clerk_1, date(2026, 10, 12), 10, 7200, 300)  # October
        session.flush()
        ratings = [
            (5, first, clerk_1, department_1),
            (2, first, clerk_1, department_1),
            (4, fifth, clerk_5, department_5),
            (1, fifth, clerk_5, department_5),
        ]
        for index, (level, window, clerk, department) in enumerate(ratings):
            rating = Rating(
                rating_uid=f"perf-r{index}",
                service_key=f"perf:{index}",
                hall_id=hall_id,
                window_id=window,
                staff_id=clerk,
                department_id=department,
                channel="evaluator",
                level=level,
                rated_at=local(monday, 16, index),
                voided=index == 3,
            )  # the last one voided on appeal
            session.add(rating)
            session.flush()
            if level <= 2:
                session.add(
                    Rectification(
                        rating_id=rating.id,
                        department_id=department,
                        state="rectified" if index == 1 else "voided",
                        callback_due=monday,
                        rectify_due=monday + timedelta(days=21),
                    )
                )
        version = (
            session.execute(
                select(MatterVersion).where(MatterVersion.department_id == department_1)
            )
            .scalars()
            .first()
        )
        assert version is not None
        for index, (due, done_on, state) in enumerate(
            [
                (date(2026, 11, 10), date(2026, 11, 9), "completed"),  # on time
                (date(2026, 11, 10), date(2026, 11, 10), "delivered"),  # on the due day: on time
                (date(2026, 11, 10), date(2026, 11, 12), "completed"),  # late
                (date(2026, 11, 16), None, "undertaking"),  # open and overdue
                (date(2026, 11, 30), None, "undertaking"),  # open, not yet due
            ]
        ):
            session.add(
                Case(
                    receipt_number=f"PERF{index:04d}",
                    public_token=f"perf-case-{index}",
                    hall_id=hall_id,
                    matter_version_id=version.id,
                    department_id=department_1,
                    window_id=first,
                    handler_staff_id=clerk_1,
                    applicant_kind="organisation",
                    applicant_name="测试企业",
                    applicant_name_masked="测试企业",
                    applicant_id_cipher="x",
                    applicant_id_hash=f"h{index}",
                    applicant_id_masked="x",
                    phone_cipher="x",
                    phone_last4="0000",
                    state=state,
                    accepted_at=local(date(2026, 11, 2), 9),
                    accepted_on=date(2026, 11, 2),
                    promised_days=5,
                    due_on=due,
                    completed_at=local(done_on, 23, 30) if done_on else None,  # late evening local
                )
            )
    return {
        "window_1": first,
        "window_5": fifth,
        "clerk_1": clerk_1,
        "clerk_5": clerk_5,
        "department_1": department_1,
        "department_5": department_5,
    }


def test_summary_by_window_matches_hand_computation(
    database: Database, dataset: dict[str, Any]
) -> None:
    with database.reading() as session:
        result = perf.summary(session, NOVEMBER, "window", perf.Scope(), TODAY)
    rows = {item["id"]: item for item in result["items"]}
    first = rows[dataset["window_1"]]
    assert first["tickets_served"] == 10
    assert first["avg_wait_seconds"] == pytest.approx(sum(WAITS_WINDOW_1) / 10, abs=0.1)
    assert first["p90_wait_seconds"] == pytest.approx(percentile_cont(WAITS_WINDOW_1, 0.9), abs=0.1)
    assert first["p90_wait_seconds"] == pytest.approx(846.0, abs=0.1)  # 540 + 0.1 * 3060
    assert first["avg_service_seconds"] == pytest.approx(300, abs=0.1)
    assert first["satisfaction"] == 0.5  # 5 and 2
    assert first["rectification_rate"] == 1.0
    assert (
        first["cases_completed"],
        first["cases_on_time"],
        first["cases_late"],
        first["cases_open_overdue"],
    ) == (3, 2, 1, 1)
    fifth = rows[dataset["window_5"]]
    assert fifth["tickets_issued"] == 3 and fifth["tickets_served"] == 2
    waits = [*WAITS_WINDOW_2, 45]
    assert fifth["p90_wait_seconds"] == pytest.approx(percentile_cont(waits, 0.9), abs=0.1)
    assert fifth["p90_service_seconds"] == pytest.approx(600, abs=0.1)
    assert fifth["satisfaction"] == 1.0  # the voided 1★ does not count
    assert fifth["rectification_rate"] is None  # its only 整改 was voided


def test_score_formula() -> None:
    metrics = {
        "satisfaction": 0.9,
        "on_time_rate": 0.8,
        "p90_wait_seconds": 30 * 60,
        "rectification_rate": 0.5,
    }
    # waiting: (60 - 30) / (60 - 15) = 2/3
    expected = 0.35 * 90 + 0.35 * 80 + 0.15 * (100 * 2 / 3) + 0.15 * 50
    assert perf.score(metrics) == pytest.approx(round(expected, 2))
    assert perf.score({"satisfaction": 0.5}) == 50.0  # weights rescaled
    assert perf.score({"p90_wait_seconds": 10 * 60}) == 100.0
    assert perf.score({}) is None


def test_ranking_across_departments_and_months(
    database: Database, dataset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A handful of rows: the minimum-data rule is off here (it has its own tests).
    monkeypatch.setattr(perf, "MIN_SAMPLE", 0)
    monkeypatch.setattr(perf, "MIN_MEASURED_WEIGHT", 0.0)
    with database.reading() as session:
        result = perf.ranking(session, NOVEMBER, "clerk", perf.Scope(), TODAY)
    assert result["previous_period"]["label"] == "2026-10"
    items = {item["id"]: item for item in result["items"]}
    clerk_1, clerk_5 = items[dataset["clerk_1"]], items[dataset["clerk_5"]]
    assert clerk_5["rank"] == 1 and clerk_1["rank"] == 2  # 5 has a better score
    assert clerk_5["score"] > clerk_1["score"]
    # October: clerk 1 had one ticket with a two-hour wait -> waiting score 0.
    assert clerk_1["previous_score"] == 0.0 and clerk_1["previous_rank"] == 1
    assert clerk_1["score_change"] == pytest.approx(clerk_1["score"])
    assert clerk_5["previous_rank"] is None


def test_department_scope_limits_rows(database: Database, dataset: dict[str, Any]) -> None:
    scope = perf.Scope(department_id=dataset["department_5"])
    with database.reading() as session:
        result = perf.summary(session, NOVEMBER, "window", scope, TODAY)
    assert {item["id"] for item in result["items"]} == {dataset["window_5"]}


def test_heatmap_and_trend(database: Database, dataset: dict[str, Any]) -> None:
    with database.reading() as session:
        heat = perf.heatmap(session, NOVEMBER, perf.Scope())
        trend = perf.trend(
            session,
            perf.parse_period("2026-10-01..2026-11-30", TODAY),
            "month",
            perf.Scope(),
            TODAY,
        )
        weekly = perf.trend(
            session,
            NOVEMBER,
            "week",
            perf.Scope(),
            TODAY,
            group_by="window",
            group_id=dataset["window_5"],
        )
    cells = {(c["weekday"], c["hour"]): c for c in heat["cells"]}
    assert cells[(1, 9)]["tickets"] == 10  # Monday 09:00 local
    assert cells[(1, 14)]["tickets"] == 2 and cells[(1, 15)]["tickets"] == 1
    assert cells[(1, 9)]["avg_wait_seconds"] == pytest.approx(sum(WAITS_WINDOW_1) / 10, abs=0.1)
    buckets = {p["bucket"]: p for p in trend["points"]}
    assert set(buckets) == {"2026-10-01", "2026-11-01"}
    assert buckets["2026-10-01"]["tickets_served"] == 1
    assert buckets["2026-11-01"]["tickets_served"] == 12
    assert buckets["2026-11-01"]["cases_completed"] == 3
    assert [p["bucket"] for p in weekly["points"]] == ["2026-11-02"]
    assert weekly["points"][0]["tickets_issued"] == 3


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-W48", date(2026, 11, 23), date(2026, 11, 29)),
        ("2026-11-26", date(2026, 11, 26), date(2026, 11, 26)),
        ("2026-11-01..2026-11-15", date(2026, 11, 1), date(2026, 11, 15)),
        (None, date(2026, 11, 1), date(2026, 11, 30)),
    ],
)
def test_periods(text: str | None, start: date, end: date) -> None:
    period = perf.parse_period(text, TODAY)
    assert (period.start, period.end) == (start, end)


def test_previous_periods_and_bad_input() -> None:
    assert perf.previous_period(perf.parse_period("2026-01", TODAY)).label == "2025-12"
    assert perf.previous_period(perf.parse_period("2026-Q1", TODAY)).label == "2025-Q4"
    assert perf.previous_period(perf.parse_period("2026-W01", TODAY)).label == "2025-W52"
    assert perf.last_twelve_months(TODAY) == "2025-12-01..2026-11-26"
    for bad in ("2026-13", "26-11", "2026-11-30..2026-11-01"):
        with pytest.raises(BadInput):
            perf.parse_period(bad, TODAY)


def test_performance_api_access(api: Api, clock: FakeClock) -> None:
    supervisor = api.sign_in("BH9001")
    for path in ("summary", "ranking", "heatmap", "trend"):
        status, body = api.get(f"/api/v1/performance/{path}?period=2026-11", supervisor)
        assert status == 200, (path, body)
    status, body = api.get("/api/v1/performance/summary?group_by=nonsense", supervisor)
    assert status == 400
    status, body = api.get("/api/v1/performance/trend?bucket=week&period=2026-Q4", supervisor)
    assert status == 200 and body["bucket"] == "week"
    clerk = api.sign_in("BH0101")
    assert api.get("/api/v1/performance/summary", clerk)[0] == 403
    lead = api.sign_in("BH8001")
    status, body = api.get("/api/v1/performance/summary?group_by=department", lead)
    assert status == 200
    assert all(item["id"] in (None,) or item["name"] == "工商分局" for item in body["items"])
