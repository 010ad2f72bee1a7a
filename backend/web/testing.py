"""A real HTTP server of the app on a free loopback port, for browser tests, the
console benchmark and the screenshot script. Not used in production.

    with running_server(database_url, var_dir) as server:
        page.goto(server.url + "/staff/sign-in")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from backend.app import create_app
from backend.config import Settings

if TYPE_CHECKING:  # Playwright is only needed where a browser runs
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


@dataclass
class RunningServer:
    app: Flask
    url: str
    server: BaseWSGIServer


def seed_database(database_url: str, password: str) -> None:
    """Migrate and load the demo hall (as the test fixtures do)."""
    from backend.db import Database
    from backend.migrate import upgrade
    from backend.seed.loader import seed_demo

    upgrade(database_url)
    database = Database(database_url)
    with database.writing() as session:
        seed_demo(session, staff_password=password)
    database.dispose()


@contextmanager
def running_server(
    database_url: str,
    var_dir: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    secret_key: str = "web-test-secret-" + "k" * 40,
) -> Iterator[RunningServer]:
    settings = Settings(
        database_url=database_url,
        secret_key=secret_key,
        var_dir=var_dir,
        upload_dir=var_dir / "uploads",
        token_cache_seconds=0.0,
    )
    # One line per request on stderr would only slow the measured requests down.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings)
    if clock is not None:
        app.extensions["hallkit"].clock = clock
    # Threaded: each open live stream holds a thread, as under granian's thread pool.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web-test-server", daemon=True)
    thread.start()
    try:
        yield RunningServer(app=app, url=f"http://127.0.0.1:{server.server_port}", server=server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        app.extensions["hallkit"].close()


def sign_in_page(page: Page, employee_no: str, password: str, window: str = "") -> None:
    """Sign in through the real sign-in page of a Playwright page, and wait until
    the page's scripts have run: the header shows while the page is still
    parsing, and a key pressed before its scripts ran would go nowhere."""
    page.goto("/staff/sign-in")
    page.fill("input[name=employee_no]", employee_no)
    page.fill("input[name=password]", password)
    page.fill("input[name=window]", window)
    page.click("button[type=submit]")
    page.wait_for_selector(".who-name")
    page.wait_for_load_state("load")
