"""One hub, hundreds of devices: memory, connect time and call fan-out.

    .venv/bin/python bench/hub_devices.py --devices 500 --calls 50

A device registry of --devices devices (10 kiosks, --hall-displays hall
displays, the rest window displays and evaluators spread over the hall's
windows) is generated in a temporary directory; Mosquitto runs with the
generated passwords and ACL on a free loopback port; the backend runs under
granian on SQLite; the hub runs as its own process (`python -m hub`), so its
RSS is its own. The devices whose reception is timed (the called window's
display and evaluator, and every hall display) are simulated in this process;
the rest are spread over worker processes of --per-process devices each, as
real devices are separate machines: hundreds of MQTT clients in one Python
process starve each other's keep-alive pings under the GIL.

Reported: RSS of the hub and of the broker with everything connected; time
from starting all devices to all connected with their first retained state;
fan-out latency of a call: from just before the clerk's call-next request to
the last of the receiving displays (the window displays and evaluators of that
window, and every hall display) holding the new number, over --calls calls.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
import urllib3
from common import (
    ROOT,
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

from backend.models import QueueCategory, Ticket
from hallbus.topics import DeviceType
from simulators.rig import HUB_ID, HallRig, hall_mix, raise_open_file_limit


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def run(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_open_file_limit(args.devices * 2 + 512)
    with bench_database("sqlite") as database, tempfile.TemporaryDirectory() as tmp:
        db = prepare_hall(database, windows=1)
        with db.writing() as session:
            session.execute(update(QueueCategory).values(number_end=9999))
        preissue_tickets(db, args.calls + 20)
        with db.writing() as session:  # 4-digit numbers, as the contract wants
            rows = session.execute(select(Ticket.id, Ticket.number, Ticket.display)).all()
            session.execute(
                update(Ticket), [{"id": r.id, "display": f"A{r.number:04d}"} for r in rows]
            )
        windows = window_numbers(db, 1000)
        called_window = windows[0]
        employee = clerk_of(db, called_window)
        hub_token = device_token(db, HUB_ID, "hub")
        db.dispose()
        specs = hall_mix(args.devices, windows, hall_displays=args.hall_displays)
        with running_server(database, workers=2, threads=8) as base:
            token = sign_in(base, employee, called_window)
            with HallRig(Path(tmp), specs, backend_url=base, hub_token=hub_token) as rig:
                broker = rig.start_broker()
                broker_pid = _child_pid("mosquitto")
                hub_process = subprocess.Popen(
                    [sys.executable, "-m", "hub", "--config", str(rig.configs_dir / "hub-bh.yaml")],
                    cwd=ROOT,
                    env=dict(os.environ, PYTHONPATH=str(ROOT)),
                )
                try:
                    time.sleep(2.0)  # the hub has no readiness signal other than its own status
                    result = _measure(args, rig, specs, base, token, called_window)
                    result["hub_rss_mb"] = rss_mb(hub_process.pid)
                    result["broker_rss_mb"] = rss_mb(broker_pid) if broker_pid else 0.0
                    result["nofile"] = limit
                finally:
                    hub_process.terminate()
                    hub_process.wait(15)
                del broker
    return result


def _child_pid(name: str) -> int | None:
    for child in psutil.Process().children(recursive=True):
        if child.name() == name:
            return int(child.pid)
    return None


def _measure(
    args: argparse.Namespace,
    rig: HallRig,
    specs: list[Any],
    base: str,
    token: str,
    called_window: str,
) -> dict[str, Any]:
    window_displays, hall_displays, evaluators = [], [], []
    measured = [
        spec
        for spec in specs
        if spec.device_type is DeviceType.HALL_DISPLAY
        or (
            spec.device_type in (DeviceType.WINDOW_DISPLAY, DeviceType.EVALUATOR)
            and spec.window == called_window
        )
    ]
    background = [spec.device_id for spec in specs if spec not in measured]
    started = time.monotonic()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--configs-dir",
                str(rig.configs_dir),
                "--ids",
                ",".join(background[i : i + args.per_process]),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        for i in range(0, len(background), args.per_process)
    ]
    try:
        return _measure_with(
            args,
            rig,
            measured,
            base,
            token,
            called_window,
            started,
            workers,
            window_displays,
            hall_displays,
            evaluators,
        )
    finally:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()  # tells the worker to disconnect its devices and exit
        for worker in workers:
            worker.wait(60)


def _measure_with(
    args: argparse.Namespace,
    rig: HallRig,
    specs: list[Any],
    base: str,
    token: str,
    called_window: str,
    started: float,
    workers: list[subprocess.Popen[str]],
    window_displays: list[Any],
    hall_displays: list[Any],
    evaluators: list[Any],
) -> dict[str, Any]:
    for spec in specs:
        if spec.device_type is DeviceType.WINDOW_DISPLAY:
            window_displays.append((spec.window, rig.window_display(spec.device_id)))
        elif spec.device_type is DeviceType.HALL_DISPLAY:
            hall_displays.append(rig.hall_display(spec.device_id))
        elif spec.device_type is DeviceType.EVALUATOR:
            evaluators.append((spec.window, rig.evaluator(spec.device_id)))
        else:
            rig.client(spec.device_id)
    for client in rig.clients:
        client.wait_connected(60)
    for worker in workers:  # each prints "ready" once all its devices are connected
        assert worker.stdout is not None
        line = worker.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"a device worker failed: {line!r}")
    connected = time.monotonic() - started
    for _window, display in window_displays:
        display.states.wait_for(lambda s: True, 60)
    for hall_display in hall_displays:
        hall_display.states.wait_for(lambda s: True, 60)
    with_state = time.monotonic() - started

    receivers_window = [d.states for w, d in window_displays if w == called_window]
    receivers_window += [e.states for w, e in evaluators if w == called_window]
    http = urllib3.PoolManager(maxsize=1, retries=False)
    url = f"{base}/api/v1/halls/BH/windows/{called_window}/call-next"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    samples: list[float] = []
    for index in range(args.calls + 3):
        time.sleep(0.05)
        begun = time.monotonic()
        response = http.request("POST", url, body=b"{}", headers=headers, timeout=10)
        if response.status != 200:
            raise RuntimeError(f"call-next: {response.status} {response.data!r}")
        number = json.loads(response.data)["ticket"]["number"]
        last = 0.0
        for inbox in receivers_window:
            item = inbox.wait_for_received(lambda s, n=number: s.current_ticket == n, 30)
            last = max(last, item.received_at)
        for hall_display in hall_displays:
            item = hall_display.states.wait_for_received(
                lambda s, n=number: any(c.ticket == n for c in s.recent_calls), 30
            )
            last = max(last, item.received_at)
        if index >= 3:
            samples.append((last - begun) * 1000)
    return {
        "connect_s": connected,
        "state_s": with_state,
        "receivers": len(receivers_window) + len(hall_displays),
        "p50": statistics.median(samples),
        "p99": percentile(samples, 99),
        "max": max(samples),
    }


def worker(configs_dir: Path, device_ids: list[str]) -> None:
    """Connect a share of the hall's devices, subscribed as the real apps are, and
    keep them online until the parent closes our standard input."""
    import random

    from hallbus.client import DeviceClient
    from hallbus.config import connection_settings, load_device_config
    from simulators.devices import SimEvaluator, SimHallDisplay, SimKiosk, SimWindowDisplay

    clients = []
    for device_id in device_ids:
        config = load_device_config(configs_dir / f"{device_id}.yaml")
        client = DeviceClient(config.device_ref(), connection_settings(config))
        kind = config.device_ref().device_type
        if kind is DeviceType.WINDOW_DISPLAY:
            SimWindowDisplay(client)
        elif kind is DeviceType.HALL_DISPLAY:
            SimHallDisplay(client)
        elif kind is DeviceType.EVALUATOR:
            SimEvaluator(client, random.Random(7), auto_answer=False)
        elif kind is DeviceType.KIOSK:
            SimKiosk(client)
        client.start()
        clients.append(client)
    for client in clients:
        client.wait_connected(120)
    print("ready", flush=True)
    sys.stdin.read()
    for client in clients:
        client.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--hall-displays", type=int, default=20)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument(
        "--per-process", type=int, default=100, help="background devices per worker process"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--configs-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ids", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        raise_open_file_limit(4096)
        worker(args.configs_dir, [i for i in args.ids.split(",") if i])
        return
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    print(f"$ {command}")
    before = load_average()
    r = run(args)
    after = load_average()
    print(
        f"devices {args.devices}: all connected in {r['connect_s']:.1f} s, all displays with "
        f"their first state in {r['state_s']:.1f} s; hub RSS {r['hub_rss_mb']:.0f} MB, "
        f"broker RSS {r['broker_rss_mb']:.0f} MB; open-file limit {r['nofile']}"
    )
    print(
        f"| call fan-out to {r['receivers']} displays ({args.devices} devices) | sqlite | "
        f"{args.calls} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {before} → {after} "
        f"| `{command}` |"
    )
    print(
        f"| hub with {args.devices} devices | connect all {r['connect_s']:.1f} s · first state "
        f"{r['state_s']:.1f} s | hub RSS {r['hub_rss_mb']:.0f} MB · broker RSS "
        f"{r['broker_rss_mb']:.0f} MB | {before} → {after} | `{command}` |"
    )


if __name__ == "__main__":
    main()
