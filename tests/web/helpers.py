"""Helpers shared by the page tests: form sign-in with the CSRF token, demo data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import Page
from sqlalchemy import select
from werkzeug.test import TestResponse

from backend.db import Database
from backend.models import Hall
from backend.services import queue as queue_service
from backend.services.queue import TicketView
from backend.web.testing import sign_in_page as sign_in_with_password
from tests.conftest import DEMO_PASSWORD

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
FRAGMENT = {"X-Hallkit-Fragment": "1"}


def resident_id(birth: date = date(1985, 6, 15), serial: str = "123", area: str = "210700") -> str:
    """A resident ID number with a correct GB 11643 check character."""
    body = f"{area}{birth:%Y%m%d}{serial}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(digit) * weight for digit, weight in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def sign_in_page(page: Page, employee_no: str, window: str = "") -> None:
    """Sign in a Playwright page as a demo staff member."""
    sign_in_with_password(page, employee_no, DEMO_PASSWORD, window)


@dataclass
class Browser:
    """The Flask test client used like a browser: it keeps the session cookie
    and sends the page's CSRF token with every form."""

    client: FlaskClient
    token: str = ""

    def refresh_token(self, path: str = "/staff/sign-in") -> str:
        page = self.client.get(path)
        found = CSRF_META.search(page.get_data(as_text=True))
        assert found, f"no CSRF token on {path}"
        self.token = found.group(1)
        return self.token

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, **kw)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token or self.refresh_token())
        return self.client.post(path, data=form, headers=headers or {}, **kw)

    def sign_in(
        self,
        employee_no: str,
        window: str | None = None,
        *,
        password: str = DEMO_PASSWORD,
        hall: str = "BH",
    ) -> TestResponse:
        self.refresh_token()
        response = self.post(
            "/staff/sign-in",
            {
                "employee_no": employee_no,
                "password": password,
                "hall": hall,
                "window": window or "",
            },
        )
        if response.status_code == 302:
            self.refresh_token("/workbench")
        return response


def issue(
    db: Database, prefix: str = "A", *, priority: str | None = None, clock: Any
) -> TicketView:
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        return queue_service.issue_ticket(
            session,
            hall_id=hall_id,
            category_prefix=prefix,
            priority_kind=priority,
            now=clock(),
            actor="device:test-kiosk",
        )
