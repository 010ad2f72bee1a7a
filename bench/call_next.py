"""Call-next over HTTP with concurrent clerks, driven by wrk (a C load
generator, so the client is not the bottleneck).

    .venv/bin/python bench/call_next.py --db sqlite --clerks 8 --seconds 20
    .venv/bin/python bench/call_next.py --db postgres --clerks 8 --seconds 20

It runs --rounds measured rounds (3 by default) against one server and quotes
the median round; bench/baseline_bare.py measures, the same way, what a bare
Flask endpoint reaches on the same machine.

Each wrk thread is one clerk signed in at its own window; all windows serve the
same category, so every call competes for the head of one queue. Afterwards the
database is checked: every call returned a distinct ticket, none was skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    add_call_next_arguments,
    bench_database,
    call_next_rounds,
    clerk_of,
    median_round,
    preissue_tickets,
    prepare_hall,
    print_rounds,
    require_wrk,
    running_server,
    sign_in,
    window_numbers,
)
from sqlalchemy import func, select

from backend.models import Ticket, TicketState


def run(args: argparse.Namespace) -> dict[str, Any]:
    require_wrk()
    with bench_database(args.db) as database:
        db = prepare_hall(database, windows=args.clerks)
        preissue_tickets(db, args.tickets)
        windows = window_numbers(db, args.clerks)
        clerks = {w: clerk_of(db, w) for w in windows}
        db.dispose()
        with running_server(database, workers=args.workers, threads=args.threads) as base:
            tokens = {w: sign_in(base, clerks[w], w) for w in windows}
            rounds = call_next_rounds(base, args, tokens)
            result: dict[str, Any] = dict(median_round(rounds))
            result["rounds"] = rounds
        from backend.db import Database

        check = Database(database.url)
        with check.reading() as session:
            called = session.execute(
                select(func.count()).select_from(Ticket).where(Ticket.called_at.is_not(None))
            ).scalar_one()
            displays = (
                session.execute(select(Ticket.display).where(Ticket.called_at.is_not(None)))
                .scalars()
                .all()
            )
            oldest_waiting = session.execute(
                select(func.min(Ticket.number)).where(Ticket.state == TicketState.WAITING)
            ).scalar_one()
            newest_called = session.execute(
                select(func.max(Ticket.number)).where(Ticket.called_at.is_not(None))
            ).scalar_one()
            calls_per_clerk = sorted(
                session.execute(
                    select(func.count())
                    .where(Ticket.called_at.is_not(None))
                    .group_by(Ticket.window_id)
                ).scalars()
            )
        check.dispose()
        assert not [d for d, c in Counter(displays).items() if c > 1], "a ticket was called twice"
        # FCFS: everything before the newest called ticket was called (nothing skipped).
        assert oldest_waiting is None or oldest_waiting > newest_called, "a ticket was skipped"
        result["tickets_called"] = called
        # A keep-alive connection stays with the worker that accepted it, so
        # clerks sharing a busy worker get fewer calls: the spread shows it.
        result["calls_per_clerk"] = calls_per_clerk
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_call_next_arguments(parser)
    parser.add_argument("--tickets", type=int, default=120_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    result = run(args)
    rounds: list[dict[str, float]] = result["rounds"]
    print(f"command: {' '.join(sys.argv)}")
    print_rounds(rounds)
    spread = result["calls_per_clerk"]
    if spread:
        print(f"calls per clerk, all rounds: {spread} (max/min {spread[-1] / spread[0]:.2f})")
    print(
        f"| call-next | {args.db} | {args.clerks} clerks | {args.workers}x{args.threads} | "
        f"{result['rps']:.0f}/s | p50 {result['p50_ms']:.2f} ms | p99 {result['p99_ms']:.2f} ms | "
        f"errors {int(result['errors'])} | called {int(result['tickets_called'])} |"
    )


if __name__ == "__main__":
    main()
