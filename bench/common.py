"""Shared set-up for the backend benchmarks: a seeded database on SQLite or
PostgreSQL, tuned for load (caps lifted, windows open), staff tokens, and a
backend server (granian) on a free loopback port that is always stopped afterwards."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.db import Database  # noqa: E402
from backend.migrate import upgrade  # noqa: E402
from backend.models import (  # noqa: E402
    Hall,
    QueueCategory,
    Staff,
    StaffPost,
    Window,
    WindowCategory,
    WindowState,
)
from backend.seed.loader import seed_demo  # noqa: E402
from backend.server import server_command, stop_server, wait_until_serving  # noqa: E402
from backend.services.auth import issue_device_token  # noqa: E402
from backend.services.queue import insert_ticket_rows, local_day  # noqa: E402
from hallbus.ports import free_loopback_port  # noqa: E402

PG_ADMIN = os.environ.get("HALLKIT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-pass-2026"


@dataclass
class BenchDatabase:
    url: str
    kind: str
    var_dir: Path


@contextlib.contextmanager
def bench_database(kind: str) -> Iterator[BenchDatabase]:
    with tempfile.TemporaryDirectory(prefix="hallkit-bench-") as tmp:
        var_dir = Path(tmp)
        if kind == "sqlite":
            yield BenchDatabase(f"sqlite:///{var_dir / 'bench.db'}", kind, var_dir)
            return
        name = f"hallkit_bench_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            yield BenchDatabase(f"{base}/{name}", kind, var_dir)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def prepare_hall(database: BenchDatabase, *, windows: int, category: str = "A") -> Database:
    """Seed the demo hall, lift the caps of one category and open `windows`
    windows that serve only it (so all clerks compete for the same queue)."""
    upgrade(database.url)
    db = Database(database.url)
    with db.writing() as session:
        seed_demo(session, staff_password=PASSWORD)
    with db.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        session.execute(
            update(QueueCategory)
            .where(QueueCategory.hall_id == hall.id)
            .values(
                daily_cap=10_000_000,
                number_end=9_999_999,
                issue_from=datetime.min.time(),
                issue_until=datetime.max.time().replace(microsecond=0),
            )
        )
        target = session.execute(
            select(QueueCategory).where(
                QueueCategory.hall_id == hall.id, QueueCategory.prefix == category
            )
        ).scalar_one()
        chosen = (
            session.execute(
                select(Window).where(Window.hall_id == hall.id).order_by(Window.id).limit(windows)
            )
            .scalars()
            .all()
        )
        for window in chosen:
            window.state = WindowState.OPEN
            for link in session.execute(
                select(WindowCategory).where(WindowCategory.window_id == window.id)
            ).scalars():
                session.delete(link)
            session.flush()
            session.add(WindowCategory(window_id=window.id, category_id=target.id, weight=1))
    return db


def clerk_of(db: Database, window_number: str) -> str:
    with db.reading() as session:
        return session.execute(
            select(Staff.employee_no)
            .join(StaffPost, StaffPost.staff_id == Staff.id)
            .join(Window, Window.id == StaffPost.window_id)
            .join(Hall, Hall.id == Window.hall_id)
            .where(Hall.code == "BH", Window.number == window_number, StaffPost.post == "A")
        ).scalar_one()


def window_numbers(db: Database, count: int) -> list[str]:
    with db.reading() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        return list(
            session.execute(
                select(Window.number)
                .where(Window.hall_id == hall_id)
                .order_by(Window.id)
                .limit(count)
            ).scalars()
        )


def preissue_tickets(db: Database, count: int, category: str = "A", digits: int = 7) -> None:
    """Bulk-insert waiting tickets for today (the bench measures calling, not issuing)."""
    now = datetime.now(UTC)
    with db.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        target = session.execute(
            select(QueueCategory).where(
                QueueCategory.hall_id == hall.id, QueueCategory.prefix == category
            )
        ).scalar_one()
        day = local_day(now, hall.timezone)
        batch = []
        for number in range(1, count + 1):
            issued = now - timedelta(seconds=count - number)
            batch.append(
                {
                    "hall_id": hall.id,
                    "category_id": target.id,
                    "issue_category_id": target.id,
                    "service_day": day,
                    "number": number,
                    "display": f"{category}{number:0{digits}d}",
                    "channel": "kiosk",
                    "standing": 2,
                    "state": "waiting",
                    "issued_at": issued,
                    "sort_at": issued,
                    "recall_count": 0,
                    "no_show_count": 0,
                    "public_token": secrets.token_urlsafe(18),
                    "out_of_order_reason": "",
                }
            )
            if len(batch) == 5000:
                insert_ticket_rows(session, batch)
                batch = []
        if batch:
            insert_ticket_rows(session, batch)
        from backend.models import DailySequence

        session.add(
            DailySequence(
                category_id=target.id, service_day=day, last_number=count, issued_count=count
            )
        )


def device_token(db: Database, device_id: str, device_type: str) -> str:
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        return issue_device_token(
            session, hall_id=hall_id, device_id=device_id, device_type=device_type, actor="bench"
        )


@contextlib.contextmanager
def running_server(database: BenchDatabase, *, workers: int, threads: int) -> Iterator[str]:
    port = free_loopback_port()
    env = dict(
        os.environ,
        DATABASE_URL=database.url,
        HALLKIT_VAR_DIR=str(database.var_dir),
        HALLKIT_SECRET_KEY="bench-secret-" + "x" * 32,
    )
    command = server_command(port, workers=workers, threads=threads)
    with serving(command, port, cwd=ROOT, env=env) as base:
        yield base


@contextlib.contextmanager
def serving(command: list[str], port: int, *, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Start an HTTP server on 127.0.0.1:`port`, wait for /healthz, stop it afterwards."""
    process = subprocess.Popen(command, cwd=cwd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, timeout=30, poll=0.1)
        yield base
    finally:
        stop_server(process, grace=15)


def sign_in(base: str, employee_no: str, window: str) -> str:
    import json

    body = json.dumps(
        {"employee_no": employee_no, "password": PASSWORD, "hall": "BH", "window": window}
    ).encode()
    request = urllib.request.Request(
        base + "/api/v1/auth/sign-in", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["token"]
        return token


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")


def run_wrk(
    script: str,
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: int,
    env: dict[str, str],
) -> dict[str, float]:
    """Run wrk (a C load generator, so the client is not the bottleneck) with one
    of the Lua scripts in bench/; its done() prints a single `RESULT key=value ...`
    line, returned as numbers."""
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(ROOT / "bench" / script),
        url,
    ]
    busy_before, total_before = machine_cpu_ticks()
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    busy_after, total_after = machine_cpu_ticks()
    match = re.search(r"RESULT (.*)", output)
    assert match, output
    result = {k: float(v) for k, v in (item.split("=") for item in match.group(1).split())}
    # Machine-wide, so it counts every process a request passes through (workers,
    # the database, wrk). Far steadier than calls/s here, whose machine drifts:
    # it tells "less work per call" apart from "the machine was faster".
    busy_seconds = (busy_after - busy_before) / os.sysconf("SC_CLK_TCK")
    result["cpu_ms_per_request"] = 1000 * busy_seconds / max(result["requests"], 1)
    result["cpu_utilisation"] = (busy_after - busy_before) / max(total_after - total_before, 1)
    return result


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def call_next_rounds(
    base: str, args: argparse.Namespace, clerk_tokens: dict[str, str]
) -> list[dict[str, float]]:
    """wrk plays one clerk per connection pressing call-next at its window
    (bench/call_next.lua); `args` as set by add_call_next_arguments."""
    env = dict(os.environ, CLERKS=",".join(f"{w}={t}" for w, t in clerk_tokens.items()))
    wrk = functools.partial(
        run_wrk,
        "call_next.lua",
        base,
        threads=args.clerks,
        connections=args.clerks,
        env=env,
    )
    return measure_rounds(wrk, args.seconds, args.rounds)


def measure_rounds(
    wrk: Callable[..., dict[str, float]], seconds: int, rounds: int
) -> list[dict[str, float]]:
    """A short warm-up (connection pools, imports), then `rounds` measured runs.
    This machine's speed drifts by a third from minute to minute, so one run
    proves little: callers quote the median round and show every round."""
    wrk(seconds=2)
    return [wrk(seconds=seconds) for _ in range(rounds)]


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    return sorted(rounds, key=lambda result: result["rps"])[len(rounds) // 2]


def print_rounds(rounds: list[dict[str, float]]) -> None:
    for number, result in enumerate(rounds, 1):
        print(
            f"round {number}: {result['rps']:.0f}/s p50 {result['p50_ms']:.2f} ms"
            f" p99 {result['p99_ms']:.2f} ms errors {int(result['errors'])}"
            f" cpu {result['cpu_ms_per_request']:.2f} ms/request"
            f" (machine {100 * result['cpu_utilisation']:.0f} % busy)"
        )


def add_call_next_arguments(parser: argparse.ArgumentParser) -> None:
    """What every call-next load run takes: database, clerks, round length and count."""
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--clerks", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="measured runs; the median is quoted")
