"""Staff sign-in for the pages, and the decorators every staff page uses.

A page session wraps a staff API token from `services.staff.sign_in`: the same
Argon2id check and lockout, the same expiry (`staff_session_hours`), the same
audit entry, and signing out revokes the token. The session cookie is signed
and HttpOnly; the token in it is resolved through the app's token cache on
every request, so an expired or revoked token ends the page session too.

Decorators for blueprints:

    @blueprint.get("/something")
    @staff_required(Role.CLERK, Role.DEPARTMENT_LEAD)   # any of these roles
    def view() -> str: ...

    user = current_staff()   # the signed-in StaffUser (principal, name, window)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from backend.errors import BadInput, DomainError, NotAuthenticated
from backend.models import Hall, HallKind, Role, WindowState
from backend.services import auth as auth_service
from backend.services import queue as queue_service
from backend.services.access import Access, Resource, permitted
from backend.services.auth import Principal
from backend.web.layout import page_errors

blueprint = Blueprint("staff", __name__, url_prefix="/staff")
page_errors(blueprint)
login_manager = LoginManager()

View = TypeVar("View", bound=Callable[..., Any])

ROLE_LABELS = {
    Role.CLERK.value: _l("窗口人员"),
    Role.DEPARTMENT_LEAD.value: _l("部门首席代表"),
    Role.SUPERVISOR.value: _l("电子监察"),
    Role.ADMINISTRATOR.value: _l("系统管理员"),
}


@dataclass
class StaffUser(UserMixin):  # type: ignore[misc]
    """The signed-in staff member as the pages see them."""

    token: str
    principal: Principal
    name: str
    employee_no: str
    hall_code: str | None
    window_number: str | None

    def get_id(self) -> str:
        return self.token

    @property
    def staff_id(self) -> int:
        assert self.principal.staff_id is not None
        return self.principal.staff_id

    def has_role(self, *roles: Role) -> bool:
        return self.principal.has_role(*roles)

    @property
    def is_read_only(self) -> bool:
        """监察 sees everything and changes nothing."""
        return self.has_role(Role.SUPERVISOR) and not self.has_role(
            Role.ADMINISTRATOR, Role.CLERK, Role.DEPARTMENT_LEAD
        )

    @property
    def role_labels(self) -> list[str]:
        return [str(ROLE_LABELS[r]) for r in sorted(self.principal.roles) if r in ROLE_LABELS]


def current_staff() -> StaffUser:
    if not current_user.is_authenticated:
        abort(401)
    return cast(StaffUser, current_user._get_current_object())


def staff_required(*roles: Role) -> Callable[[View], View]:
    """Signed in, and (when roles are given) holding at least one of them."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_staff().has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return cast(View, wrapper)

    return decorate


def permission_required(resource: Resource, kind: Access) -> Callable[[View], View]:
    """Signed in, and allowed by the rule the API applies too (backend.services.access)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not permitted(current_staff().principal, resource, kind):
                abort(403)
            return view(*args, **kwargs)

        return cast(View, wrapper)

    return decorate


def window_required(view: View) -> View:
    """Pages that act for a window (the console) need a window sign-in."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        user = current_staff()
        if user.principal.window_id is None:
            flash(_("请在窗口签到后使用叫号台"), "warning")
            return redirect(url_for("staff.sign_in", next=request.path))
        return view(*args, **kwargs)

    return cast(View, wrapper)


def _load_user(token: str) -> StaffUser | None:
    extension = current_app.extensions["hallkit"]
    try:
        principal = extension.tokens.resolve(extension.db.reading, token, extension.clock())
    except NotAuthenticated:
        session.pop("staff", None)
        return None
    if principal.kind != "staff":
        return None
    shown: dict[str, Any] = session.get("staff") or {}
    return StaffUser(
        token=token,
        principal=principal,
        name=str(shown.get("name", "")),
        employee_no=str(shown.get("employee_no", "")),
        hall_code=shown.get("hall"),
        window_number=shown.get("window"),
    )


def install_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "staff.sign_in"
    login_manager.login_message = _l("请先登录")
    login_manager.login_message_category = "info"
    # A new session id after sign-in is handled by login_user; "strong" would also
    # end the session when a clerk's address changes on the hall's DHCP, which
    # happens, so the token expiry is the guard instead.
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)


class SignInForm(FlaskForm):  # type: ignore[misc]
    employee_no = StringField(_l("工号"), validators=[DataRequired(), Length(max=32)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])
    hall = SelectField(_l("大厅"), validators=[DataRequired()])
    window = StringField(_l("窗口号（在窗口办理时填写）"), validators=[Optional(), Length(max=16)])


def _safe_next(target: str | None) -> str | None:
    # Only paths on this site: an open redirect would make a phishing link look ours.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _home_for(user: StaffUser) -> str:
    if user.principal.window_id is not None:
        return url_for("console.index")
    return url_for("workbench.index")


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    extension = current_app.extensions["hallkit"]
    form = SignInForm()
    with extension.db.reading() as db_session:
        halls = db_session.execute(select(Hall.code, Hall.name, Hall.kind).order_by(Hall.id)).all()
    form.hall.choices = [(code, name) for code, name, kind in halls if kind is not HallKind.STATION]
    form.hall.choices += [(code, name) for code, name, kind in halls if kind is HallKind.STATION]
    if request.method == "GET":
        form.hall.data = form.hall.data or request.args.get("hall") or "BH"
        form.window.data = form.window.data or request.args.get("window", "")
    if form.validate_on_submit():
        user = _sign_in(form)
        if user is not None:
            return redirect(_safe_next(request.args.get("next")) or _home_for(user))
    return render_template("auth/sign_in.html", form=form)


def _sign_in(form: SignInForm) -> StaffUser | None:
    extension = current_app.extensions["hallkit"]
    now = extension.clock()
    window_number = (form.window.data or "").strip() or None
    refused: DomainError | None = None
    # A refused password must still be committed: the failure count and lockout
    # live in the same transaction as the check.
    with extension.db.writing() as db_session:
        hall = db_session.execute(
            select(Hall).where(Hall.code == form.hall.data)
        ).scalar_one_or_none()
        if hall is None:
            raise BadInput(_("大厅不存在"))
        try:
            token, staff, window = auth_service.sign_in(
                db_session,
                employee_no=form.employee_no.data.strip(),
                password=form.password.data,
                window_number=window_number,
                hall_id=hall.id,
                now=now,
                ttl=timedelta(hours=extension.settings.staff_session_hours),
            )
        except (NotAuthenticated, BadInput) as error:
            refused = error
        else:
            if window is not None and window.state is not WindowState.OPEN:
                queue_service.set_window_state(
                    db_session,
                    window_id=window.id,
                    state=WindowState.OPEN,
                    now=now,
                    actor=f"staff:{staff.employee_no}",
                    staff_id=staff.id,
                )
            elif window is not None:
                window.signed_in_staff_id = staff.id
            shown = {
                "name": staff.name,
                "employee_no": staff.employee_no,
                "hall": hall.code,
                "window": window.number if window else None,
            }
    if refused is not None:
        flash(refused.message, "error")
        return None
    session.clear()
    session.permanent = True
    session["staff"] = shown
    user = _load_user(token)
    if user is None:  # pragma: no cover - the token was made a moment ago
        return None
    login_user(user)
    return user


@blueprint.post("/sign-out")
@staff_required()
def sign_out() -> Response:
    user = current_staff()
    extension = current_app.extensions["hallkit"]
    now = extension.clock()
    with extension.db.writing() as db_session:
        if user.principal.window_id is not None and request.form.get("close_window"):
            try:
                queue_service.set_window_state(
                    db_session,
                    window_id=user.principal.window_id,
                    state=WindowState.CLOSED,
                    now=now,
                    actor=user.principal.label,
                )
            except DomainError as error:
                flash(error.message, "error")
                return redirect(url_for("console.index"))
        auth_service.revoke(db_session, user.token)
        from backend.services.audit import record

        record(db_session, user.principal.label, "staff.sign_out", "staff", user.staff_id, {})
    extension.tokens.clear()
    logout_user()
    session.clear()
    flash(_("已退出登录"), "info")
    return redirect(url_for("staff.sign_in"))
