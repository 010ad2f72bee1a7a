"""A clerk at the hub's window console (hub/console.py), through its JSON API.

What the console page's script does when the clerk presses a key: the same
requests, the same session cookie, the same CSRF header. For fault tests and
the demo's simulated clerks while the backend is away.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

import urllib3

CSRF_HEADER = {"X-Requested-With": "hub-console"}


class ConsoleRefused(RuntimeError):
    """The console answered with an error (not signed in, a refusal of the desk, …)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


class HubConsoleClerk:
    def __init__(self, base_url: str, employee_no: str, password: str, window: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.employee_no = employee_no
        self.window = window
        self._password = password
        self._http = urllib3.PoolManager(maxsize=2, retries=False)
        self._cookies: dict[str, str] = {}

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Accept": "application/json", **CSRF_HEADER}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        response = self._http.request(
            method,
            self.base_url + path,
            body=json.dumps(body).encode("utf-8") if body is not None else None,
            headers=headers,
            timeout=10.0,
            redirect=False,
        )
        for header in response.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self._cookies[name] = morsel.value
        return response

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._request(method, path, body)
        data = json.loads(response.data) if response.data else {}
        if response.status >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise ConsoleRefused(
                response.status, str(error.get("code", "")), str(error.get("message", ""))
            )
        return data

    def sign_in(self) -> None:
        self._cookies.clear()
        self._json(
            "POST",
            "/console/api/sign-in",
            {"employee_no": self.employee_no, "password": self._password, "window": self.window},
        )

    def state(self) -> dict[str, Any]:
        return dict(self._json("GET", "/console/api/state"))

    def page_status(self) -> int:
        """HTTP status of the console page itself (302 while the hall is online)."""
        return int(self._request("GET", "/console/").status)

    def act(
        self, action: str, *, target_window: str | None = None, reason: str | None = None
    ) -> str | None:
        """Press a button; the ticket it concerns, or None when a call finds nobody."""
        body: dict[str, Any] = {"action": action}
        if target_window is not None:
            body["target_window"] = target_window
        if reason is not None:
            body["reason"] = reason
        try:
            result = self._json("POST", "/console/api/action", body)
        except ConsoleRefused as refused:
            if action == "call" and refused.code == "nobody_waiting":
                return None
            raise
        ticket = result.get("ticket")
        return str(ticket) if ticket else None

    def close(self) -> None:
        self._http.clear()
