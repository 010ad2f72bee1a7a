"""The backend window console sends the clerk to the hall hub's console when the
centre cannot decide for the hall (issue 15), in a real browser (Debian's Chromium):

- the hub's console says, from the clerk's browser (CORS), that it is offline: a
  partition where the centre answers the browser but not the hub;
- the centre answers 503 (its database is gone) or stops answering: the hub is asked,
  and the page goes once the hub has taken over (or at once when the hub does not say);
- the hub reported that it is replaying calls made offline.

The hub console is played by a small loopback HTTP server (GET /console and
GET /console/mode, answered with Access-Control-Allow-Origin: *). Each test has its
own backend server, because some of them stop it.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import make_url, select

from backend.db import Database
from backend.models import Hall, Ticket, TicketState
from backend.web.testing import CHROMIUM, RunningServer, running_server
from tests.conftest import DEFAULT_NOW, FakeClock
from tests.web.helpers import issue, sign_in_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")

HUB_PAGE = "<!doctype html><title>hub</title><h1 id='hub-console'>大厅控制器叫号台</h1>"
# The page asks the hub and probes the centre every 5 s in a hall; here every 200 ms.
FAST_POLL = "window.hallkitHubPollMs = 200;"
# For the tests of one action's answer: no periodic asking gets there first.
NO_POLL = "window.hallkitHubPollMs = 600000;"


class FakeHub:
    """The hub console's two addresses the backend console uses."""

    def __init__(self) -> None:
        self.mode: str | None = "online"  # None: /console/mode answers 500
        self.mode_asked = 0
        self.changed = threading.Condition()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/console/mode":
                    with hub.changed:
                        hub.mode_asked += 1
                        hub.changed.notify_all()
                        mode = hub.mode
                    if mode is None:
                        self._answer(500, "application/json", b"{}")
                    else:
                        body = json.dumps({"mode": mode, "pending": 3}).encode()
                        self._answer(200, "application/json", body)
                elif self.path.split("?")[0] == "/console":
                    self._answer(200, "text/html; charset=utf-8", HUB_PAGE.encode())
                else:
                    self._answer(404, "text/plain", b"not found")

            def _answer(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.console_url = f"http://127.0.0.1:{self.server.server_port}/console"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_asked(self, times: int) -> None:
        """Until the page has asked the hub's mode `times` more times."""
        with self.changed:
            target = self.mode_asked + times
            assert self.changed.wait_for(lambda: self.mode_asked >= target, timeout=10)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def backend(sqlite_template: Path, tmp_path: Path, hub: FakeHub) -> Iterator[RunningServer]:
    """A backend of its own (some tests stop it), its hall's hub console reported."""
    shutil.copyfile(sqlite_template, tmp_path / "hall.db")
    with running_server(
        f"sqlite:///{tmp_path / 'hall.db'}", tmp_path / "var", clock=FakeClock(DEFAULT_NOW)
    ) as running:
        set_hall(running, hub_console_url=hub.console_url, hub_mode="online", hub_mode_at=None)
        yield running


@pytest.fixture
def page(chromium: Chromium, backend: RunningServer) -> Iterator[Page]:
    context: BrowserContext = chromium.new_context(base_url=backend.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def set_hall(server: RunningServer, **values: Any) -> None:
    database: Database = server.app.extensions["hallkit"].db
    with database.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        for name, value in values.items():
            setattr(hall, name, value)


def database_gone(server: RunningServer) -> Callable[[], None]:
    """Take the running backend's SQLite database away for real: the file moves aside
    and a directory stands in its place, so every request that needs the database
    fails to open it and the backend answers 503 database_unavailable. Returns the undo."""
    database: Database = server.app.extensions["hallkit"].db
    path = Path(str(make_url(str(database.engine.url)).database))
    database.dispose()  # pooled connections still hold the file open
    moved = []
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(f"{part}.away")
            moved.append(part)
    # The page probes /healthz every 200 ms: a request may open (and so create) an empty
    # database file between the rename and the mkdir; that file goes too.
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            path.unlink()

    def undo() -> None:
        path.rmdir()
        for part in moved:
            Path(f"{part}.away").rename(part)

    return undo


def answer_everything_with(server: RunningServer, status: int) -> Callable[[], None]:
    """Make the running backend answer every request with `status`, as a proxy in
    front of a backend that does not answer does (504); returns the undo."""
    original = server.server.app

    def unavailable(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = b"<html><body>Gateway Time-out</body></html>"
        start_response(
            f"{status} Gateway Time-out",
            [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
        )
        return [body]

    server.server.app = unavailable

    def undo() -> None:
        server.server.app = original

    return undo


def open_console(page: Page, poll: str) -> None:
    page.context.add_init_script(poll)
    sign_in_page(page, "BH0101", "1")


def test_the_console_goes_to_the_hub_when_the_hub_says_it_is_offline(
    page: Page, backend: RunningServer, hub: FakeHub, tmp_path: Path
) -> None:
    open_console(page, FAST_POLL)
    expect(page.locator("#hub-redirect")).to_have_attribute("data-hub-console", hub.console_url)
    hub.wait_asked(3)  # the hub says online: the page stays with the centre
    expect(page).to_have_url(f"{backend.url}/console")
    expect(page.locator("[data-hub-banner]")).to_have_count(0)

    # The centre still answers this browser, but the hub cannot reach it.
    going_to_the_hub(page, backend, hub, tmp_path / "web-console-to-hub.png")
    assert (tmp_path / "web-console-to-hub.png").stat().st_size > 10_000


def going_to_the_hub(page: Page, backend: RunningServer, hub: FakeHub, shot: Path) -> None:
    """The hub says offline: the console shows its banner, with a link to the hub's
    console, while it is still the centre's page; `shot` photographs it (the docs'
    docs/screenshots/web-console-to-hub.png, by scripts/screenshots_web_console_hub.py),
    then the page goes to the hub console."""
    hub.mode = "offline"
    banner = page.locator("[data-hub-banner]")
    expect(banner).to_contain_text("大厅控制器已转为离线叫号，正在转到大厅控制器")
    expect(banner).to_have_attribute("data-hub-banner", "offline")
    expect(banner.locator("a")).to_have_attribute("href", hub.console_url)
    assert page.url == f"{backend.url}/console", page.url  # not gone yet
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    expect(page).to_have_url(hub.console_url)
    expect(page.locator("#hub-console")).to_be_visible()


def test_a_centre_whose_database_is_gone_sends_the_clerk_once_the_hub_took_over(
    page: Page, backend: RunningServer, hub: FakeHub
) -> None:
    open_console(page, FAST_POLL)
    hub.wait_asked(1)
    with page.expect_response(lambda r: r.url.endswith("/healthz") and r.status == 503):
        restore = database_gone(backend)
    # The hub has not noticed yet and would send the clerk straight back: wait here.
    banner = page.locator("[data-hub-banner]")
    expect(banner).to_have_attribute("data-hub-banner", "waiting")
    expect(banner).to_contain_text("中心系统无法连接，正在等待大厅控制器接管叫号")
    hub.wait_asked(3)
    expect(page).to_have_url(f"{backend.url}/console")

    # The database is back: the banner goes away.
    restore()
    expect(banner).to_have_count(0)

    # Gone again, and this time the hub has taken over.
    database_gone(backend)
    expect(banner).to_have_attribute("data-hub-banner", "waiting")
    hub.mode = "offline"
    expect(banner).to_contain_text("中心系统无法连接，正在转到大厅控制器")
    expect(page).to_have_url(hub.console_url)


def test_a_centre_that_stops_answering_an_action_sends_the_clerk_to_the_hub(
    page: Page, backend: RunningServer, hub: FakeHub
) -> None:
    database: Database = backend.app.extensions["hallkit"].db
    issue(database, "A", clock=lambda: DEFAULT_NOW)
    open_console(page, NO_POLL)
    expect(page.locator('[data-waiting-number="A001"]')).to_be_visible()
    asked = hub.mode_asked
    hub.mode = "offline"  # the hub noticed the centre is gone; the page has not asked
    backend.server.shutdown()
    backend.server.server_close()  # connections are refused from now on

    page.keyboard.press("n")
    expect(page.locator("[data-hub-banner]")).to_contain_text(
        "中心系统无法连接，正在转到大厅控制器"
    )
    expect(page).to_have_url(hub.console_url)
    assert hub.mode_asked > asked  # the failed action asked the hub


def test_the_hub_not_saying_its_mode_is_no_reason_to_stay_on_a_dead_centre(
    page: Page, backend: RunningServer, hub: FakeHub
) -> None:
    open_console(page, FAST_POLL)
    hub.wait_asked(1)
    hub.mode = None
    answer_everything_with(backend, 504)
    expect(page.locator("[data-hub-banner]")).to_have_attribute("data-hub-banner", "unreachable")
    expect(page).to_have_url(hub.console_url)


def test_a_hall_whose_hub_replays_sends_the_clerk_to_the_hub_console(
    page: Page, backend: RunningServer, hub: FakeHub
) -> None:
    set_hall(backend, hub_mode="replaying", hub_mode_at=DEFAULT_NOW)
    open_console(page, NO_POLL)
    expect(page.locator("[data-hub-banner]")).to_contain_text("大厅正在补录离线期间的叫号，请稍候")
    expect(page).to_have_url(hub.console_url)


def test_an_action_refused_because_the_hub_replays_sends_the_clerk_to_the_hub_console(
    page: Page, backend: RunningServer, hub: FakeHub
) -> None:
    database: Database = backend.app.extensions["hallkit"].db
    issue(database, "A", clock=lambda: DEFAULT_NOW)
    open_console(page, NO_POLL)
    expect(page.locator('[data-waiting-number="A001"]')).to_be_visible()
    # The hub came back and reports that it replays (PUT hub-state) after the page loaded.
    set_hall(backend, hub_mode="replaying", hub_mode_at=DEFAULT_NOW)
    with page.expect_response(lambda r: r.url.endswith("/console/call-next")) as answer:
        page.keyboard.press("n")
    assert answer.value.status == 409
    assert answer.value.headers.get("x-hallkit-error") == "hall_replaying"
    expect(page.locator("[data-hub-banner]")).to_contain_text("大厅正在补录离线期间的叫号，请稍候")
    expect(page).to_have_url(hub.console_url)
    # Refused: nothing was called at the centre.
    with database.reading() as session:
        ticket = session.execute(select(Ticket).where(Ticket.display == "A001")).scalar_one()
        assert ticket.state == TicketState.WAITING
