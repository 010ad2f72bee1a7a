"""电子监察 and 绩效 pages on one year of hall data: the time of a full page view.

A "page view" is what a browser does: GET the page (HTML), then GET its data
endpoints in parallel (the 绩效 page fetches the trend and the heat map with
two fetch() calls at once); its time is page + the slowest data endpoint.
Static files are not counted (cached after the first view).

Needs the database made by bench/generate_year.py (PostgreSQL):

    .venv/bin/python bench/generate_year.py --database hallkit_bench_web --recreate
    .venv/bin/python bench/web_dashboards.py --database hallkit_bench_web [--runs 20]

The 绩效 pages read the daily roll-ups for every rolled-up day before --now;
fill them once after generating the data (the scheduler keeps them current):

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/hallkit_bench_web \
        .venv/bin/hall performance-rollup --from 2025-11-01 --to 2026-11-25

Without them the same pages aggregate the raw tables (exact p90, seconds per
year view). The number of rolled-up days is printed before measuring.

The app runs in this process on a free loopback port (werkzeug, threaded) with
its clock at --now; the database is migrated to the latest revision and one
supervision scan is run first so the alert pages have alerts to show (the
first scan on a year of data raises the whole backlog once; its time is
printed). Exits non-zero when any page's p95 is over --budget-ms.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from backend.migrate import upgrade  # noqa: E402
from backend.models.rollup import rollup_days  # noqa: E402
from backend.models.supervision import Alert  # noqa: E402
from backend.services import supervision as supervision_service  # noqa: E402
from backend.web.testing import running_server  # noqa: E402

PASSWORD = "demo-pass-2026"
SUPERVISOR = "BH9001"


@dataclass(frozen=True)
class PageView:
    name: str
    path: str
    data: tuple[str, ...] = ()
    heavy: bool = False  # a year view or a report: fewer runs (--year-runs), same budget


class Client:
    """A browser without rendering: cookies, the sign-in form with its CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=120) as response:
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            body: bytes = response.read()
            return body

    def sign_in(self, employee_no: str) -> None:
        page = self.get("/staff/sign-in").decode()
        found = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert found
        form = urllib.parse.urlencode(
            {
                "employee_no": employee_no,
                "password": PASSWORD,
                "hall": "BH",
                "window": "",
                "csrf_token": found.group(1),
            }
        ).encode()
        with self.opener.open(self.base + "/staff/sign-in", data=form, timeout=60) as response:
            if "/staff/sign-in" in response.url:
                raise RuntimeError("sign-in failed")


def view_once(client: Client, pool: ThreadPoolExecutor, view: PageView) -> float:
    started = time.perf_counter()
    client.get(view.path)
    if view.data:
        list(pool.map(client.get, view.data))
    return (time.perf_counter() - started) * 1000.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def views(case_id: int | None, period: str, quarter: str, year: str) -> list[PageView]:
    def performance(group_by: str, chosen: str, heavy: bool = False) -> PageView:
        query = f"period={chosen}&group_by={group_by}"
        return PageView(
            f"绩效 {chosen} by {group_by}",
            f"/performance?{query}",
            (f"/performance/data/trend.json?{query}", f"/performance/data/heatmap.json?{query}"),
            heavy=heavy,
        )

    def report(kind: str, extension: str, chosen: str, label: str) -> PageView:
        return PageView(
            f"report {kind}, {label}",
            f"/performance/report.{extension}?period={chosen}",
            heavy=True,
        )

    pages = [
        PageView("live hall view", "/supervision"),
        PageView("live hall fragment (one live refresh)", "/supervision/hall/panel"),
        PageView("alert board, active", "/supervision/alerts"),
        PageView("alert board, 黄牌", "/supervision/alerts?kind=%E9%BB%84%E7%89%8C"),
        PageView("alert board, cleared", "/supervision/alerts?state=cleared"),
        PageView("process findings", "/supervision/findings"),
        PageView("overdue cases", "/supervision/overdue"),
        PageView("navigation badge (live refresh)", "/supervision/badge"),
        performance("department", period),
        performance("window", period),
        performance("clerk", period),
        performance("department", quarter),
        performance("department", year, heavy=True),
        performance("window", year, heavy=True),
        performance("clerk", year, heavy=True),
        PageView("report schedules", "/performance/schedules"),
        report("HTML", "html", period, "month"),
        report("Excel", "xlsx", period, "month"),
        report("PDF", "pdf", period, "month"),
        report("HTML", "html", year, "year"),
        report("Excel", "xlsx", year, "year"),
        report("PDF", "pdf", year, "year"),
    ]
    if case_id is not None:
        pages.insert(7, PageView("a case's alert history", f"/supervision/cases/{case_id}/alerts"))
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--database", default="hallkit_bench_web")
    parser.add_argument("--now", default="2026-11-26T07:00:00+00:00", help="15:00 in the hall")
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--quarter", default="2026-Q4")
    parser.add_argument("--year", default="2026")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--year-runs", type=int, default=5, help="runs of year views and reports")
    parser.add_argument("--budget-ms", type=float, default=500.0)
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/" + args.database
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    upgrade(url)
    over: list[str] = []
    with (
        tempfile.TemporaryDirectory() as var,
        running_server(url, Path(var), clock=lambda: now) as server,
    ):
        database = server.app.extensions["hallkit"].db
        started = time.perf_counter()
        with database.writing() as session:
            report = supervision_service.scan(session, now)
        print(
            f"supervision scan before measuring: {time.perf_counter() - started:.1f} s, "
            f"raised {dict(report.raised)}"
        )
        with database.reading() as session:
            case_id = (
                session.execute(
                    select(Alert.case_id).group_by(Alert.case_id).order_by(func.count().desc())
                )
                .scalars()
                .first()
            )
            open_alerts = session.execute(
                select(func.count()).where(Alert.cleared_at.is_(None))
            ).scalar_one()
            rolled_days = session.execute(
                select(func.count()).select_from(rollup_days)
            ).scalar_one()
        print(f"alerts not cleared: {open_alerts}; rolled-up days: {rolled_days}")
        client = Client(server.url)
        client.sign_in(SUPERVISOR)
        print(f"{'page view (page + data endpoints in parallel)':<46} {'p50 ms':>8} {'p95 ms':>8}")
        with ThreadPoolExecutor(max_workers=6) as pool:
            for view in views(case_id, args.period, args.quarter, args.year):
                view_once(client, pool, view)  # warm-up: first connection, template compile
                runs = args.year_runs if view.heavy else args.runs
                samples = [view_once(client, pool, view) for _ in range(runs)]
                p50, p95 = statistics.median(samples), percentile(samples, 0.95)
                mark = ""
                if p95 > args.budget_ms:
                    mark = "  OVER"
                    over.append(view.name)
                print(f"{view.name:<46} {p50:8.0f} {p95:8.0f}{mark}", flush=True)
    if over:
        print(f"over {args.budget_ms:.0f} ms: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
