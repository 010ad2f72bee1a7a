"""Commit → event reader woken: how long a long-polling hub waits for a new event.

    .venv/bin/python bench/event_wakeup.py --db sqlite --events 300
    .venv/bin/python bench/event_wakeup.py --db postgres --events 300

The backend runs under granian (bench/common.running_server, 2 workers). A
reader thread long-polls GET /api/v1/halls/BH/events?after=<cursor>&wait=20
over one keep-alive connection with the hub's token, exactly as the hub does.
The writer (this process, through the backend's services: Database.with_wakeups
+ eventlog.emit, the same code the API runs) commits one `ticket_issued` event
at a time once the reader is parked in its long-poll. Latency = from just
before the writer's commit to the reader holding the response. The wake-up is
a datagram to every waiting worker on SQLite and LISTEN/NOTIFY on PostgreSQL
(backend/services/wakeup.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import urllib3
from common import bench_database, device_token, prepare_hall, running_server
from sqlalchemy import select

from backend.db import Database
from backend.models import Hall
from backend.services import eventlog


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Reader(threading.Thread):
    """Long-polls like the hub; records when each event arrived."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/api/v1/halls/BH/events"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = urllib3.PoolManager(maxsize=1, retries=False)
        self.cursor = 0
        self.arrived: dict[int, float] = {}
        self.polls = 0
        self.condition = threading.Condition()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with self.condition:
                self.polls += 1
                self.condition.notify_all()
            try:
                response = self.http.request(
                    "GET",
                    self.url,
                    fields={"after": self.cursor, "wait": 20},
                    headers=self.headers,
                    timeout=30,
                )
            except urllib3.exceptions.HTTPError:
                if self.stop.is_set():
                    return  # the server stopped under our last long-poll
                raise
            received = time.perf_counter()
            body = json.loads(response.data)
            with self.condition:
                for event in body["events"]:
                    payload = event["data"]
                    if "bench_index" in payload:
                        self.arrived[int(payload["bench_index"])] = received
                self.cursor = int(body["next"])
                self.condition.notify_all()

    def wait_polls(self, count: int, timeout: float) -> None:
        with self.condition:
            if not self.condition.wait_for(lambda: self.polls >= count, timeout):
                raise TimeoutError("the reader did not poll again")

    def wait_event(self, index: int, timeout: float) -> float:
        with self.condition:
            if not self.condition.wait_for(lambda: index in self.arrived, timeout):
                raise TimeoutError(f"event {index} never reached the reader")
            return self.arrived[index]


def run(args: argparse.Namespace) -> dict[str, float]:
    with bench_database(args.db) as database:
        db = prepare_hall(database, windows=1)
        token = device_token(db, "hub-bh", "hub")
        db.dispose()
        writer = Database.with_wakeups(database.url, database.var_dir)
        with writer.reading() as session:
            hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        with running_server(database, workers=args.workers, threads=args.threads) as base:
            reader = Reader(base, token)
            reader.start()
            samples: list[float] = []
            commits: list[float] = []
            for index in range(args.warmup + args.events):
                # Park the reader in a fresh long-poll (it re-polls after each event),
                # then give its request time to reach the worker and start waiting.
                reader.wait_polls(index + 1, 30)
                time.sleep(args.gap_ms / 1000)
                started = time.perf_counter()
                with writer.writing() as session:
                    eventlog.emit(
                        session,
                        hall_id,
                        "ticket_issued",
                        {"category": "A", "waiting": index, "bench_index": index},
                    )
                committed = time.perf_counter()
                arrived = reader.wait_event(index, 30)
                if index >= args.warmup:
                    samples.append((arrived - started) * 1000)
                    commits.append((committed - started) * 1000)
            reader.stop.set()
            writer.dispose()
    return {
        "p50": statistics.median(samples),
        "p99": percentile(samples, 99),
        "max": max(samples),
        "commit_p50": statistics.median(commits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    print(f"$ {command}")
    before = load_average()
    result = run(args)
    after = load_average()
    print(f"writer's commit itself: p50 {result['commit_p50']:.2f} ms (included above)")
    print(
        f"| commit → long-poll reader woken | {args.db} | {args.events} | {result['p50']:.2f} | "
        f"{result['p99']:.2f} | {result['max']:.2f} | {before} → {after} | `{command}` |"
    )


if __name__ == "__main__":
    main()
