"""Who is ranked (数据不足) and how open overdue cases count, on generated data:
a group with too little data is listed apart, not ranked above the groups that
served the hall; a case past its deadline lowers the on-time rate of every
period in which it is overdue, not only the one in which it finally closes."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.models import Case, Department, Hall, MatterVersion, QueueCategory, Rating, Ticket
from backend.services import performance as perf
from tests.backend.test_performance import _window, local

TODAY = date(2026, 11, 26)
NOVEMBER = perf.parse_period("2026-11", TODAY)


def _case(
    hall_id: int,
    version: MatterVersion,
    index: int,
    *,
    due: date,
    done_on: date | None,
    window: int | None = None,
) -> Case:
    return Case(
        receipt_number=f"RULE{index:05d}",
        public_token=f"rule-case-{index}",
        hall_id=hall_id,
        matter_version_id=version.id,
        department_id=version.department_id,
        window_id=window,
        applicant_kind="organisation",
        applicant_name="测试企业",
        applicant_name_masked="测试企业",
        applicant_id_cipher="x",
        applicant_id_hash=f"rule{index}",
        applicant_id_masked="x",
        phone_cipher="x",
        phone_last4="0000",
        state="completed" if done_on else "undertaking",
        accepted_at=local(due - timedelta(days=7), 9),
        accepted_on=due - timedelta(days=7),
        promised_days=5,
        due_on=due,
        completed_at=local(done_on, 15) if done_on else None,
    )


@pytest.fixture
def busy_and_quiet(database: Database) -> dict[str, int]:
    """November. The busy department (window 1's) serves 200 tickets, gets 120
    ratings (80 % satisfied) and decides 40 cases, 4 of them late. Four quiet
    departments have no tickets and no ratings, only 40 cases each decided on
    time (39 in the fourth): their on-time component alone scores 100."""
    generator = random.Random(14)
    with database.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        category = session.execute(
            select(QueueCategory.id).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == "A"
            )
        ).scalar_one()
        window, clerk, busy = _window(session, "1")
        days = [date(2026, 11, 2) + timedelta(days=d) for d in range(0, 20) if d % 7 < 5]
        for number in range(1, 201):
            day = generator.choice(days)
            issued = local(day, 9, number % 60)
            called = issued + timedelta(minutes=generator.randint(3, 30))
            session.add(
                Ticket(
                    hall_id=hall_id,
                    category_id=category,
                    issue_category_id=category,
                    service_day=day,
                    number=number,
                    display=f"A{number:03d}",
                    channel="kiosk",
                    state="done",
                    issued_at=issued,
                    sort_at=issued,
                    called_at=called,
                    started_at=called,
                    finished_at=called + timedelta(minutes=8),
                    window_id=window,
                    staff_id=clerk,
                    public_token=f"rule-{number}",
                )
            )
        for index in range(120):
            session.add(
                Rating(
                    rating_uid=f"rule-r{index}",
                    service_key=f"rule:{index}",
                    hall_id=hall_id,
                    window_id=window,
                    staff_id=clerk,
                    department_id=busy,
                    channel="evaluator",
                    level=5 if index % 5 else 2,
                    rated_at=local(generator.choice(days), 11, index % 60),
                )
            )
        versions: dict[int, MatterVersion] = {}
        for version in session.execute(select(MatterVersion)).scalars():
            versions.setdefault(version.department_id, version)
        quiet_departments = [
            department
            for department in session.execute(select(Department.id).order_by(Department.id))
            .scalars()
            .all()
            if department != busy and department in versions
        ][:4]
        assert len(quiet_departments) == 4 and busy in versions
        index = 0
        for position in range(40):
            index += 1
            late = position < 4
            session.add(
                _case(
                    hall_id,
                    versions[busy],
                    index,
                    due=date(2026, 11, 16),
                    done_on=date(2026, 11, 18) if late else date(2026, 11, 12),
                    window=window,
                )
            )
        for number, department in enumerate(quiet_departments):
            for position in range(40):
                index += 1
                on_time = not (number == 3 and position == 0)
                session.add(
                    _case(
                        hall_id,
                        versions[department],
                        index,
                        due=date(2026, 11, 16),
                        done_on=date(2026, 11, 12) if on_time else date(2026, 11, 17),
                    )
                )
    return {"busy": busy, **{f"quiet_{n}": d for n, d in enumerate(quiet_departments)}}


def test_groups_without_enough_data_are_listed_apart_not_ranked(
    database: Database, busy_and_quiet: dict[str, int]
) -> None:
    with database.reading() as session:
        result = perf.ranking(session, NOVEMBER, "department", perf.Scope(), TODAY)
    ranked = {item["id"]: item for item in result["items"]}
    apart = {item["id"]: item for item in result["insufficient"]}
    busy = ranked[busy_and_quiet["busy"]]
    assert busy["rank"] == 1 and busy["data"]["enough_data"]
    assert busy["data"]["measured_weight"] == 0.85  # all but rectification (too few)
    for number in range(4):
        quiet = apart[busy_and_quiet[f"quiet_{number}"]]
        assert quiet["rank"] is None and quiet["previous_rank"] is None
        # What they have is shown: 40 decided cases, nothing else.
        assert quiet["data"]["observations"] == {
            "satisfaction": 0,
            "on_time": 40,
            "waiting": 0,
            "rectification": 0,
        }
        assert quiet["data"]["measured_weight"] == 0.35 and not quiet["data"]["enough_data"]
        assert quiet["metrics"]["cases_completed"] == 40
        # The score is still computed -- and is higher than the busy department's.
        assert quiet["score"] > busy["score"]
    assert result["minimum"] == {"sample": perf.MIN_SAMPLE, "measured_weight": 0.5}
    assert all(item["rank"] is not None for item in result["items"])


def test_the_minimum_is_per_component_and_by_weight() -> None:
    enough = perf.MIN_SAMPLE
    satisfaction_and_waiting = {"ratings": enough, "tickets_served": enough}
    assert perf.measured(satisfaction_and_waiting)["enough_data"]  # 0.35 + 0.15
    on_time_only = {"cases_completed": enough - 5, "cases_open_overdue": 5}
    assert perf.measured(on_time_only)["measured_weight"] == 0.35
    assert not perf.measured(on_time_only)["enough_data"]
    one_short = {"ratings": enough - 1, "cases_completed": enough}
    assert not perf.measured(one_short)["enough_data"]
    assert perf.measured({"ratings": enough, "cases_completed": enough})["enough_data"]


@pytest.fixture
def overdue_cases(database: Database) -> dict[str, Any]:
    """At window 1: a case due 15 Sep and still open; one due 15 Sep and
    decided late on 20 Oct; one due 15 Oct decided on time on 14 Oct."""
    with database.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        window, _clerk, department = _window(session, "1")
        version = (
            session.execute(select(MatterVersion).where(MatterVersion.department_id == department))
            .scalars()
            .first()
        )
        assert version is not None
        for index, (due, done_on) in enumerate(
            [
                (date(2026, 9, 15), None),
                (date(2026, 9, 15), date(2026, 10, 20)),
                (date(2026, 10, 15), date(2026, 10, 14)),
            ]
        ):
            session.add(_case(hall_id, version, index, due=due, done_on=done_on, window=window))
    return {"window": window}


def _window_row(session: Any, period: str, window: int) -> dict[str, Any]:
    result = perf.summary(session, perf.parse_period(period, TODAY), "window", perf.Scope(), TODAY)
    return next(item for item in result["items"] if item["id"] == window)


def test_an_open_overdue_case_counts_against_every_period_it_is_overdue_in(
    database: Database, overdue_cases: dict[str, Any]
) -> None:
    window = overdue_cases["window"]
    with database.reading() as session:
        september = _window_row(session, "2026-09", window)
        october = _window_row(session, "2026-10", window)
        november = _window_row(session, "2026-11", window)
        trend = perf.trend(
            session,
            perf.parse_period("2026-09-01..2026-11-30", TODAY),
            "month",
            perf.Scope(),
            TODAY,
            group_by="window",
            group_id=window,
        )
    # September: both September cases are overdue and open at its end.
    assert (september["cases_completed"], september["cases_open_overdue"]) == (0, 2)
    assert september["on_time_rate"] == 0.0
    # October: one decided late, one decided on time, one still open and overdue.
    assert (october["cases_completed"], october["cases_on_time"]) == (2, 1)
    assert october["cases_open_overdue"] == 1
    assert october["on_time_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # November: the open one is still overdue -- it still counts.
    assert (november["cases_completed"], november["cases_open_overdue"]) == (0, 1)
    assert november["on_time_rate"] == 0.0
    months = {point["bucket"]: point for point in trend["points"]}
    # Only October had decisions: September and November have no trend point
    # (nothing served, rated or decided), but their own figures above count
    # the open case all the same.
    assert set(months) == {"2026-10-01"}
    assert months["2026-10-01"]["cases_open_overdue"] == 1
    assert months["2026-10-01"]["on_time_rate"] == pytest.approx(1 / 3, abs=1e-4)


def test_a_case_due_on_the_periods_last_day_is_not_overdue_in_it(
    database: Database, overdue_cases: dict[str, Any]
) -> None:
    with database.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        version = session.execute(select(MatterVersion)).scalars().first()
        assert version is not None
        window = overdue_cases["window"]
        session.add(
            _case(
                hall_id,
                version,
                98,
                due=date(2026, 8, 20),
                done_on=date(2026, 8, 19),
                window=window,
            )
        )
        session.add(_case(hall_id, version, 99, due=date(2026, 8, 31), done_on=None, window=window))
    with database.reading() as session:
        august = _window_row(session, "2026-08", window)
        september = _window_row(session, "2026-09", window)
    # Due on 31 August: overdue from 1 September, not in August.
    assert (august["cases_completed"], august["cases_open_overdue"]) == (1, 0)
    assert august["on_time_rate"] == 1.0
    assert september["cases_open_overdue"] == 3


def test_a_day_with_nothing_served_rated_or_decided_has_no_trend_point(
    database: Database, overdue_cases: dict[str, Any]
) -> None:
    window = overdue_cases["window"]
    with database.reading() as session:
        daily = perf.trend(
            session,
            perf.parse_period("2026-10", TODAY),
            "day",
            perf.Scope(),
            TODAY,
            group_by="window",
            group_id=window,
        )
    points = {point["bucket"]: point for point in daily["points"]}
    assert set(points) == {"2026-10-14", "2026-10-20"}  # the two decisions
    # 14 Oct: one decided on time, both September cases open and overdue.
    assert points["2026-10-14"]["cases_open_overdue"] == 2
    assert points["2026-10-14"]["on_time_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # 20 Oct: one decided (late) that day; the other is still open and overdue.
    assert (points["2026-10-20"]["cases_late"], points["2026-10-20"]["cases_open_overdue"]) == (
        1,
        1,
    )
