"""Application factory: `create_app(settings)` builds one Flask app with one
blueprint per area of the API."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend.config import Settings, settings_from_env
from backend.db import Database
from backend.errors import RateLimited
from backend.models import utcnow
from backend.privacy import IdentityProtector, install_log_redaction
from backend.services import eventlog
from backend.services.auth import TokenCache
from backend.services.catalog import SearchIndexCache
from backend.services.sms import SmsGateway, gateway_from_settings
from backend.services.turn_notice import ReminderWorker
from backend.services.wakeup import DatagramWaiter, EventWaiter, PostgresWaiter


class RateLimiter:
    """Sliding-window limit per key, in process memory. With several worker
    processes each keeps its own window; the limit is per worker."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self._per_minute:
                raise RateLimited(
                    "查询过于频繁，请稍后再试 / too many lookups, try again later",
                    retry_after_seconds=int(60 - (now - hits[0])) + 1,
                )
            hits.append(now)
            if len(self._hits) > 10000:
                self._hits = {k: v for k, v in self._hits.items() if v}


@dataclass
class Hallkit:
    settings: Settings
    db: Database
    tokens: TokenCache
    protector: IdentityProtector
    lookup_limiter: RateLimiter
    search_index: SearchIndexCache = field(default_factory=SearchIndexCache)
    clock: Callable[[], datetime] = utcnow
    # None: no gateway configured, the SMS channel is off (docs/sms.md).
    sms_gateway: SmsGateway | None = None
    _waiter: EventWaiter | None = None
    _waiter_lock: threading.Lock = field(default_factory=threading.Lock)
    _reminders: ReminderWorker | None = None

    def waiter(self) -> EventWaiter:
        """Started lazily so that each worker process (after fork) runs its own."""
        if self._waiter is None:
            with self._waiter_lock:
                if self._waiter is None:
                    if self.db.is_sqlite:
                        datagram = DatagramWaiter(wake_dir(self.settings))
                        datagram.start()
                        self._waiter = datagram
                    else:
                        url = make_url(self.settings.database_url).set(drivername="postgresql")
                        listener = PostgresWaiter(
                            url.render_as_string(hide_password=False), eventlog.NOTIFY_CHANNEL
                        )
                        listener.start()
                        self._waiter = listener
        return self._waiter

    def reminders(self) -> ReminderWorker:
        """The 到号提醒 / SMS worker of this process (started by the first request
        outside tests; tests start or drive it themselves)."""
        if self._reminders is None:
            waiter = self.waiter()
            with self._waiter_lock:
                if self._reminders is None:
                    self._reminders = ReminderWorker(
                        self.db,
                        waiter,
                        clock=lambda: self.clock(),
                        protector=self.protector,
                        gateway=self.sms_gateway,
                        settings=self.settings.sms,
                    )
        return self._reminders

    def close(self) -> None:
        if self._reminders is not None:
            self._reminders.stop()
        if self._waiter is not None:
            self._waiter.stop()
        self.db.dispose()


def wake_dir(settings: Settings) -> Path:
    return settings.var_dir / "run" / "wake"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or settings_from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_AS_ASCII=False,
        TESTING=settings.testing,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    database = Database.with_wakeups(
        settings.database_url, settings.var_dir, echo=settings.echo_sql
    )
    app.extensions["hallkit"] = Hallkit(
        settings=settings,
        db=database,
        tokens=TokenCache(settings.token_cache_seconds),
        protector=IdentityProtector.from_secret(settings.secret_key),
        lookup_limiter=RateLimiter(settings.public_lookup_per_minute),
        sms_gateway=gateway_from_settings(settings.sms),
    )
    if not settings.testing:
        extension: Hallkit = app.extensions["hallkit"]

        @app.before_request
        def _start_reminders() -> None:
            # In the worker process, after any fork: threads do not survive a fork.
            if extension._reminders is None:
                extension.reminders().start()

    install_log_redaction(logging.getLogger())

    from backend.api import errors, openapi
    from backend.api.v1 import register_blueprints

    errors.install(app)
    app.register_blueprint(openapi.blueprint)
    register_blueprints(app)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        with database.reading() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "sqlite" if database.is_sqlite else "postgresql"}

    # -- staff and phone pages (backend/web): Babel, CSRF outside /api/, sign-in ----------
    from backend.web import init_web

    init_web(app)
    # -- end of pages ---------------------------------------------------------------------

    return app


def hallkit() -> Hallkit:
    from flask import current_app

    extension: Hallkit = current_app.extensions["hallkit"]
    return extension
