"""The base layout's shared parts: navigation by role, error pages, template helpers.

Other areas add their pages to the navigation with `add_nav(...)` when their
blueprint module is imported, and make their blueprint show domain errors as
pages (not JSON) with `page_errors(blueprint)`:

    blueprint = Blueprint("supervision", __name__, url_prefix="/supervision")
    page_errors(blueprint)
    add_nav("supervision.index", _l("电子监察"), roles=(Role.SUPERVISOR,), order=40)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from flask import (
    Blueprint,
    Flask,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from backend.api.errors import audit_refusal
from backend.errors import DomainError
from backend.models import Role
from hallbus.localtime import UnknownTimeZone, format_local, hall_zone

FRAGMENT_HEADER = "X-Hallkit-Fragment"


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy string
    roles: tuple[Role, ...]  # empty = every signed-in staff member
    order: int
    needs_window: bool = False


NAV: list[NavItem] = []


def add_nav(
    endpoint: str,
    label: Any,
    *,
    roles: tuple[Role, ...] = (),
    order: int = 50,
    needs_window: bool = False,
) -> None:
    if any(item.endpoint == endpoint for item in NAV):
        return
    NAV.append(NavItem(endpoint, label, roles, order, needs_window))
    NAV.sort(key=lambda item: item.order)


def wants_fragment() -> bool:
    """fetch() from our scripts asks for the changed part of a page only."""
    return request.headers.get(FRAGMENT_HEADER) == "1"


def page_errors(blueprint: Blueprint, *, fallback_endpoint: str | None = None) -> None:
    """Domain errors become a flash message and a way back, never a JSON body."""

    def _domain(error: DomainError) -> Any:
        if error.refusal:
            audit_refusal(error.message, error.status)
        if wants_fragment():
            return render_template("_error_fragment.html", message=error.message), error.status
        flash(error.message, "error")
        if request.method == "GET":
            return render_template(
                "error.html", status=error.status, message=error.message
            ), error.status
        back = (
            request.referrer
            if request.referrer and request.referrer.startswith(request.host_url)
            else None
        )
        return redirect(back or url_for(fallback_endpoint or "staff.sign_in"))

    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        if status == 403:
            audit_refusal(error.description or "forbidden", status)
        if isinstance(error, CSRFError):
            message = str(_l("页面已过期或来源不明，请刷新后重试"))
        else:
            message = {
                401: str(_l("请先登录")),
                403: str(_l("您的角色无权访问此页面")),
                404: str(_l("没有找到该页面或记录")),
                413: str(_l("文件过大")),
            }.get(status, error.description or "")
        if wants_fragment():
            return render_template("_error_fragment.html", message=message), status
        return render_template("error.html", status=status, message=message), status

    blueprint.register_error_handler(DomainError, _domain)
    blueprint.register_error_handler(HTTPException, _http)


def use_hall_zone(timezone: str | None) -> None:
    """This request shows times in this hall's zone (a page that is about one hall:
    the admin page of the selected hall, a phone page, a slip)."""
    try:
        g.hall_zone = hall_zone(timezone)
    except UnknownTimeZone:
        g.hall_zone = hall_zone(None)


def page_zone() -> tzinfo:
    """The zone the page's times are shown in: the hall the page is about, else the
    signed-in staff member's hall, else the district's."""
    if not has_request_context():
        return hall_zone(None)
    zone: tzinfo | None = g.get("hall_zone")
    if zone is None:
        zone = _staff_hall_zone()
        g.hall_zone = zone
    return zone


def _staff_hall_zone() -> tzinfo:
    from flask import current_app
    from sqlalchemy import select

    from backend.models import Hall

    if not current_user or not current_user.is_authenticated:
        return hall_zone(None)
    hall_id = current_user.principal.hall_id
    if hall_id is None:
        return hall_zone(None)
    with current_app.extensions["hallkit"].db.reading() as session:
        name = session.execute(select(Hall.timezone).where(Hall.id == hall_id)).scalar()
    try:
        return hall_zone(name)
    except UnknownTimeZone:
        return hall_zone(None)


def local_time(value: datetime | None, pattern: str = "%H:%M") -> str:
    if value is None:
        return ""
    return format_local(value, page_zone(), pattern)


def local_datetime(value: datetime | None) -> str:
    return local_time(value, "%Y-%m-%d %H:%M")


def iso_local(value: str) -> str:
    """An ISO timestamp from a service view, shown in hall time."""
    try:
        return local_datetime(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return value


def iso_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def _nav_for_user() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    principal = current_user.principal
    items = []
    for item in NAV:
        if item.roles and not principal.has_role(*item.roles):
            continue
        if item.needs_window and principal.window_id is None:
            continue
        items.append(item)
    return items


def install_layout(app: Flask) -> None:
    from backend.web.i18n import LANGUAGES, current_language

    def template_context() -> dict[str, Any]:
        return {
            "nav_items": _nav_for_user(),
            "languages": LANGUAGES,
            "current_language": current_language() if request else "zh_CN",
            "Role": Role,
        }

    app.context_processor(template_context)
    from backend.web.live import live_cursor

    app.jinja_env.globals["live_cursor"] = live_cursor
    filters: dict[str, Callable[..., str]] = {
        "hm": local_time,
        "dt": local_datetime,
        "isodate": iso_date,
        "isolocal": iso_local,
    }
    app.jinja_env.filters.update(filters)

    @app.after_request
    def _page_headers(response: Any) -> Any:
        if not request.path.startswith(("/api/", "/static/")):
            # Staff pages show personal data: never cache them in a shared browser.
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/")
    def _root() -> Any:
        if current_user.is_authenticated:
            if current_user.principal.window_id is not None:
                return redirect(url_for("console.index"))
            return redirect(url_for("workbench.index"))
        return redirect(url_for("staff.sign_in"))
