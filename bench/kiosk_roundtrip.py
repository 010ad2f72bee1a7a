"""Kiosk take_ticket round trip: kiosk → broker → hub → backend → hub → kiosk.

    .venv/bin/python bench/kiosk_roundtrip.py --db sqlite --requests 300
    .venv/bin/python bench/kiosk_roundtrip.py --db postgres --requests 300

A SimKiosk (hallbus.DeviceClient, TCP_NODELAY) asks for a ticket in category A
N times, one after the other; each request goes through a Mosquitto started
here with the generated config (set_tcp_nodelay, ACL, free loopback port) to
the hub (in this process), which calls POST /tickets on the backend under
granian (bench/common.running_server) and replies. Latency = request
published → reply received, as the kiosk's caller sees it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_database, device_token, prepare_hall, running_server
from sqlalchemy import update

from backend.models import QueueCategory
from hallbus.topics import DeviceType
from simulators.rig import DeviceSpec, HallRig


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args: argparse.Namespace) -> dict[str, float]:
    with bench_database(args.db) as database, tempfile.TemporaryDirectory() as tmp:
        db = prepare_hall(database, windows=1)
        with db.writing() as session:
            # prepare_hall lifts the cap to 9 999 999, i.e. 7-digit numbers; the hall
            # contract (and every display) allows 3–4 digits.
            session.execute(update(QueueCategory).values(number_end=9999))
        hub_token = device_token(db, "hub-bh", "hub")
        db.dispose()
        with running_server(database, workers=args.workers, threads=args.threads) as base:
            devices = [DeviceSpec("kiosk-1", DeviceType.KIOSK)]
            with HallRig(Path(tmp), devices, backend_url=base, hub_token=hub_token) as rig:
                rig.start_broker()
                hub = rig.start_hub()
                kiosk = rig.kiosk("kiosk-1")
                kiosk.client.wait_connected(10)
                samples: list[float] = []
                started_all = time.monotonic()
                for index in range(args.warmup + args.requests):
                    started = time.perf_counter()
                    ticket = kiosk.take_ticket("A")
                    elapsed = (time.perf_counter() - started) * 1000
                    if ticket.degraded:
                        raise RuntimeError("the hub answered from its offline block")
                    if index >= args.warmup:
                        samples.append(elapsed)
                duration = time.monotonic() - started_all
                relay = hub.health_report()["relay_latency"]
    return {
        "p50": statistics.median(samples),
        "p99": percentile(samples, 99),
        "max": max(samples),
        "rate": (args.warmup + args.requests) / duration,
        "hub_p50": float(relay.get("p50_ms") or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    print(f"$ {command}")
    before = load_average()
    result = run(args)
    after = load_average()
    print(
        f"sequential: {result['rate']:.0f} tickets/s; hub request-in → reply-out p50 "
        f"{result['hub_p50']:.1f} ms"
    )
    print(
        f"| kiosk take_ticket round trip | {args.db} | {args.requests} | {result['p50']:.1f} | "
        f"{result['p99']:.1f} | {result['max']:.1f} | {before} → {after} | `{command}` |"
    )


if __name__ == "__main__":
    main()
