"""Clerk presses call-next → the window display and the hall display show the number.

    .venv/bin/python bench/call_to_display.py --db sqlite --calls 300
    .venv/bin/python bench/call_to_display.py --db postgres --calls 300

The whole production path on loopback: a clerk signed in at window 1 sends
POST /windows/1/call-next (keep-alive HTTP) to the backend under granian
(bench/common.running_server; SQLite or PostgreSQL); the backend commits the
ticket_called event and wakes the hub's long-poll (datagram / NOTIFY); the hub
(in this process, as `python -m hub` would run it) publishes the window's
WindowDisplayState and the hall's HallCallList through a Mosquitto started
here with the generated config (set_tcp_nodelay, ACL) on a free port; a
SimWindowDisplay and a SimHallDisplay receive them. Latency per call = from
just before the HTTP request is written to the later of the two displays'
receive times (taken on their MQTT handler threads). Calls are sequential,
with --gap-ms between them (a clerk does not call twice in a millisecond;
the gap also makes each call start with an idle long-poll, the case that
matters).

Stages (medians) split the path: HTTP answered, hub's long-poll returned,
window display received, hall display received.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import urllib3
from common import (
    bench_database,
    clerk_of,
    device_token,
    preissue_tickets,
    prepare_hall,
    running_server,
    sign_in,
    window_numbers,
)
from sqlalchemy import select, update

from backend.models import Ticket
from hallbus.topics import DeviceType
from simulators.rig import DeviceSpec, HallRig


def preissue_contract_tickets(db: Any, count: int) -> None:
    """Waiting tickets with numbers the hall contract allows (A0001…A9999).

    common.preissue_tickets numbers them A0000001…, which no display accepts
    (1–2 letters + 3–4 digits), so they are renumbered here."""
    if count > 9999:
        raise SystemExit("at most 9999 tickets per category and day")
    preissue_tickets(db, count)
    with db.writing() as session:
        rows = session.execute(select(Ticket.id, Ticket.number, Ticket.display)).all()
        session.execute(
            update(Ticket),
            [{"id": r.id, "display": f"{r.display[0]}{r.number:04d}"} for r in rows],
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args: argparse.Namespace) -> dict[str, Any]:
    with bench_database(args.db) as database, tempfile.TemporaryDirectory() as tmp:
        windows = window_numbers(
            db := prepare_hall(database, windows=1 + args.busy_clerks), 1 + args.busy_clerks
        )
        preissue_contract_tickets(
            db, min(9999, (args.calls + args.warmup) * (1 + args.busy_clerks) + 50)
        )
        window = windows[0]
        employee = clerk_of(db, window)
        others = [(clerk_of(db, w), w) for w in windows[1:]]
        hub_token = device_token(db, "hub-bh", "hub")
        db.dispose()
        devices = [
            DeviceSpec("window-display-1", DeviceType.WINDOW_DISPLAY, window),
            DeviceSpec("hall-display-1", DeviceType.HALL_DISPLAY),
            *[DeviceSpec(f"kiosk-{i}", DeviceType.KIOSK) for i in range(1, args.kiosks + 1)],
        ]
        with running_server(database, workers=args.workers, threads=args.threads) as base:
            token = sign_in(base, employee, window)
            background = _BusyClerks(base, others, args.busy_gap_ms / 1000)
            with HallRig(Path(tmp), devices, backend_url=base, hub_token=hub_token) as rig:
                rig.start_broker()
                window_display = rig.window_display("window-display-1")
                hall_display = rig.hall_display("hall-display-1")
                hub = rig.start_hub()
                for client in rig.clients:
                    client.wait_connected(10)
                polls = _instrument_long_poll(hub)
                kiosks = [rig.kiosk(f"kiosk-{i}") for i in range(1, args.kiosks + 1)]
                background.start(kiosks)
                http = urllib3.PoolManager(maxsize=1, retries=False)
                url = f"{base}/api/v1/halls/BH/windows/{window}/call-next"
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                totals: list[float] = []
                stages: dict[str, list[float]] = {
                    "http": [],
                    "hub_read": [],
                    "window": [],
                    "hall": [],
                }
                for index in range(args.warmup + args.calls):
                    time.sleep(args.gap_ms / 1000)
                    started = time.monotonic()
                    response = http.request("POST", url, body=b"{}", headers=headers, timeout=10)
                    answered = time.monotonic()
                    if response.status != 200:
                        raise RuntimeError(f"call-next: {response.status} {response.data!r}")
                    number = json.loads(response.data)["ticket"]["number"]
                    shown = window_display.states.wait_for_received(
                        lambda s, n=number: s.current_ticket == n, 10
                    )
                    listed = hall_display.states.wait_for_received(
                        lambda s, n=number: any(c.ticket == n for c in s.recent_calls),
                        10,
                    )
                    read = polls.returned_after(started)
                    if index < args.warmup:
                        continue
                    done = max(shown.received_at, listed.received_at)
                    totals.append((done - started) * 1000)
                    stages["http"].append((answered - started) * 1000)
                    if read is not None:
                        stages["hub_read"].append((read - started) * 1000)
                    stages["window"].append((shown.received_at - started) * 1000)
                    stages["hall"].append((listed.received_at - started) * 1000)
                http.clear()
                background.stop()
    return {
        "p50": statistics.median(totals),
        "p99": percentile(totals, 99),
        "max": max(totals),
        "stages": {k: statistics.median(v) for k, v in stages.items() if v},
        "stages_p99": {k: percentile(v, 99) for k, v in stages.items() if v},
    }


class _BusyClerks:
    """Other clerks calling at their own windows meanwhile (a busy hall, not one window)."""

    def __init__(self, base: str, clerks: list[tuple[str, str]], gap_s: float) -> None:
        self._base = base
        self._clerks = clerks
        self._gap_s = gap_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.calls = 0

    def start(self, kiosks: list[Any]) -> None:
        for kiosk in kiosks:
            kiosk.client.wait_connected(10)
            thread = threading.Thread(target=self._take, args=(kiosk,), daemon=True)
            thread.start()
            self._threads.append(thread)
        for employee, window in self._clerks:
            token = sign_in(self._base, employee, window)
            thread = threading.Thread(target=self._run, args=(token, window), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, token: str, window: str) -> None:
        http = urllib3.PoolManager(maxsize=1, retries=False)
        url = f"{self._base}/api/v1/halls/BH/windows/{window}/call-next"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        rng = random.Random(window)
        while not self._stop.wait(rng.uniform(0.5, 1.5) * self._gap_s):
            http.request("POST", url, body=b"{}", headers=headers, timeout=10)
            self.calls += 1

    def _take(self, kiosk: Any) -> None:
        rng = random.Random(kiosk.client.client_id)
        while not self._stop.wait(rng.uniform(0.5, 1.5) * self._gap_s):
            kiosk.take_ticket("A")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


class _PollLog:
    """When the hub's event long-polls returned with events (monotonic times)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = []

    def add(self, at: float) -> None:
        with self._lock:
            self._times.append(at)

    def returned_after(self, started: float) -> float | None:
        with self._lock:
            later = [t for t in self._times if t >= started]
        return min(later) if later else None


def _instrument_long_poll(hub: Any) -> _PollLog:
    log = _PollLog()
    original = hub.backend.events

    def events(after: int, wait_s: float, limit: int = 500) -> Any:
        reply = original(after, wait_s, limit)
        if reply.body.get("events"):
            log.add(time.monotonic())
        return reply

    hub.backend.events = events
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--busy-clerks", type=int, default=0, help="other clerks calling meanwhile")
    parser.add_argument("--kiosks", type=int, default=0, help="kiosks taking tickets meanwhile")
    parser.add_argument("--busy-gap-ms", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    print(f"$ {command}")
    before = load_average()
    result = run(args)
    after = load_average()
    stages = ", ".join(f"{k} {v:.1f}" for k, v in result["stages"].items())
    stages99 = ", ".join(f"{k} {v:.1f}" for k, v in result["stages_p99"].items())
    print(f"stage medians (ms from request start): {stages}")
    print(f"stage p99 (ms): {stages99}")
    print(
        "| call → window + hall display | "
        f"{args.db} | {args.calls} | {result['p50']:.1f} | {result['p99']:.1f} | "
        f"{result['max']:.1f} | {before} → {after} | `{command}` |"
    )


if __name__ == "__main__":
    main()
