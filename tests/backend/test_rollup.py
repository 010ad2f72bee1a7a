"""Daily roll-ups: the performance answers read from the roll-ups equal the raw
answers (p90 within its documented bound) on a generated dataset, refreshing
is idempotent, today stays live, and late changes to old days are folded in."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from backend.db import Database
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
from backend.models.rollup import (
    BUCKET_SECONDS,
    HISTOGRAM_BUCKETS,
    case_days,
    heat_days,
    rating_days,
    rollup_days,
    ticket_days,
)
from backend.services import performance as perf
from backend.services import ratings as rating_service
from backend.services import rollup
from tests.backend.test_performance import TODAY, local, percentile_cont

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # 15:00 in the hall
FIRST_DAY = date(2026, 10, 20)
DAYS = [FIRST_DAY + timedelta(days=offset) for offset in range(38)]  # to 2026-11-26 (today)
P90_BOUND = float(BUCKET_SECONDS)  # docs/supervision.md: below one bucket under 60 min
P90_FIELDS = ("p90_wait_seconds", "p90_service_seconds")


def _posts(session: Any, hall_id: int) -> list[tuple[int, int, int]]:
    """(window, clerk, department) of every A post in the hall."""
    rows = session.execute(
        select(Window.id, Staff.id, Staff.department_id)
        .join(StaffPost, StaffPost.window_id == Window.id)
        .join(Staff, Staff.id == StaffPost.staff_id)
        .where(Window.hall_id == hall_id, StaffPost.post == "A")
        .order_by(Window.id)
    ).all()
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


@pytest.fixture
def generated(database: Database) -> dict[str, Any]:
    """Five weeks of random hall activity up to today: tickets (some with waits
    over an hour, no-shows, waiting ones), cases decided early/late and open,
    ratings of every level with voided ones and 整改 in every state."""
    generator = random.Random(20261126)
    with database.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        category = session.execute(
            select(QueueCategory).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == "A"
            )
        ).scalar_one()
        posts = _posts(session, hall_id)[:6]
        number = 0
        for day in DAYS:
            for _ in range(generator.randint(5, 25)):
                number += 1
                window, clerk, _department = generator.choice(posts)
                issued = local(day, generator.randint(8, 16), generator.randint(0, 59))
                issued += timedelta(seconds=generator.random() * 59)
                # Under an hour, where the p90 bound is one bucket; exact bucket
                # edges (60 s, 120 s) included. Longer waits: the test below.
                wait = generator.choice(
                    [generator.uniform(0, 1800), generator.uniform(0, 3590), 60.0, 120.0]
                )
                fate = generator.random()
                state = "done" if fate < 0.8 else "no_show" if fate < 0.9 else "waiting"
                called = issued + timedelta(seconds=wait) if state != "waiting" else None
                started = called if state == "done" and generator.random() < 0.7 else None
                finished = (
                    called + timedelta(seconds=generator.uniform(30, 3500))
                    if state == "done" and called is not None
                    else None
                )
                session.add(
                    Ticket(
                        hall_id=hall_id,
                        category_id=category.id,
                        issue_category_id=category.id,
                        service_day=day,
                        number=number,
                        display=f"A{number:03d}",
                        channel="kiosk",
                        state=state,
                        issued_at=issued,
                        sort_at=issued,
                        called_at=called,
                        window_id=window if called else None,
                        staff_id=clerk if called else None,
                        started_at=started,
                        finished_at=finished,
                        public_token=f"gen-{number}",
                    )
                )
        session.flush()
        for index in range(160):
            window, clerk, department = generator.choice(posts)
            level = generator.choice([1, 2, 3, 4, 5, 5, 4])
            voided = generator.random() < 0.1
            rating = Rating(
                rating_uid=f"gen-r{index}",
                service_key=f"gen:{index}",
                hall_id=hall_id,
                window_id=window,
                staff_id=clerk,
                department_id=department,
                channel="evaluator",
                level=level,
                rated_at=local(generator.choice(DAYS), generator.randint(8, 23)),
                voided=voided,
            )
            session.add(rating)
            session.flush()
            if level <= 2:
                state = generator.choice(["open", "called_back", "rectified", "closed", "voided"])
                session.add(
                    Rectification(
                        rating_id=rating.id,
                        department_id=department,
                        state=state,
                        callback_due=TODAY,
                        rectify_due=TODAY,
                        callback_at=NOW
                        if state in ("called_back", "rectified", "closed")
                        else None,
                    )
                )
        versions = session.execute(select(MatterVersion)).scalars().all()
        for index in range(90):
            window, clerk, department = generator.choice(posts)
            version = next((v for v in versions if v.department_id == department), versions[0])
            accepted = generator.choice(DAYS[:20])
            due = accepted + timedelta(days=generator.randint(3, 20))
            completed_on = accepted + timedelta(days=generator.randint(0, 25))
            is_open = completed_on >= TODAY or generator.random() < 0.15
            session.add(
                Case(
                    receipt_number=f"GEN{index:04d}",
                    public_token=f"gen-case-{index}",
                    hall_id=hall_id,
                    matter_version_id=version.id,
                    department_id=department,
                    window_id=window,
                    handler_staff_id=clerk if generator.random() < 0.9 else None,
                    applicant_kind="organisation",
                    applicant_name="测试企业",
                    applicant_name_masked="测试企业",
                    applicant_id_cipher="x",
                    applicant_id_hash=f"g{index}",
                    applicant_id_masked="x",
                    phone_cipher="x",
                    phone_last4="0000",
                    state="undertaking"
                    if is_open
                    else generator.choice(["completed", "delivered", "denied"]),
                    accepted_at=local(accepted, 9),
                    accepted_on=accepted,
                    promised_days=5,
                    due_on=due,
                    completed_at=None
                    if is_open
                    else local(completed_on, generator.randint(8, 23), generator.randint(0, 59)),
                )
            )
    return {"hall_id": hall_id, "posts": posts}


PERIODS = ("2026-11", "2026-10", "2026-W45", "2026-10-25..2026-11-26", "2026")


def _answers(session: Any, scope: perf.Scope, posts: list[tuple[int, int, int]]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for text in PERIODS:
        period = perf.parse_period(text, TODAY)
        for group_by in ("department", "window", "clerk", "hall"):
            answers[f"summary {text} {group_by}"] = perf.summary(
                session, period, group_by, scope, TODAY
            )
        answers[f"ranking {text}"] = perf.ranking(session, period, "clerk", scope, TODAY)
        answers[f"heatmap {text}"] = perf.heatmap(session, period, scope, TODAY)
        for bucket in ("day", "week", "month"):
            answers[f"trend {text} {bucket}"] = perf.trend(session, period, bucket, scope, TODAY)
        answers[f"trend {text} clerk"] = perf.trend(
            session, period, "week", scope, TODAY, group_by="clerk", group_id=posts[0][1]
        )
    return answers


def _assert_close(raw: Any, rolled: Any, path: str = "") -> None:
    """Equal, except p90 (and the score that uses it) within the documented bound."""
    if isinstance(raw, dict):
        assert set(raw) == set(rolled), path
        for key in raw:
            _assert_close(raw[key], rolled[key], f"{path}.{key}")
    elif isinstance(raw, list):
        assert len(raw) == len(rolled), path
        for index, (left, right) in enumerate(zip(raw, rolled, strict=True)):
            _assert_close(left, right, f"{path}[{index}]")
    elif path.endswith(P90_FIELDS) and raw is not None:
        assert rolled is not None and abs(raw - rolled) < P90_BOUND, path
    elif path.endswith(("score", "score_change", "previous_score")) and raw is not None:
        # The waiting component moves 100/45 per minute of p90: 0.33 points at
        # weight 0.15, up to 100/45 when waiting is the only component; twice
        # that for a change between two periods.
        assert rolled is not None and abs(raw - rolled) <= 2 * 100 / 45 + 0.01, path
    elif path.endswith(("rank", "previous_rank")):
        pass  # ranks may swap between groups whose scores differ by less than the bound
    elif path.endswith("items") or path.endswith("].id"):
        assert raw == rolled, path
    else:
        assert raw == rolled, path


def _ranking_order_free(answers: dict[str, Any]) -> dict[str, Any]:
    """Ranking items sorted by id: the order follows scores, which may swap."""
    result = dict(answers)
    for key, value in answers.items():
        if key.startswith("ranking"):
            result[key] = {**value, "items": sorted(value["items"], key=lambda i: i["id"])}
    return result


@pytest.mark.parametrize("department_scope", [False, True])
def test_rollup_answers_equal_raw_answers(
    database: Database, generated: dict[str, Any], department_scope: bool
) -> None:
    scope = perf.Scope(
        hall_id=generated["hall_id"],
        department_id=generated["posts"][0][2] if department_scope else None,
    )
    with database.reading() as session:
        raw = _answers(session, scope, generated["posts"])
        assert perf.split_period(session, perf.parse_period("2026-11", TODAY), TODAY)[0] == []
    with database.writing() as session:
        report = rollup.refresh_rollups(session, DAYS, NOW)
    assert report.days == len(DAYS) and report.ticket_rows > 0 and report.rating_rows > 0
    with database.reading() as session:
        rolled_ranges, raw_ranges = perf.split_period(
            session, perf.parse_period("2026-11", TODAY), TODAY
        )
        # Whole days before today from the roll-up; today and the rest of the month raw.
        assert rolled_ranges == [(date(2026, 11, 1), date(2026, 11, 25))]
        assert raw_ranges == [(TODAY, date(2026, 11, 30))]
        rolled = _answers(session, scope, generated["posts"])
    _assert_close(_ranking_order_free(raw), _ranking_order_free(rolled))


def test_refreshing_twice_changes_nothing(database: Database, generated: dict[str, Any]) -> None:
    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with database.reading() as session:
            result = {}
            for table in (ticket_days, case_days, rating_days, heat_days):
                columns = [c for c in table.c if c.name != "id"]
                result[table.name] = sorted(
                    (tuple(row) for row in session.execute(select(*columns))), key=repr
                )
            result["days"] = sorted(session.execute(select(rollup_days.c.day)).all())
            return result

    with database.writing() as session:
        rollup.refresh_rollups(session, DAYS, NOW)
    first = snapshot()
    with database.writing() as session:
        rollup.refresh_rollups(session, DAYS[5:20], NOW)  # overlapping, partial
        rollup.refresh_rollups(session, DAYS, NOW)
    assert snapshot() == first
    assert len(first["days"]) == len(DAYS)


def test_today_is_read_live(database: Database, generated: dict[str, Any]) -> None:
    scope = perf.Scope(hall_id=generated["hall_id"])
    day = perf.parse_period(TODAY.isoformat(), TODAY)
    with database.writing() as session:
        rollup.refresh_rollups(session, DAYS, NOW)
    with database.reading() as session:
        before = perf.summary(session, day, "hall", scope, TODAY)["items"][0]["tickets_issued"]
        month = perf.summary(session, perf.parse_period("2026-11", TODAY), "hall", scope, TODAY)
    with database.writing() as session:
        session.execute(
            delete(Ticket).where(Ticket.service_day == TODAY, Ticket.state == "waiting")
        )
    with database.reading() as session:
        after = perf.summary(session, day, "hall", scope, TODAY)["items"]
        month_after = perf.summary(
            session, perf.parse_period("2026-11", TODAY), "hall", scope, TODAY
        )
    removed = before - (after[0]["tickets_issued"] if after else 0)
    assert removed > 0  # the generator leaves some tickets waiting today
    assert (
        month["items"][0]["tickets_issued"] - month_after["items"][0]["tickets_issued"] == removed
    )


def test_a_late_void_reaches_the_rolled_up_day(
    database: Database, generated: dict[str, Any]
) -> None:
    """A rating on a closed day voided later: the scheduler's refresh_recent
    finds the day through voided_at and recomputes it."""
    scope = perf.Scope(hall_id=generated["hall_id"])
    old_day = perf.parse_period("2026-10", TODAY)
    with database.writing() as session:
        rollup.refresh_recent(session, NOW)  # first run: yesterday and today, sets the check time
        rollup.refresh_rollups(session, DAYS, NOW)
        rating = (
            session.execute(
                select(Rating)
                .where(Rating.voided.is_(False), Rating.rated_at < local(date(2026, 11, 1), 0))
                .order_by(Rating.id)
            )
            .scalars()
            .first()
        )
        assert rating is not None
        rating_id = rating.id
    with database.reading() as session:
        before = perf.summary(session, old_day, "hall", scope, TODAY)["items"][0]["ratings"]
    later = NOW + timedelta(hours=2)
    with database.writing() as session:
        rating_service.void_rating(
            session,
            rating_id=rating_id,
            reason="申诉成立，误评",
            staff_id=generated["posts"][0][1],
            now=later,
            actor="test",
        )
    with database.reading() as session:  # not refreshed yet: the roll-up still counts it
        assert perf.summary(session, old_day, "hall", scope, TODAY)["items"][0]["ratings"] == before
    with database.writing() as session:
        rollup.refresh_recent(session, later + timedelta(minutes=5))
    with database.reading() as session:
        rolled = perf.summary(session, old_day, "hall", scope, TODAY)["items"][0]
        assert rolled["ratings"] == before - 1
    with database.writing() as session:  # and the raw answer agrees
        session.execute(delete(rollup_days))
    with database.reading() as session:
        assert perf.summary(session, old_day, "hall", scope, TODAY)["items"][0]["ratings"] == (
            before - 1
        )


def test_histogram_percentile_is_within_one_bucket() -> None:
    generator = random.Random(7)
    for size in (1, 2, 3, 10, 57, 400):
        for _ in range(50):
            values = [generator.uniform(0, 3599) for _ in range(size)]
            counts = [0] * HISTOGRAM_BUCKETS
            for value in values:
                counts[min(int(value // BUCKET_SECONDS), HISTOGRAM_BUCKETS - 1)] += 1
            estimate = perf.histogram_percentile(counts, max(values), 0.9)
            assert estimate is not None
            assert abs(estimate - percentile_cont(values, 0.9)) < BUCKET_SECONDS
    assert perf.histogram_percentile([0] * HISTOGRAM_BUCKETS, None, 0.9) is None


def test_histogram_percentile_past_an_hour() -> None:
    """The overflow bucket (≥ 60 min) spans to the stored maximum: when both
    interpolated ranks are in it, the estimate stays between 60 min and the
    maximum, so the waiting score is 0 exactly as for the exact value."""
    values = [600.0] * 8 + [4000.0, 5000.0, 9000.0]
    counts = [0] * HISTOGRAM_BUCKETS
    counts[10] = 8
    counts[HISTOGRAM_BUCKETS - 1] = 3
    estimate = perf.histogram_percentile(counts, 9000.0, 0.9)
    exact = percentile_cont(values, 0.9)
    assert estimate is not None and exact >= 3600
    assert 3600 <= estimate <= 9000
    assert perf.score({"p90_wait_seconds": estimate}) == perf.score({"p90_wait_seconds": exact})


def test_report_rating_table_equals_the_rating_report(
    database: Database, generated: dict[str, Any]
) -> None:
    """The report's 好差评 table (from the roll-ups) is reporting.rating_report's."""
    from backend.services import reporting
    from backend.web.reports.data import rating_table

    scope = perf.Scope(hall_id=generated["hall_id"])
    with database.writing() as session:
        rollup.refresh_rollups(session, DAYS, NOW)
    with database.reading() as session:
        for text in ("2026-11", "2026-10-25..2026-11-26", "2026"):
            period = perf.parse_period(text, TODAY)
            expected = reporting.rating_report(
                session,
                group_by="department",
                period=reporting.Period(period.start, period.end),
                scope=reporting.ReportScope(hall_id=scope.hall_id),
            )
            groups, total = rating_table(session, period, scope, TODAY)
            assert (groups, total) == (expected["groups"], expected["total"]), text


def test_backfill_command(
    database: Database,
    database_url: str,
    generated: dict[str, Any],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from backend.cli_supervision import performance_rollup

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HALLKIT_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(performance_rollup, ["--from", "2026-10-20", "--to", "2026-11-25"])
    assert result.exit_code == 0, result.output
    assert "rolled up 37 days" in result.output
    with database.reading() as session:
        days = {perf._as_date(day) for day in session.execute(select(rollup_days.c.day)).scalars()}
    assert days == set(DAYS[:-1])
    bad = CliRunner().invoke(performance_rollup, ["--from", "2026-11-25", "--to", "2026-11-01"])
    assert bad.exit_code != 0
