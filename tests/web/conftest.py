from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import BrowserContext, sync_playwright

from backend.web.testing import CHROMIUM, CHROMIUM_ARGS, RunningServer, running_server
from tests.conftest import FakeClock
from tests.web.helpers import Browser


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


# -- real-browser tests: one server and one Chromium per module -------------------------
# (module, not session: Playwright's sync API keeps its own event loop while open,
# and other tests run asyncio in this thread)


@pytest.fixture(scope="module")
def server_clock() -> FakeClock:
    """The clock of the module's server; a test may move it."""
    return FakeClock()


@pytest.fixture(scope="module")
def server(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    server_clock: FakeClock,
    request: pytest.FixtureRequest,
) -> Iterator[RunningServer]:
    """The backend on a copy of the seeded SQLite database, shared by the module."""
    directory = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    shutil.copyfile(sqlite_template, directory / "hall.db")
    with running_server(
        f"sqlite:///{directory / 'hall.db'}", directory / "var", clock=server_clock
    ) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Chromium, server: RunningServer) -> Iterator[BrowserContext]:
    context = chromium.new_context(base_url=server.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context
    context.close()
