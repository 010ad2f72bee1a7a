"""CPU per call-next, in one process, without HTTP or a load generator.

    .venv/bin/python bench/call_next_cpu.py --db sqlite --calls 3000
    .venv/bin/python bench/call_next_cpu.py --db postgres --calls 3000
    .venv/bin/python bench/call_next_cpu.py --db sqlite --calls 3000 --profile 40

One clerk presses call-next through Flask's test client, so every request runs
the whole application (authentication, the window lock, the call order, the
event append, the commit) but nothing else competes for the CPU. Calls per
second under load move with this machine's mood by a third; CPU time per call
in one process moves far less, which is what a code change should be judged
by. On PostgreSQL the server's share is read from /proc for the backends of
the bench database (the server must run on this machine). --profile N prints
cProfile's N most expensive entries by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PASSWORD,
    bench_database,
    clerk_of,
    preissue_tickets,
    prepare_hall,
    window_numbers,
)
from sqlalchemy import text

from backend.app import create_app
from backend.config import settings_from_env
from backend.db import Database

WARM_UP_CALLS = 300


def postgres_backend_cpu_seconds(db: Database) -> float:
    """CPU time used so far by every server process serving the bench database."""
    with db.reading() as session:
        pids = session.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        ticks = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except FileNotFoundError:
                continue  # a backend that ended in between
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    with bench_database(args.db) as database:
        db = prepare_hall(database, windows=1)
        preissue_tickets(db, args.calls + WARM_UP_CALLS + 100)
        window = window_numbers(db, 1)[0]
        clerk = clerk_of(db, window)
        db.dispose()
        app = create_app(
            settings_from_env(
                database_url=database.url,
                var_dir=database.var_dir,
                upload_dir=database.var_dir / "uploads",
                secret_key="bench-secret-" + "x" * 32,
            )
        )
        client = app.test_client()
        signed_in = client.post(
            "/api/v1/auth/sign-in",
            json={"employee_no": clerk, "password": PASSWORD, "hall": "BH", "window": window},
        )
        headers = {"Authorization": "Bearer " + signed_in.get_json()["token"]}
        path = f"/api/v1/halls/BH/windows/{window}/call-next"
        for _ in range(WARM_UP_CALLS):
            assert client.post(path, headers=headers).status_code == 200
        gc.freeze()  # as the server's workers do after loading the app
        probe = Database(database.url) if args.db == "postgres" else None
        server_before = postgres_backend_cpu_seconds(probe) if probe else 0.0
        profiler = cProfile.Profile() if args.profile else None
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(args.calls):
            assert client.post(path, headers=headers).status_code == 200
        if profiler:
            profiler.disable()
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        server = postgres_backend_cpu_seconds(probe) - server_before if probe else 0.0
        if probe:
            probe.dispose()
        app.extensions["hallkit"].db.dispose()
    print(f"command: {' '.join(sys.argv)}")
    line = (
        f"| call-next in-process | {args.db} | {args.calls} calls | "
        f"client CPU {1000 * cpu / args.calls:.3f} ms/call | "
        f"wall {1000 * wall / args.calls:.3f} ms/call |"
    )
    if args.db == "postgres":
        line += f" server CPU {1000 * server / args.calls:.3f} ms/call |"
    if profiler:
        line += " (under cProfile: times inflated)"
    print(line)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
