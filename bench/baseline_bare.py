"""What this machine gives a bare Flask endpoint doing the core of call-next
(bench/bare_app.py), under the same load as bench/call_next.py: the reference
point the call-next targets were set against, measured here and now.

    .venv/bin/python bench/baseline_bare.py --db sqlite --seconds 20
    .venv/bin/python bench/baseline_bare.py --db postgres --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    BenchDatabase,
    add_call_next_arguments,
    bench_database,
    call_next_rounds,
    median_round,
    preissue_tickets,
    prepare_hall,
    print_rounds,
    require_wrk,
    serving,
    window_numbers,
)
from sqlalchemy import select

from backend.db import Database
from backend.models import Hall, QueueCategory, Ticket
from hallbus.ports import free_loopback_port


@contextlib.contextmanager
def bare_server(database: BenchDatabase, category_id: int, day: str, workers: int) -> Iterator[str]:
    port = free_loopback_port()
    env = dict(
        os.environ,
        BARE_DATABASE_URL=database.url,
        BARE_CATEGORY_ID=str(category_id),
        BARE_DAY=day,
        PYTHONPATH=str(ROOT / "bench"),
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "sync",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "bare_app:app",
    ]
    with serving(command, port, cwd=ROOT / "bench", env=env) as base:
        yield base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_call_next_arguments(parser)
    parser.add_argument("--workers", type=int, default=5)
    args = parser.parse_args()
    require_wrk()
    with bench_database(args.db) as database:
        db = prepare_hall(database, windows=args.clerks)
        preissue_tickets(db, 150_000)
        windows = window_numbers(db, args.clerks)
        with db.reading() as session:
            category_id = session.execute(
                select(QueueCategory.id)
                .join(Hall, Hall.id == QueueCategory.hall_id)
                .where(Hall.code == "BH", QueueCategory.prefix == "A")
            ).scalar_one()
        day = _service_day(db)
        db.dispose()
        clerk_tokens = dict.fromkeys(windows, "unused")  # the bare endpoint checks no token
        with bare_server(database, category_id, day, args.workers) as base:
            rounds = call_next_rounds(base, args, clerk_tokens)
    print(f"command: {' '.join(sys.argv)}")
    print_rounds(rounds)
    median = median_round(rounds)
    print(
        f"| bare call-next | {args.db} | {args.clerks} clerks | {args.workers} sync workers | "
        f"{median['rps']:.0f}/s | p50 {median['p50_ms']:.2f} ms | p99 {median['p99_ms']:.2f} ms |"
    )


def _service_day(db: Database) -> str:
    with db.reading() as session:
        day = session.execute(select(Ticket.service_day).limit(1)).scalar_one()
    return str(day)


if __name__ == "__main__":
    main()
