"""HTTP client for the backend API, as the hub uses it.

One keep-alive connection pool (urllib3) for every call, so a relayed request
costs one round trip on an open connection instead of a TCP handshake. Failures
are split in two, because the hub reacts differently to each:

- BackendUnavailable: the backend could not be reached or did not answer
  (connection refused, timeout, 502/503/504). The hub goes into degraded mode.
- BackendRejected: the backend answered and said no (4xx, or 500 with a body).
  The hub maps its code to a contract error code for the device.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import HTTPError, ProtocolError

log = logging.getLogger(__name__)

# Statuses a proxy or a restarting server gives while the backend is away.
_UNAVAILABLE_STATUSES: Final = frozenset({502, 503, 504})
# A long-poll asks the backend to wait this long; the read timeout adds slack.
LONG_POLL_SLACK_S: Final = 5.0


class BackendUnavailable(Exception):
    """The backend did not answer (connection refused, timeout, gateway error)."""


class BackendRejected(Exception):
    """The backend answered with an error: `code` is its stable error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class BackendReply:
    status: int
    body: dict[str, Any]


class BackendClient:
    """Calls the backend with the hub's device token; `device_id` adds X-Device-Id."""

    def __init__(
        self,
        base_url: str,
        token: str,
        hall_code: str,
        *,
        timeout_s: float,
        pool_size: int = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.hall_code = hall_code
        self.timeout_s = timeout_s
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        # block=False: a burst beyond pool_size opens extra short-lived
        # connections instead of queueing requests behind a long-poll.
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=pool_size, block=False, retries=False)

    def close(self) -> None:
        self._pool.clear()

    # ------------------------------------------------------------------ transport

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, str | int | float] | None = None,
        device_id: str | None = None,
        timeout_s: float | None = None,
    ) -> BackendReply:
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query)
        headers = dict(self._headers)
        if device_id is not None:
            headers["X-Device-Id"] = device_id
        read_timeout = timeout_s if timeout_s is not None else self.timeout_s
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        timeout = urllib3.Timeout(connect=min(2.0, read_timeout), read=read_timeout)
        # A kept-alive connection the backend closed as it was being reused (its
        # keep-alive timer ran out) fails with ProtocolError before any answer.
        # A GET is safe to send again at once; without this, the event reader
        # took it for an outage: degraded mode, 0.5 s back-off and a rebuild.
        attempts = 2 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                response = self._pool.request(
                    method, url, body=data, headers=headers, timeout=timeout, redirect=False
                )
                break
            except ProtocolError as exc:
                if attempt + 1 < attempts:
                    log.debug("%s %s: %s; sending again on a new connection", method, path, exc)
                    continue
                raise BackendUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from None
            except HTTPError as exc:
                raise BackendUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status in _UNAVAILABLE_STATUSES:
            raise BackendUnavailable(f"{method} {path}: HTTP {response.status}")
        try:
            parsed = json.loads(response.data) if response.data else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            if response.status >= 500:
                raise BackendUnavailable(f"{method} {path}: HTTP {response.status}, no JSON body")
            raise BackendRejected(response.status, "bad_response", "backend sent no JSON object")
        if response.status >= 400:
            found = parsed.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            raise BackendRejected(
                response.status,
                str(error.get("code", "error")),
                str(error.get("message", "")),
            )
        return BackendReply(response.status, parsed)

    def hall_path(self, suffix: str) -> str:
        return f"/api/v1/halls/{quote(self.hall_code, safe='')}{suffix}"

    # -------------------------------------------------------------------- queue

    def ticket(self, number: str) -> BackendReply:
        return self.call("GET", self.hall_path(f"/tickets/{quote(number, safe='')}"))

    def cancel_ticket(self, number: str, device_id: str) -> BackendReply:
        path = self.hall_path(f"/tickets/{quote(number, safe='')}/cancel")
        return self.call("POST", path, body={}, device_id=device_id)

    def reserve_block(self, category: str, size: int) -> BackendReply:
        return self.call(
            "POST", self.hall_path("/ticket-blocks"), body={"category": category, "size": size}
        )

    def upload_offline_ticket(self, body: dict[str, Any]) -> BackendReply:
        return self.call("POST", self.hall_path("/tickets/offline"), body=body)

    def status(self) -> BackendReply:
        return self.call("GET", self.hall_path("/status"))

    def rating_reasons(self) -> list[str]:
        """The active bad-rating reasons, in order (GET /rating-reasons)."""
        found = self.call("GET", self.hall_path("/rating-reasons")).body.get("reasons")
        if not isinstance(found, list):
            raise BackendRejected(200, "bad_response", "rating-reasons without a list")
        return [str(item) for item in found if isinstance(item, str) and item.strip()]

    def events(self, after: int, wait_s: float, limit: int = 500) -> BackendReply:
        return self.call(
            "GET",
            self.hall_path("/events"),
            query={"after": after, "wait": wait_s, "limit": limit},
            timeout_s=wait_s + LONG_POLL_SLACK_S,
        )

    # ------------------------------------------------------------- the window desk

    def offline_snapshot(self) -> BackendReply:
        """What the hub needs to decide the queue alone (GET /offline-snapshot)."""
        return self.call("GET", self.hall_path("/offline-snapshot"))

    def window_action(self, body: dict[str, Any], timeout_s: float | None = None) -> BackendReply:
        """A window action (POST /window-actions), live or replayed (`offline`)."""
        return self.call("POST", self.hall_path("/window-actions"), body=body, timeout_s=timeout_s)

    def put_hub_state(self, body: dict[str, Any]) -> BackendReply:
        """Who decides the hall's queue right now (PUT /hub-state)."""
        return self.call("PUT", self.hall_path("/hub-state"), body=body)

    # --------------------------------------------------------- ratings, devices

    def submit_rating(self, body: dict[str, Any], device_id: str) -> BackendReply:
        return self.call("POST", self.hall_path("/ratings"), body=body, device_id=device_id)

    def report_device(self, device_id: str, body: dict[str, Any]) -> BackendReply:
        path = self.hall_path(f"/devices/{quote(device_id, safe='')}")
        return self.call("PUT", path, body=body)
