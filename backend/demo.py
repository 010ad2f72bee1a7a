"""`hall demo`: the whole hall on one machine with one command.

Starts, in order, and stops in reverse on Ctrl-C (or after --seconds):
  1. the database (SQLite under ./var unless DATABASE_URL is set), migrated and
     seeded with the demo hall of the district plan;
  2. an MQTT broker on 127.0.0.1:1884 (or --broker-port; when 1884 is taken, a
     free loopback port, said so) — Mosquitto with the generated per-device
     passwords and ACL when it is installed, otherwise the embedded pure-Python
     broker — unless HALLKIT_BROKER_URL names one;
  3. the backend (granian, 127.0.0.1:<port>);
  4. the hub of hall "bh";
  5. simulated kiosks, window displays, hall displays and evaluators speaking the
     real contract, and simulated clerks calling through the API, playing a
     hall day at --speed × real time.
A one-screen summary (devices online, waiting per category, latest calls) is
redrawn every second. Everything else the parts print (the backend's access
log, the device apps' Kivy output) goes to files under var/logs/.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from hallbus.config import ConfigFileError
from hallbus.localtime import format_local, is_known_zone

log = logging.getLogger("hallkit.demo")

ROOT = Path(__file__).resolve().parent.parent
DEVICE_CONFIGS = ROOT / "device-configs"
DEMO_PASSWORD = "demo-pass-2026"
BROKER_PORT = 1884  # the shipped device configs point here; 1883 is left to a system broker
# Windows worked by simulated clerks. The newcomer's window (DemoAccounts.clerk)
# is chosen outside this set, so the tickets a newcomer calls are not also
# called by a robot.
DEMO_WINDOWS = ("1", "2", "4", "6", "8", "10", "12", "15", "19", "21", "25", "30")


class DemoError(RuntimeError):
    """Something the demo needs is not available; the message says what and what to do."""


def _log_dir(settings: Settings) -> Path:
    path = settings.var_dir / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def choose_broker_port(requested: int | None) -> tuple[int, str | None]:
    """The port the demo's own broker listens on, and a note when it is not the usual one.

    An explicitly requested port that is taken is an error (the user asked for
    it); the default 1884 that is taken — most often by another demo or a
    second Mosquitto — gives way to a free loopback port, and the note says so."""
    from hallbus.ports import free_loopback_port, port_is_free

    if requested is not None:
        if not port_is_free("127.0.0.1", requested):
            raise DemoError(
                f"消息总线端口 {requested} 已被占用 / broker port {requested} is already in use "
                "on 127.0.0.1 — choose another with --broker-port"
            )
        return requested, None
    if port_is_free("127.0.0.1", BROKER_PORT):
        return BROKER_PORT, None
    chosen = free_loopback_port()
    return chosen, (
        f"端口 {BROKER_PORT} 已被占用，改用 {chosen} / port {BROKER_PORT} is in use "
        f"(another broker or demo?), using {chosen}"
    )


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
def _broker(settings: Settings, choice: str, requested_port: int | None = None) -> Iterator[Any]:
    from hallbus.broker.credentials import ensure_device_passwords
    from hallbus.broker.select import pick_broker
    from hallbus.config import load_registry

    configs = load_registry(DEVICE_CONFIGS)
    passwords = ensure_device_passwords(
        [c.device_id for c in configs], settings.var_dir / "secrets" / "mqtt"
    )
    url = choice if "://" in choice else os.environ.get("HALLKIT_BROKER_URL")
    port, note = (None, None) if url else choose_broker_port(requested_port)
    broker = pick_broker(
        url,
        devices=[c.device_ref() for c in configs],
        passwords=passwords,
        conf_dir=settings.var_dir / "mosquitto",
        port=port,
        allow_mosquitto=choice != "embedded",
    )
    if note:
        _print(f"  ({note})")
    _print(f"  消息总线 broker : {broker.kind} mqtt://{broker.host}:{broker.port}")
    try:
        yield broker
    finally:
        broker.stop()


@contextlib.contextmanager
def _backend(settings: Settings, port: int) -> Iterator[str]:
    from hallbus.ports import port_is_free

    if not port_is_free("127.0.0.1", port):
        raise DemoError(
            f"后端端口 {port} 已被占用 / port {port} is already in use on 127.0.0.1 — "
            "choose another with --port"
        )
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        HALLKIT_VAR_DIR=str(settings.var_dir),
        HALLKIT_SECRET_KEY=settings.secret_key,
    )
    log_path = _log_dir(settings) / "backend.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            server_command(port, workers=2, threads=8),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(base, process, timeout=60)
        except RuntimeError as error:
            raise DemoError(f"{error} — {_relative(log_path)}") from None
        _print(f"  后端 backend    : {base}  (日志 log: {_relative(log_path)})")
        yield base
    finally:
        stop_server(process, grace=10)


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


def demo_hub_config(settings: Settings, base: str, broker: Any) -> Any:
    """The hub's shipped config, pointed at this run's backend, broker and var/.
    The phone link on a ticket (its QR code) is the backend's own address, so it
    follows --port."""
    from hallbus.config import HubConfig, load_device_config
    from hallbus.ports import free_loopback_port, port_is_free

    config = load_device_config(DEVICE_CONFIGS / "hub-bh.yaml")
    assert isinstance(config, HubConfig)
    config = with_demo_broker(config, settings, broker)
    console = config.console
    if console is not None and not port_is_free(console.host, console.port):
        # Another demo (or anything else) holds the shipped port: the console moves,
        # and the banner prints where (the hub tells the backend console too).
        console = console.model_copy(update={"port": free_loopback_port()})
    copied = config.model_copy(
        update={
            "console": console,
            "backend": config.backend.model_copy(update={"url": base}),
            "public_base_url": base,
            "outbox_path": settings.var_dir.resolve() / "hub-bh-outbox.sqlite3",
            "device_configs_dir": DEVICE_CONFIGS,
        }
    )
    copied._source_file = config.source_file
    return copied


def with_demo_broker(config: Any, settings: Settings, broker: Any) -> Any:
    """A device config pointed at this run's broker, with the password the demo
    generated for the device under this run's var/ (the shipped files name
    ../var/, which is another directory when HALLKIT_VAR_DIR is set)."""
    if config.broker is None:
        return config
    password_file = settings.var_dir.resolve() / "secrets" / "mqtt" / config.device_id
    copied = config.model_copy(
        update={
            "broker": config.broker.model_copy(
                update={"host": broker.host, "port": broker.port, "password_file": password_file}
            )
        }
    )
    copied._source_file = config.source_file
    return copied


@contextlib.contextmanager
def _hub(settings: Settings, base: str, token: str, broker: Any) -> Iterator[Any]:
    from hub import HubService

    config = demo_hub_config(settings, base, broker)
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
def _devices(
    settings: Settings, broker: Any, skip: frozenset[str] = frozenset()
) -> Iterator[dict[str, Any]]:
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
        connection = connection_settings(with_demo_broker(config, settings, broker))
        client = DeviceClient(config.device_ref(), connection)
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
    from hallbus.client import AuthenticationFailed

    try:
        for client in clients:
            client.wait_connected(15)
    except (TimeoutError, AuthenticationFailed) as error:
        for client in clients:
            with contextlib.suppress(Exception):
                client.stop()
        raise DemoError(
            f"模拟设备连不上消息总线 / the simulated devices cannot use the broker at "
            f"mqtt://{broker.host}:{broker.port}: {error}"
        ) from None
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


@dataclasses.dataclass(frozen=True)
class DemoAccounts:
    """The sign-ins the banner offers, read from the seeded hall (not typed twice)."""

    clerk: str  # a clerk whose window no simulated clerk works
    clerk_window: str
    admin: str
    supervisor: str


def _window_order(number: str) -> tuple[int, str]:
    return (int(number), number) if number.isdigit() else (1_000_000, number)


def demo_accounts(session: Any) -> DemoAccounts:
    """Who signs in as what: the first administrator and supervisor of hall BH,
    and the A-post clerk of the first window that no simulated clerk works and
    that serves a category the simulated kiosks issue tickets for."""
    from backend.models import Hall, Staff, StaffPost, Window, WindowCategory
    from backend.models.org import Role

    hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
    # Staff belong to the district, not to one hall; hall BH's are numbered BH….
    staff = session.execute(
        select(Staff)
        .where(Staff.active.is_(True), Staff.employee_no.startswith("BH"))
        .order_by(Staff.employee_no)
    ).scalars()
    by_role: dict[str, str] = {}
    for member in staff:
        for role in member.roles:
            by_role.setdefault(role, member.employee_no)
    windows = session.execute(
        select(Window.id, Window.number).where(Window.hall_id == hall_id)
    ).all()
    simulated_ids = [w.id for w in windows if w.number in DEMO_WINDOWS]
    simulated_categories = set(
        session.execute(
            select(WindowCategory.category_id).where(WindowCategory.window_id.in_(simulated_ids))
        ).scalars()
    )
    for window in sorted(windows, key=lambda w: _window_order(w.number)):
        if window.number in DEMO_WINDOWS:
            continue
        categories = set(
            session.execute(
                select(WindowCategory.category_id).where(WindowCategory.window_id == window.id)
            ).scalars()
        )
        if not categories & simulated_categories:
            continue
        clerk = session.execute(
            select(Staff.employee_no)
            .join(StaffPost, StaffPost.staff_id == Staff.id)
            .where(StaffPost.window_id == window.id, StaffPost.post == "A")
        ).scalar()
        if clerk is not None:
            return DemoAccounts(
                clerk,
                window.number,
                admin=by_role[Role.ADMINISTRATOR],
                supervisor=by_role[Role.SUPERVISOR],
            )
    raise DemoError("演示大厅没有空闲窗口 / the demo hall has no window left for a newcomer")


def _read_accounts(settings: Settings) -> DemoAccounts:
    from backend.db import Database

    database = Database(settings.database_url)
    try:
        with database.reading() as session:
            return demo_accounts(session)
    finally:
        database.dispose()


def simulated_clerks(session: Any, base: str) -> tuple[list[Any], list[str]]:
    """One simulated clerk per DEMO_WINDOWS window (its A post), and the
    categories those windows serve."""
    from backend.models import Hall, QueueCategory, Staff, StaffPost, Window, WindowCategory
    from simulators.traffic import SimClerk

    clerks, categories = [], set()
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
    return clerks, sorted(categories)


def _clerks(settings: Settings, base: str) -> tuple[list[Any], list[str]]:
    from backend.db import Database

    database = Database(settings.database_url)
    try:
        with database.reading() as session:
            clerks, categories = simulated_clerks(session, base)
    finally:
        database.dispose()
    for clerk in clerks:
        clerk.sign_in()
    return clerks, categories


def _hall_clock(status: dict[str, Any]) -> str:
    """Now on the demo hall's wall clock (its own zone, not this machine's)."""
    return format_local(datetime.now(UTC), _demo_zone(status), "%H:%M:%S")


def _demo_zone(status: dict[str, Any]) -> str | None:
    zone = status["hall"].get("timezone")
    return zone if is_known_zone(zone or "") else None


def call_line(call: dict[str, Any], zone: str | None) -> str:
    """A recent call of the summary; its time on the hall's clock like the header's
    (the status gives UTC instants)."""
    called = format_local(datetime.fromisoformat(call["called_at"]), zone, "%H:%M:%S")
    return f"  {call['ticket']:>8} → {call['window']}号窗口  {called}"


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
    zone = _demo_zone(status)
    lines += [call_line(call, zone) for call in status["recent_calls"][:8]]
    open_windows = [w for w in status["windows"] if w["state"] == "open"]
    lines.append("")
    lines.append(f"开放窗口 open windows: {len(open_windows)} / {len(status['windows'])}")
    return "\n".join(lines)


def banner(base: str, accounts: DemoAccounts, hub_console: str | None = None) -> list[str]:
    """The sign-ins and addresses printed once the hall runs."""
    console = (
        [
            f"  大厅控制器窗口台 / hub console {hub_console}  "
            "(中心断开时在此叫号 / calls here while the centre is away)"
        ]
        if hub_console
        else []
    )
    return [
        "",
        "打开 Open:",
        f"  API 文档 / API docs    {base}/api/docs  (OpenAPI: {base}/api/v1/openapi.json)",
        f"  大厅概况 / hall status {base}/api/v1/halls/BH/status",
        f"  工作人员页面 / staff   {base}/",
        *console,
        f"  窗口人员 / clerk        工号 {accounts.clerk} · {accounts.clerk_window}号窗口 "
        f"(window {accounts.clerk_window}, 无模拟人员 / no simulated clerk)",
        f"  管理员 / administrator  工号 {accounts.admin}",
        f"  监察 / supervisor       工号 {accounts.supervisor}",
        f"  密码 / password         {DEMO_PASSWORD}",
        "按 Ctrl-C 停止 / press Ctrl-C to stop",
        "",
    ]


# The real Kivy apps started by --apps, and the simulated devices they replace.
DEVICE_APPS = (
    ("kiosk", "kiosk-1"),
    ("displays", "window-display-1"),
    ("displays", "hall-display-1"),
    ("evaluator", "evaluator-1"),
)


# Where each app's window opens (left, top), so the four do not open on top of
# one another: a 2 × 2 grid at half a Full HD screen's width and height.
APP_WINDOW_POSITIONS = ((0, 0), (960, 0), (0, 540), (960, 540))


def _ensure_id_lookup_key(settings: Settings) -> Path:
    """The hall's ID lookup key for the demo kiosk (what `hall export-id-lookup-key`
    writes), created once under var/secrets with mode 0600."""
    from backend.privacy import IdentityProtector
    from hallbus.idlookup import format_lookup_key

    path = (settings.var_dir / "secrets" / "id-lookup.key").resolve()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = IdentityProtector.from_secret(settings.secret_key).lookup_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(format_lookup_key(key))
    return path


def app_config_file(settings: Settings, device_id: str, broker: Any) -> Path:
    """The device's shipped config rewritten for this run: this run's broker, and
    the secrets it names (created here) under this run's var/ by absolute path.
    Written to var/demo-apps/<device>.yaml and validated as the app will load it."""
    import yaml

    from hallbus.config import load_device_config

    data = yaml.safe_load((DEVICE_CONFIGS / f"{device_id}.yaml").read_text(encoding="utf-8"))
    secrets = (settings.var_dir / "secrets").resolve()
    data["broker"].update(
        host=broker.host, port=broker.port, password_file=str(secrets / "mqtt" / device_id)
    )
    if "id_lookup_key_file" in data:
        data["id_lookup_key_file"] = str(_ensure_id_lookup_key(settings))
    directory = settings.var_dir / "demo-apps"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{device_id}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_device_config(path)  # a problem shows here, in the demo's own words, not in a log
    return path


@dataclasses.dataclass
class _RunningApp:
    device_id: str
    process: subprocess.Popen[bytes]
    log_path: Path
    reported: bool = False


class DeviceApps:
    """The real device apps, one process each, their output in var/logs/<device>.log.
    An app that exits while the demo runs is reported once, with its log's last line."""

    def __init__(self, apps: list[_RunningApp], report: Callable[[str], None]) -> None:
        self._apps = apps
        self._report = report
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="device-apps", daemon=True)
        self._watcher.start()

    @property
    def device_ids(self) -> frozenset[str]:
        return frozenset(app.device_id for app in self._apps)

    def running(self) -> list[str]:
        return [app.device_id for app in self._apps if app.process.poll() is None]

    def status_line(self) -> str:
        exited = [app.device_id for app in self._apps if app.process.poll() is not None]
        line = f"设备程序 apps: {len(self._apps) - len(exited)} / {len(self._apps)} running"
        if exited:
            line += "  已退出 exited: " + ", ".join(exited) + " (see var/logs/)"
        return line

    def _watch(self) -> None:
        while not self._stopping.is_set():
            for app in self._apps:
                code = app.process.poll()
                if code is not None and not app.reported and not self._stopping.is_set():
                    app.reported = True
                    self._report(
                        f"  设备程序 {app.device_id} 已退出（退出码 {code}）/ device app "
                        f"{app.device_id} exited with code {code}: {_last_line(app.log_path)} "
                        f"— {_relative(app.log_path)}"
                    )
            self._stopping.wait(0.5)

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join(timeout=5)
        for app in self._apps:
            if app.process.poll() is None:
                app.process.terminate()
        for app in self._apps:
            try:
                app.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app.process.kill()
                app.process.wait()


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip()[:200] if lines else "(no output)"


def device_app_command(settings: Settings, package: str, device_id: str, broker: Any) -> list[str]:
    config = app_config_file(settings, device_id, broker)
    command = [sys.executable, "-m", package, "--config", str(config)]
    if package == "kiosk":
        command += ["--cache-dir", str(settings.var_dir / "kiosk-cache")]
    return command


def start_device_app(
    settings: Settings, device_id: str, command: list[str], position: tuple[int, int]
) -> _RunningApp:
    """Start one app with its window at `position`; all it prints (Kivy's log,
    audio and clipboard warnings) goes to var/logs/<device>.log, not the terminal."""
    log_path = _log_dir(settings) / f"{device_id}.log"
    env = dict(
        os.environ,
        KCFG_GRAPHICS_POSITION="custom",
        KCFG_GRAPHICS_LEFT=str(position[0]),
        KCFG_GRAPHICS_TOP=str(position[1]),
    )
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return _RunningApp(device_id, process, log_path)


@contextlib.contextmanager
def _device_apps(settings: Settings, enabled: bool, broker: Any) -> Iterator[DeviceApps | None]:
    """Start the real device apps in windows (needs a display), one process each."""
    if not enabled:
        yield None
        return
    if not os.environ.get("DISPLAY") and os.environ.get("SDL_VIDEODRIVER") != "offscreen":
        _print("  (没有显示器，不启动设备程序 / no display: --apps ignored)")
        yield None
        return
    started = [
        start_device_app(
            settings, device_id, device_app_command(settings, package, device_id, broker), position
        )
        for (package, device_id), position in zip(DEVICE_APPS, APP_WINDOW_POSITIONS, strict=True)
    ]
    apps = DeviceApps(started, _print)
    _print(
        "  设备程序 apps   : "
        + ", ".join(device for _p, device in DEVICE_APPS)
        + f"  (日志 logs: {_relative(_log_dir(settings))}/<device>.log)"
    )
    try:
        yield apps
    finally:
        apps.stop()


def run_demo(
    *,
    port: int,
    seconds: float | None,
    speed: float,
    devices: bool,
    broker: str = "auto",
    broker_port: int | None = None,
    apps: bool = False,
) -> int:
    settings = settings_from_env()
    _log_to_file(settings)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _print("hallkit 演示大厅启动中 / starting the demo hall …")
    try:
        _prepare_database(settings)
        token = _hub_token(settings)
        with contextlib.ExitStack() as stack:
            selected = stack.enter_context(_broker(settings, broker, broker_port))
            base = stack.enter_context(_backend(settings, port))
            hub = stack.enter_context(_hub(settings, base, token, selected))
            stack.enter_context(_supervision(settings))
            generator = None
            real_apps: DeviceApps | None = None
            if devices:
                real_apps = stack.enter_context(_device_apps(settings, apps, selected))
                simulated = stack.enter_context(
                    _devices(settings, selected, real_apps.device_ids if real_apps else frozenset())
                )
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
            hub_console = hub.config.console.url() if hub.config.console is not None else None
            for line in banner(base, _read_accounts(settings), hub_console):
                _print(line)

            def _render() -> str:
                text = _summary(base, hub)
                return text + "\n" + real_apps.status_line() if real_apps else text

            _watch(_render, stop, seconds)
        _print("演示已停止 / demo stopped")
        return 0
    except KeyboardInterrupt:
        _print("演示已停止 / demo stopped")
        return 0
    except (RuntimeError, ConfigFileError) as error:  # DemoError, the parts' start-up failures
        _print(f"错误 error: {error}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _log_to_file(settings: Settings) -> None:
    """The demo process's own library logging (hub, broker, simulators) goes to
    var/logs/demo.log; the terminal keeps the demo's lines and the summary."""
    handler = logging.FileHandler(_log_dir(settings) / "demo.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


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
