"""`hall demo` as a newcomer meets it: ports, sign-ins, phone links, device apps."""

from __future__ import annotations

import errno
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.config import Settings
from backend.db import Database
from backend.demo import (
    BROKER_PORT,
    DEMO_WINDOWS,
    DemoError,
    DeviceApps,
    app_config_file,
    banner,
    choose_broker_port,
    demo_accounts,
    demo_hub_config,
    simulated_clerks,
    start_device_app,
)
from backend.models import Staff, StaffPost, Window
from hallbus.broker.credentials import ensure_device_passwords
from hallbus.broker.select import SelectedBroker
from hallbus.config import KioskConfig, id_lookup_key, load_device_config
from hub.translate import follow_url


@pytest.fixture
def busy_default_broker_port() -> Iterator[None]:
    """Port 1884 taken, as by a second demo or a Mosquitto already listening there."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", BROKER_PORT))
        listener.listen()
    except OSError as error:  # something else already holds it: busy either way
        assert error.errno == errno.EADDRINUSE
    try:
        yield
    finally:
        listener.close()


def test_a_busy_default_broker_port_gives_way_to_a_free_one(busy_default_broker_port) -> None:
    port, note = choose_broker_port(None)
    assert port != BROKER_PORT
    assert note is not None and str(BROKER_PORT) in note and str(port) in note
    with socket.socket() as probe:  # the chosen port can be bound
        probe.bind(("127.0.0.1", port))


def test_a_requested_broker_port_that_is_busy_is_refused_saying_so(
    busy_default_broker_port,
) -> None:
    with pytest.raises(DemoError, match=f"{BROKER_PORT}.*in use.*--broker-port"):
        choose_broker_port(BROKER_PORT)


def test_the_banner_names_each_sign_in_by_its_role(database: Database) -> None:
    with database.reading() as session:
        accounts = demo_accounts(session)
        roles = {
            staff.employee_no: staff.roles
            for staff in session.execute(select(Staff)).scalars()
            if staff.employee_no in (accounts.admin, accounts.supervisor)
        }
    assert "administrator" in roles[accounts.admin]
    assert "supervisor" in roles[accounts.supervisor]
    lines = banner("http://127.0.0.1:8000", accounts)
    admin_line = next(line for line in lines if "administrator" in line)
    supervisor_line = next(line for line in lines if "supervisor" in line)
    assert accounts.admin in admin_line and accounts.supervisor not in admin_line
    assert accounts.supervisor in supervisor_line and accounts.admin not in supervisor_line


def test_the_newcomers_window_is_not_worked_by_a_simulated_clerk(database: Database) -> None:
    with database.reading() as session:
        accounts = demo_accounts(session)
        clerks, _categories = simulated_clerks(session, "http://127.0.0.1:8000")
        posts = session.execute(
            select(Window.number)
            .join(StaffPost, StaffPost.window_id == Window.id)
            .join(Staff, Staff.id == StaffPost.staff_id)
            .where(Staff.employee_no == accounts.clerk)
        ).scalars()
        newcomer_windows = set(posts)
    assert accounts.clerk_window in newcomer_windows
    assert accounts.clerk_window not in DEMO_WINDOWS
    assert accounts.clerk not in {clerk.employee_no for clerk in clerks}
    assert accounts.clerk_window not in {clerk.window for clerk in clerks}
    line = next(line for line in banner("http://x", accounts) if "clerk" in line)
    assert accounts.clerk in line and accounts.clerk_window in line


def test_the_banner_prints_the_hub_console_beside_the_backend(database: Database) -> None:
    with database.reading() as session:
        accounts = demo_accounts(session)
    lines = banner("http://127.0.0.1:8000", accounts, "http://127.0.0.1:8090/console")
    staff = next(i for i, line in enumerate(lines) if "staff" in line)
    assert "http://127.0.0.1:8090/console" in lines[staff + 1]
    assert "hub console" in lines[staff + 1]


def _broker(port: int) -> SelectedBroker:
    return SelectedBroker("embedded", "127.0.0.1", port)


def _demo_secrets(settings: Settings, *device_ids: str) -> None:
    ensure_device_passwords(device_ids, settings.var_dir / "secrets" / "mqtt")


def test_phone_links_follow_the_backend_port(settings: Settings) -> None:
    _demo_secrets(settings, "hub-bh")
    config = demo_hub_config(settings, "http://127.0.0.1:18555", _broker(23456))
    assert config.public_base_url == "http://127.0.0.1:18555"
    assert (follow_url(config.public_base_url, "tok") or "").startswith(
        "http://127.0.0.1:18555/m/t/"
    )
    assert config.broker.port == 23456


def test_the_demo_kiosk_gets_the_key_and_broker_it_needs(settings: Settings) -> None:
    _demo_secrets(settings, "kiosk-1")
    path = app_config_file(settings, "kiosk-1", _broker(23457))
    assert path.parent == settings.var_dir / "demo-apps"
    config = load_device_config(path)
    assert isinstance(config, KioskConfig)
    assert config.broker is not None and config.broker.port == 23457
    assert id_lookup_key(config) is not None  # the shipped file named a key nobody made
    assert (settings.var_dir / "secrets" / "id-lookup.key").stat().st_mode & 0o077 == 0


def test_an_app_that_exits_is_reported_and_its_output_is_in_var_logs(
    settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    script = (
        "import sys; print('kivy chatter'); "
        "print('no such file: id-lookup.key', file=sys.stderr); sys.exit(2)"
    )
    app = start_device_app(settings, "kiosk-1", [sys.executable, "-c", script], (0, 0))
    reports: list[str] = []
    reported = threading.Event()

    def report(line: str) -> None:
        reports.append(line)
        reported.set()

    apps = DeviceApps([app], report)
    try:
        assert reported.wait(20)
        assert apps.running() == []
        assert "kiosk-1" in apps.status_line() and "0 / 1" in apps.status_line()
    finally:
        apps.stop()
    [line] = reports
    assert "kiosk-1" in line and "code 2" in line and "id-lookup.key" in line
    log_text = Path(settings.var_dir / "logs" / "kiosk-1.log").read_text()
    assert "kivy chatter" in log_text and "no such file" in log_text
    printed = capfd.readouterr()
    assert "kivy chatter" not in printed.out + printed.err


def test_the_summary_shows_call_times_on_the_halls_clock() -> None:
    from backend.demo import call_line

    call = {"ticket": "A051", "window": "1", "called_at": "2026-12-07T01:06:07Z"}
    assert call_line(call, "Asia/Shanghai") == "      A051 → 1号窗口  09:06:07"
