"""Ticket issue throughput over HTTP (kiosks taking tickets), driven by wrk.

    .venv/bin/python bench/issue_ticket.py --db sqlite --connections 8 --seconds 20
    .venv/bin/python bench/issue_ticket.py --db postgres --connections 8 --seconds 20

Every request issues a new ticket in one category, so all of them contend for
the same per-day number counter. Afterwards the numbers are checked: as many
tickets as successful requests, numbered 1..N without a gap or a repeat.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    bench_database,
    device_token,
    prepare_hall,
    require_wrk,
    run_wrk,
    running_server,
)
from sqlalchemy import func, select

from backend.db import Database
from backend.models import Ticket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    require_wrk()
    with bench_database(args.db) as database:
        db = prepare_hall(database, windows=1)
        token = device_token(db, "kiosk-bench", "kiosk")
        db.dispose()
        with running_server(database, workers=args.workers, threads=args.threads) as base:
            result = run_wrk(
                "issue_ticket.lua",
                f"{base}/api/v1/halls/BH/tickets",
                threads=min(args.connections, 4),
                connections=args.connections,
                seconds=args.seconds,
                env=dict(os.environ, TOKEN=token),
            )
        check = Database(database.url)
        with check.reading() as session:
            count, low, high = session.execute(
                select(func.count(), func.min(Ticket.number), func.max(Ticket.number))
            ).one()
        check.dispose()
        assert count == high - low + 1, "ticket numbers have a gap or a repeat"
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"| ticket issue | {args.db} | {args.connections} conns | {args.workers}x{args.threads} | "
        f"{result['rps']:.0f}/s | p50 {result['p50_ms']:.2f} ms | p99 {result['p99_ms']:.2f} ms | "
        f"errors {int(result['errors'])} | tickets {count} |"
    )


if __name__ == "__main__":
    main()
