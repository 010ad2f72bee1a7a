"""Shared fixtures: a migrated, seeded database per test on SQLite and PostgreSQL.

Migrating and seeding the demo hall takes a few seconds, so it happens once per
run into a template (a SQLite file; a PostgreSQL template database); each test
gets a fresh copy (a file copy; CREATE DATABASE … TEMPLATE, ~0.1 s).

Tests that use `app`/`client` run on both databases. PostgreSQL is reached at
HALLKIT_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test); when
it cannot be reached the PostgreSQL half fails loudly rather than skipping,
unless HALLKIT_TEST_DATABASES=sqlite is set explicitly.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.config import Settings
from backend.db import Database
from backend.migrate import upgrade
from backend.models import Case, Hall, Staff
from backend.privacy import IdentityProtector
from backend.seed.loader import seed_demo
from backend.services.auth import issue_device_token

PG_ADMIN_URL = os.environ.get("HALLKIT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASES = os.environ.get("HALLKIT_TEST_DATABASES", "sqlite,postgres").split(",")
SECRET = "test-secret-" + "x" * 40
DEMO_PASSWORD = "demo-pass-2026"
# Thursday 2026-11-26 10:00 in the hall (Asia/Shanghai): a working day, inside issuing hours.
DEFAULT_NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _pg_database_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def _seed(url: str) -> None:
    upgrade(url)
    database = Database(url)
    with database.writing() as session:
        seed_demo(session, staff_password=DEMO_PASSWORD)
    database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"hk_tpl_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        _seed(_psycopg_url(_pg_database_url(name)))
        yield name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_counter = itertools.count()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = request.param
    if kind == "sqlite":
        target = tmp_path / "hall.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"hk_t_{os.getpid()}_{next(_counter)}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _psycopg_url(_pg_database_url(name))
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A Database on the test's own copy, without an app (service-level tests)."""
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SECRET,
        var_dir=tmp_path / "var",
        upload_dir=tmp_path / "var" / "uploads",
        testing=True,
        token_cache_seconds=0.0,
    )


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    from backend.api.v1.common import forget_ids

    forget_ids()
    application = create_app(settings)
    application.extensions["hallkit"].clock = clock
    yield application
    application.extensions["hallkit"].close()
    forget_ids()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["hallkit"].db
    return database


@dataclass
class Api:
    """Thin helper over the test client: JSON in, (status, JSON) out."""

    client: FlaskClient

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, json=json, headers=all_headers)
        return response.status_code, response.get_json(silent=True)

    def post(
        self, path: str, token: str | None = None, json: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        return self.call("POST", path, token, {} if json is None else json, **kw)

    def get(self, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, token, **kw)

    def sign_in(self, employee_no: str, window: str | None = None, hall: str = "BH") -> str:
        status, body = self.post(
            "/api/v1/auth/sign-in",
            json={
                "employee_no": employee_no,
                "password": DEMO_PASSWORD,
                "hall": hall,
                "window": window,
            },
        )
        assert status == 200, body
        token: str = body["token"]
        return token


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def issue_test_device_token(
    db: Database, device_id: str = "kiosk-1", device_type: str = "kiosk", hall: str = "BH"
) -> str:
    """A device token for a device of the seeded hall `hall`."""
    from sqlalchemy import select

    from backend.models import Hall

    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == hall)).scalar_one()
        return issue_device_token(
            session, hall_id=hall_id, device_id=device_id, device_type=device_type, actor="test"
        )


@pytest.fixture
def device_token(db: Database) -> Any:
    def make(device_id: str = "kiosk-1", device_type: str = "kiosk", hall: str = "BH") -> str:
        return issue_test_device_token(db, device_id, device_type, hall)

    return make


def clerk_for_window(db: Database, window: str, hall: str = "BH", post: str = "A") -> str:
    """The employee number posted at a window (from the demo seed)."""
    from sqlalchemy import select

    from backend.models import Hall, Staff, StaffPost, Window

    with db.reading() as session:
        return session.execute(
            select(Staff.employee_no)
            .join(StaffPost, StaffPost.staff_id == Staff.id)
            .join(Window, Window.id == StaffPost.window_id)
            .join(Hall, Hall.id == Window.hall_id)
            .where(Hall.code == hall, Window.number == window, StaffPost.post == post)
        ).scalar_one()


def register_restaurant_case(
    session: Session, *, matter_code: str, handler: Staff, now: datetime
) -> Case:
    """A case of the demo's seafood restaurant (an organisation applicant, so
    its credit code is protected like an ID number), registered in hall BH by
    `handler`."""
    from backend.services import cases as case_service

    return case_service.register_case(
        session,
        hall_id=session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one(),
        matter_code=matter_code,
        applicant=case_service.Applicant(
            kind=case_service.ApplicantKind.ORGANISATION,
            name="锦州海鲜餐饮有限公司",
            id_number="91210700MA0U6KXX2J",
            phone="04163331234",
        ),
        protector=IdentityProtector.from_secret(SECRET),
        actor=case_service.Actor(f"staff:{handler.employee_no}", handler.id, handler.department_id),
        now=now,
    )
