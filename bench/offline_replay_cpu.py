"""What catching up costs: a replayed offline call against the same call made online.

    .venv/bin/python bench/offline_replay_cpu.py --db sqlite --calls 300 --rounds 5
    .venv/bin/python bench/offline_replay_cpu.py --db postgres --calls 300 --rounds 5

When the backend returns after an outage, the hub replays every call the hall
made meanwhile (POST /window-actions, offline: true): each names the ticket the
hub called and its original time, is stored once under its action id, and runs
the queue's own call. Its reference is the act it stands for, the clerk's
call-next online (which also finishes the previous ticket). Both run in one
process through Flask's test client, in alternating rounds (online, replay,
online, replay …) on the same queue, so the machine's drift hits both alike;
the figure to keep is the ratio of the medians (CPU time of the requests only).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PASSWORD,
    bench_database,
    clerk_of,
    device_token,
    preissue_tickets,
    prepare_hall,
    window_numbers,
)

from backend.app import create_app
from backend.config import settings_from_env

WARM_UP = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--calls", type=int, default=300, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each kind")
    args = parser.parse_args()
    total = 2 * WARM_UP + 2 * args.rounds * args.calls
    if total > 99_000:
        parser.error("at most 99,000 calls (ticket numbers have 5 digits)")
    with bench_database(args.db) as database:
        db = prepare_hall(database, windows=1)
        preissue_tickets(db, total + 10, digits=5)
        window = window_numbers(db, 1)[0]
        clerk = clerk_of(db, window)
        hub = {"Authorization": "Bearer " + device_token(db, "hub-bench", "hub")}
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
        staff = {"Authorization": "Bearer " + signed_in.get_json()["token"]}
        call_next = f"/api/v1/halls/BH/windows/{window}/call-next"
        replay = "/api/v1/halls/BH/window-actions"
        head = 1  # every call takes the queue's head: one queue, ordinary tickets in order

        def online() -> None:
            response = client.post(call_next, headers=staff)
            assert response.status_code == 200, response.get_json()

        def replayed() -> None:
            body = {
                "action_id": uuid.uuid4().hex,
                "window": window,
                "action": "call",
                "ticket": f"A{head:05d}",
                "employee_no": clerk,
                "at": datetime.now(UTC).isoformat(),
                "offline": True,
            }
            response = client.post(replay, json=body, headers=hub)
            assert response.status_code == 200, response.get_json()
            assert response.get_json()["outcome"] == "applied", response.get_json()

        def round_of(act: Callable[[], None], calls: int) -> float:
            nonlocal head
            spent = 0.0
            for _ in range(calls):
                started = time.process_time()
                act()
                spent += time.process_time() - started
                head += 1
            return spent / calls

        round_of(online, WARM_UP)
        round_of(replayed, WARM_UP)
        gc.freeze()
        online_ms: list[float] = []
        replay_ms: list[float] = []
        for _ in range(args.rounds):
            online_ms.append(1000 * round_of(online, args.calls))
            replay_ms.append(1000 * round_of(replayed, args.calls))
        app.extensions["hallkit"].db.dispose()
    a, b = statistics.median(online_ms), statistics.median(replay_ms)
    print(f"command: {' '.join(sys.argv)}")
    print(f"online call-next CPU ms/call, rounds: {', '.join(f'{v:.3f}' for v in online_ms)}")
    print(f"replayed call CPU ms/call, rounds:    {', '.join(f'{v:.3f}' for v in replay_ms)}")
    print(
        f"| replayed offline call vs call-next | {args.db} | {args.rounds} × {args.calls} each |"
        f" median {b:.3f} vs {a:.3f} ms CPU | ratio **{b / a:.2f}** |"
    )


if __name__ == "__main__":
    main()
