"""Time the data behind the supervision and performance pages on a generated
year (bench/generate_year.py): p50/p95 over repeated runs of each service call.

    .venv/bin/python bench/supervision_queries.py --database hallkit_bench --runs 20

The first supervision scan on a fresh database raises every alert of the last
30 days at once; it is reported separately ("scan (first)") from the steady
state a scheduler sees every few minutes ("scan (steady)", with a few new
events between runs). Target: p95 ≤ 500 ms for each page's data.

The performance figures read the daily roll-ups for rolled-up days (fill them
with ``hall performance-rollup --from … --to …``; see bench/web_dashboards.py)
and the raw tables for the rest; the number of rolled-up days is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from sqlalchemy import func, select

from backend.db import Database
from backend.models import CaseEvent
from backend.models.rollup import rollup_days
from backend.services import performance as perf
from backend.services import supervision as sv
from backend.services.auth import Principal

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGET_MS = 500.0


def timed(function: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, samples[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--database", default="hallkit_bench")
    parser.add_argument("--hall", default="BH")
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 26))
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args()
    database = Database(arguments.url + arguments.database)
    now = datetime.combine(arguments.today, clock_time(15, 0), tzinfo=SHANGHAI).astimezone(UTC)
    supervisor = Principal(
        kind="staff",
        label="staff:bench",
        hall_id=None,
        staff_id=None,
        roles=frozenset({"supervisor"}),
    )
    today = arguments.today
    month = perf.parse_period(None, today)
    year_range = perf.parse_period(perf.last_twelve_months(today), today)
    results: list[tuple[str, float, float, float]] = []

    def record(name: str, function: Callable[[], Any], runs: int = arguments.runs) -> None:
        p50, p95, worst = timed(function, runs)
        results.append((name, p50, p95, worst))
        print(f"{name:44} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   max {worst:8.1f} ms", flush=True)

    def first_scan() -> None:
        with database.writing() as session:
            report = sv.scan(session, now)
        print("  first scan raised:", dict(report.raised), flush=True)

    record("scan (first, raises the backlog)", first_scan, runs=1)

    minute = [0]

    def steady_scan() -> None:
        # A few new events between runs, as between two scheduler ticks.
        minute[0] += 5
        with database.writing() as session:
            case_ids = (
                session.execute(select(CaseEvent.case_id).order_by(CaseEvent.id.desc()).limit(5))
                .scalars()
                .all()
            )
            for case_id in case_ids:
                session.add(
                    CaseEvent(
                        case_id=case_id,
                        at=now + timedelta(minutes=minute[0]),
                        action="disclose",
                        from_state="delivered",
                        to_state="delivered",
                        actor_label="bench",
                        note="",
                    )
                )
        with database.writing() as session:
            sv.scan(session, now + timedelta(minutes=minute[0]))

    record("scan (steady, every few minutes)", steady_scan)

    def reading(function: Callable[[Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with database.reading() as session:
                return function(session)

        return run

    scope = perf.Scope()
    record("live hall view", reading(lambda s: sv.hall_snapshot(s, arguments.hall, now)))
    record(
        "alerts list (open, 100)",
        reading(lambda s: sv.list_alerts(s, supervisor, state="open", limit=100)),
    )
    record(
        "alerts list (黄牌, 100)",
        reading(lambda s: sv.list_alerts(s, supervisor, state="open", kind="黄牌", limit=100)),
    )
    record("overdue cases (200)", reading(lambda s: sv.overdue_cases(s, supervisor, now)))

    def monthly_summary(group: str) -> Callable[[Any], Any]:
        return lambda session: perf.summary(session, month, group, scope, today)

    for group in ("department", "window", "clerk"):
        record(f"performance summary month by {group}", reading(monthly_summary(group)))
    record(
        "performance summary year by department",
        reading(
            lambda s: perf.summary(
                s, perf.parse_period(str(today.year), today), "department", scope, today
            )
        ),
        runs=max(3, arguments.runs // 4),
    )
    record(
        "performance ranking month by department",
        reading(lambda s: perf.ranking(s, month, "department", scope, today)),
    )
    record(
        "performance ranking month by clerk",
        reading(lambda s: perf.ranking(s, month, "clerk", scope, today)),
    )
    record("performance heatmap month", reading(lambda s: perf.heatmap(s, month, scope, today)))
    record(
        "performance heatmap 12 months",
        reading(lambda s: perf.heatmap(s, year_range, scope, today)),
        runs=max(3, arguments.runs // 4),
    )
    record(
        "performance trend 12 months by month",
        reading(lambda s: perf.trend(s, year_range, "month", scope, today)),
        runs=max(3, arguments.runs // 4),
    )
    record(
        "performance trend month by day",
        reading(lambda s: perf.trend(s, month, "day", scope, today)),
    )
    year = perf.parse_period(str(today.year), today)
    for group in ("department", "clerk"):
        record(
            f"performance ranking year by {group}",
            reading(lambda s, group=group: perf.ranking(s, year, group, scope, today)),
            runs=max(3, arguments.runs // 4),
        )
    with database.reading() as session:
        counts = {
            table.__tablename__: session.execute(
                select(func.count()).select_from(table)
            ).scalar_one()
            for table in (CaseEvent,)
        }
        counts["perf_rollup_days"] = session.execute(
            select(func.count()).select_from(rollup_days)
        ).scalar_one()
    print("rows:", counts)
    over = [name for name, _p50, p95, _max in results if p95 > TARGET_MS]
    print("over the 500 ms target:", over or "none")
    database.dispose()


if __name__ == "__main__":
    main()
