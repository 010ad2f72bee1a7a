"""`hall demo`: the whole hall on one machine with one command.

Starts, in order, and stops in reverse on Ctrl-C (or after --seconds):
  1. the database (SQLite under ./var unless DATABASE_URL is set), migrated and
     seeded with the demo hall of the district plan;
  2. an MQTT broker on 127.0.0.1:1884 — Mosquitto with the generated
     per-device passwords and ACL when it is installed, otherwise the embedded
     pure-Python broker — unless HALLKIT_BROKER_URL names one;
  3. the backend (granian, 127.0.0.1:<port>);
  4. the hub of hall "bh";
  5. simulated kiosks, window displays, hall displays and evaluators speaking the
     real contract, and simulated clerks calling through the API, playing a
     hall day at --speed × real time.
A one-screen summary (devices online, waiting per category, latest calls) is
redrawn every second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from backend.config import Settings, settings_from_env
from backend.server import server_command, stop_server, wait_until_serving
from hallbus.localtime import format_local, is_known_zone

log = logging.getLogger("hallkit.demo")

ROOT = Path(__file__).resolve().parent.parent
DEVICE_CONFIGS = ROOT / "device-configs"
DEMO_PASSWORD = "demo-pass-2026"
BROKER_PORT = 1884  # the shipped device configs point here; 1883 is left to a system broker
DEMO_WINDOWS = ("1", "2", "4", "6", "8", "10", "12", "15", "19", "21", "25", "30")


def _print(message: str) -> None:
    print(message, flush=True)


def _prepare_database(settings: Settings) -> None:
    from backend.cli import ensure_demo_database
    from backend.db import Database
    from backend.models import QueueCategory

    created = ensure_demo_database(settings, DEMO_PASSWORD)
    if created:
        # The demo must work whenever someone tries it, so its categories issue
        # tickets around the clock; a real hall keeps its issuing hours.
        database = Database(settings.database_url)
        with database.writing() as session:
            session.execute(
                update(QueueCategory).values(
                    issue_from=clock_time(0, 0), issue_until=clock_time(23, 59, 59)
                )
            )
        database.dispose()
    _print(
        f"  数据库 database : {_describe_url(settings.database_url)}"
        + (" (新建演示数据 / demo hall loaded)" if created else "")
    )


def _describe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _hub_token(settings: Settings) -> str:
    """One hub token per demo installation, kept under var/secrets (mode 0600)."""
    from backend.db import Database
    from backend.models import ApiToken, Hall
    from backend.services.auth import hash_token, issue_device_token

    path = settings.var_dir / "secrets" / "hub-bh.token"
    database = Database(settings.database_url)
    try:
        if path.exists():
            token = path.read_text(encoding="ascii").strip()
            with database.reading() as session:
                known = session.execute(
                    select(ApiToken.id).where(
                        ApiToken.token_hash == hash_token(token), ApiToken.revoked.is_(False)
                    )
                ).first()
            if known is not None:
                return token
        with database.writing() as session:
            hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
            token = issue_device_token(
                session, hall_id=hall_id, device_id="hub-bh", device_type="hub", actor="demo"
            )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token)
        return token
    finally:
        database.dispose()


@contextlib.contextmanager
def _broker(settings: Settings, choice: str) -> Iterator[Any]:
    from hallbus.broker.credentials import ensure_device_passwords
    from hallbus.broker.select import pick_broker
    from hallbus.config import load_registry

    configs = load_registry(DEVICE_CONFIGS)
    passwords = ensure_device_passwords(
        [c.device_id for c in configs], settings.var_dir / "secrets" / "mqtt"
    )
    url = choice if "://" in choice else os.environ.get("HALLKIT_BROKER_URL")
    broker = pick_broker(
        url,
        devices=[c.device_ref() for c in configs],
        passwords=passwords,
        conf_dir=settings.var_dir / "mosquitto",
        port=BROKER_PORT,
        allow_mosquitto=choice != "embedded",
    )
    _print(f"  消息总线 broker : {broker.kind} mqtt://{broker.host}:{broker.port}")
    try:
        yield broker
    finally:
        broker.stop()


@contextlib.contextmanager
def _backend(settings: Settings, port: int) -> Iterator[str]:
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        HALLKIT_VAR_DIR=str(settings.var_dir),
        HALLKIT_SECRET_KEY=settings.secret_key,
    )
    process = subprocess.Popen(
        server_command(port, workers=2, threads=8),
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, timeout=60)
        _print(f"  后端 backend    : {base}")
        yield base
    finally:
        stop_server(process, grace=10)


@contextlib.contextmanager
def _hub(base: str, token: str) -> Iterator[Any]:
    from hallbus.config import load_device_config
    from hub import HubService

    config = load_device_config(DEVICE_CONFIGS / "hub-bh.yaml")
    config = config.model_copy(  # type: ignore[union-attr]
        update={"backend": config.backend.model_copy(update={"url": base})}  # type: ignore[union-attr]
    )
    hub = HubService(config, token=token)  # type: ignore[arg-type]
    hub.start()
    _print("  集线器 hub      : hub-bh")
    try:
        yield hub
    finally:
        hub.stop()
        hub.close()


@contextlib.contextmanager
def _supervision(settings: Settings) -> Iterator[None]:
    """电子监察: deadline warnings and process checks every minute. One scheduler
    per deployment (here, in the demo process; in production `hall
    supervision-scan --loop`), never one per web worker."""
    from backend.db import Database
    from backend.models import utcnow
    from backend.services import notify
    from backend.services.sms import gateway_from_settings
    from backend.services.supervision import SupervisionScheduler

    database = Database.with_wakeups(settings.database_url, settings.var_dir)
    channels = notify.default_channels(sms_gateway=gateway_from_settings(settings.sms))
    scheduler = SupervisionScheduler(database, utcnow, channels, interval_seconds=60.0)
    scheduler.start()
    _print("  电子监察 supervision: scan every 60 s")
    try:
        yield
    finally:
        scheduler.stop()
        database.dispose()


@contextlib.contextmanager
def _devices(skip: frozenset[str] = frozenset()) -> Iterator[dict[str, Any]]:
    from hallbus.client import DeviceClient
    from hallbus.config import connection_settings, load_registry
    from simulators.devices import SimEvaluator, SimHallDisplay, SimKiosk, SimWindowDisplay

    clients: list[DeviceClient] = []
    devices: dict[str, Any] = {"kiosks": [], "displays": [], "hall_displays": [], "evaluators": []}
    rng = random.Random(2026)
    for config in load_registry(DEVICE_CONFIGS):
        kind = config.type
        if kind in ("hub", "announcer") or config.device_id in skip:
            continue
        client = DeviceClient(config.device_ref(), connection_settings(config))
        clients.append(client)
        if kind == "kiosk":
            devices["kiosks"].append(SimKiosk(client))
        elif kind == "window_display":
            devices["displays"].append(SimWindowDisplay(client))
        elif kind == "hall_display":
            devices["hall_displays"].append(SimHallDisplay(client))
        elif kind == "evaluator":
            devices["evaluators"].append(SimEvaluator(client, rng))
        client.start()
    for client in clients:
        client.wait_connected(15)
    _print(
        f"  模拟设备 devices: {len(clients)} online "
        f"({len(devices['kiosks'])} kiosks, {len(devices['displays'])} window displays, "
        f"{len(devices['hall_displays'])} hall displays, {len(devices['evaluators'])} evaluators)"
    )
    try:
        yield devices
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                client.stop()


def _clerks(settings: Settings, base: str) -> tuple[list[Any], list[str]]:
    from backend.db import Database
    from backend.models import Hall, QueueCategory, Staff, StaffPost, Window, WindowCategory
    from simulators.traffic import SimClerk

    database = Database(settings.database_url)
    clerks, categories = [], set()
    with database.reading() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        for number in DEMO_WINDOWS:
            employee_no = session.execute(
                select(Staff.employee_no)
                .join(StaffPost, StaffPost.staff_id == Staff.id)
                .join(Window, Window.id == StaffPost.window_id)
                .where(Window.hall_id == hall_id, Window.number == number, StaffPost.post == "A")
            ).scalar_one()
            clerks.append(SimClerk(base, employee_no, number))
            categories.update(
                session.execute(
                    select(QueueCategory.prefix)
                    .join(WindowCategory, WindowCategory.category_id == QueueCategory.id)
                    .join(Window, Window.id == WindowCategory.window_id)
                    .where(Window.hall_id == hall_id, Window.number == number)
                ).scalars()
            )
    database.dispose()
    for clerk in clerks:
        clerk.sign_in()
    return clerks, sorted(categories)


def _hall_clock(status: dict[str, Any]) -> str:
    """Now on the demo hall's wall clock (its own zone, not this machine's)."""
    zone = status["hall"].get("timezone")
    return format_local(datetime.now(UTC), zone if is_known_zone(zone or "") else None, "%H:%M:%S")


def _summary(base: str, hub: Any) -> str:
    import json

    with urllib.request.urlopen(base + "/api/v1/halls/BH/status", timeout=2) as response:
        status = json.loads(response.read())
    health = hub.health_report()
    lines = [
        "\033[2J\033[H" if sys.stdout.isatty() else "",
        f"hallkit 演示大厅 · {status['hall']['name']} · {_hall_clock(status)}",
        f"设备在线 devices online: {health.get('devices_online', '?')}   "
        f"后端 backend reachable: {health.get('backend_reachable', '?')}   "
        f"离线队列 outbox: {health.get('outbox_depth', '?')}",
        "",
        "等候 waiting: "
        + "  ".join(
            f"{c['prefix']} {c['name']} {c['waiting']}人/{c['estimated_wait_minutes']}分"
            for c in status["categories"]
            if c["waiting"] or c["open_windows"]
        ),
        "",
        "最近叫号 latest calls:",
    ]
    for call in status["recent_calls"][:8]:
        lines.append(f"  {call['ticket']:>8} → {call['window']}号窗口  {call['called_at'][11:19]}")
    open_windows = [w for w in status["windows"] if w["state"] == "open"]
    lines.append("")
    lines.append(f"开放窗口 open windows: {len(open_windows)} / {len(status['windows'])}")
    return "\n".join(lines)


def _urls(base: str) -> None:
    _print("")
    _print("打开 Open:")
    _print(f"  API 文档 / API docs    {base}/api/docs  (OpenAPI: {base}/api/v1/openapi.json)")
    _print(f"  大厅概况 / hall status {base}/api/v1/halls/BH/status")
    _print(f"  工作人员页面 / staff   {base}/  (登录 sign in: 工号 BH0101, 密码 {DEMO_PASSWORD})")
    _print(
        f"  管理员 / administrator  工号 BH9001 · 监察 / supervisor BH9101 (密码 {DEMO_PASSWORD})"
    )
    _print("按 Ctrl-C 停止 / press Ctrl-C to stop")
    _print("")


# The real Kivy apps started by --apps, and the simulated devices they replace.
DEVICE_APPS = (
    ("kiosk", "kiosk-1"),
    ("displays", "window-display-1"),
    ("displays", "hall-display-1"),
    ("evaluator", "evaluator-1"),
)


@contextlib.contextmanager
def _device_apps(enabled: bool) -> Iterator[frozenset[str]]:
    """Start the real device apps in windows (needs a display), one process each."""
    if not enabled:
        yield frozenset()
        return
    if not os.environ.get("DISPLAY") and os.environ.get("SDL_VIDEODRIVER") != "offscreen":
        _print("  (没有显示器，不启动设备程序 / no display: --apps ignored)")
        yield frozenset()
        return
    processes = []
    for package, device_id in DEVICE_APPS:
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    package,
                    "--config",
                    str(DEVICE_CONFIGS / f"{device_id}.yaml"),
                ],
                cwd=ROOT,
            )
        )
    _print("  设备程序 apps   : " + ", ".join(device for _p, device in DEVICE_APPS))
    try:
        yield frozenset(device for _package, device in DEVICE_APPS)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_demo(
    *,
    port: int,
    seconds: float | None,
    speed: float,
    devices: bool,
    broker: str = "auto",
    apps: bool = False,
) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = settings_from_env()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _print("hallkit 演示大厅启动中 / starting the demo hall …")
    try:
        _prepare_database(settings)
        token = _hub_token(settings)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_broker(settings, broker))
            base = stack.enter_context(_backend(settings, port))
            hub = stack.enter_context(_hub(base, token))
            stack.enter_context(_supervision(settings))
            generator = None
            if devices:
                real_apps = stack.enter_context(_device_apps(apps))
                simulated = stack.enter_context(_devices(real_apps))
                clerks, categories = _clerks(settings, base)
                from simulators.traffic import TrafficGenerator

                generator = TrafficGenerator(
                    simulated["kiosks"], clerks, categories, random.Random(7), speed=speed
                )
                traffic = threading.Thread(
                    target=_play_day, args=(generator,), name="traffic", daemon=True
                )
                traffic.start()

                def _stop_traffic() -> None:
                    generator.stop.set()
                    traffic.join(timeout=15)

                stack.callback(_stop_traffic)
            _urls(base)
            _watch(lambda: _summary(base, hub), stop, seconds)
        _print("演示已停止 / demo stopped")
        return 0
    except KeyboardInterrupt:
        _print("演示已停止 / demo stopped")
        return 0
    except RuntimeError as error:
        _print(f"错误 error: {error}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _play_day(generator: Any) -> None:
    """Play hall days until stopped; a request cut short by the shutdown is not an error."""
    from hallbus.client import NotConnected

    while not generator.stop.is_set():
        try:
            report = generator.run(clock_time(8, 30), clock_time(17, 0))
            log.info("simulated day: %s tickets, %s calls", report.tickets, report.calls)
        except NotConnected:
            if generator.stop.is_set():
                return
            raise


def _watch(render: Callable[[], str], stop: threading.Event, seconds: float | None) -> None:
    deadline = time.monotonic() + seconds if seconds is not None else None
    interval = 1.0 if sys.stdout.isatty() else 5.0
    while not stop.is_set():
        try:
            _print(render())
        except OSError as error:
            _print(f"(概况暂不可用 / summary unavailable: {error})")
        if deadline is not None and time.monotonic() >= deadline:
            return
        stop.wait(
            interval if deadline is None else min(interval, max(0.0, deadline - time.monotonic()))
        )
