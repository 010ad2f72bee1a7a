"""Server-rendered staff pages and the public phone pages.

`init_web(app)` is called once from `create_app`. It sets up, for every page
blueprint (this package's and those added later by other areas):

- Flask-Babel with 简体中文 as the default and English on request (`?lang=en`,
  remembered in the session); see `backend.web.i18n`.
- CSRF: every non-GET request outside /api/ must carry the session's CSRF token
  (hidden `csrf_token` field, or the `X-CSRFToken` header for fetch()). The JSON
  API is exempt because it authenticates with bearer tokens only and never
  reads the cookie — nor opens it: /api/ requests get Flask's null session.
- Flask-Login sessions wrapping a staff API token (`backend.web.auth`), so
  expiry, revocation and the audit of sign-ins are the API's own.
- The base layout's context: navigation by role, the live-update helper.

docs/web.md explains how to add a blueprint on top of this.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from backend.web import i18n
from backend.web.auth import install_login
from backend.web.layout import install_layout

csrf = CSRFProtect()

# Endpoints that accept scanned materials; they may send more than the JSON
# API's body limit. Checked before the CSRF hook reads the form.
UPLOAD_ENDPOINTS = {"desk.upload_material", "admin.catalog_import", "admin.staff_photo"}
UPLOAD_LIMIT_BYTES = 12 * 1024 * 1024


class PagesOnlySessionInterface(SecureCookieSessionInterface):
    """The cookie session for pages; none for the JSON API, which authenticates
    every request by its bearer token. Opening and saving an empty cookie session
    cost about 0.05 ms per request (measured in-process), a tenth of a call-next."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return None  # Flask substitutes its null session: readable, never saved
        return super().open_session(app, request)


def init_web(app: Flask) -> None:
    settings = app.extensions["hallkit"].settings
    app.session_interface = PagesOnlySessionInterface()
    app.config.update(
        # The check runs in our own hook below (only outside /api/).
        WTF_CSRF_CHECK_DEFAULT=False,
        # A clerk keeps the console open all day; the token lives as long as the
        # session, whose own expiry is the limit.
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="hallkit_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.staff_session_hours),
    )

    @app.before_request
    def _allow_material_uploads() -> None:
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = UPLOAD_LIMIT_BYTES

    csrf.init_app(app)

    @app.before_request
    def _csrf_outside_api() -> None:
        if not request.path.startswith("/api/"):
            csrf.protect()

    i18n.install(app)
    install_login(app)
    install_layout(app)

    from backend.web import admin, cases, console, live, mobile, ratings_work, workbench
    from backend.web import performance as performance_pages
    from backend.web import supervision as supervision_pages
    from backend.web.auth import blueprint as auth_blueprint

    for blueprint in (
        auth_blueprint,
        console.blueprint,
        cases.blueprint,
        workbench.blueprint,
        live.blueprint,
        mobile.blueprint,
        admin.blueprint,
        supervision_pages.blueprint,
        performance_pages.blueprint,
        ratings_work.blueprint,
    ):
        app.register_blueprint(blueprint)
