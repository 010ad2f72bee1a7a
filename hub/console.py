"""The hub's window console: a small web page per hall for calling while the centre is away.

When the backend cannot be reached (or is still being told what happened offline), the
clerks of the hall keep calling from this page, served by the hub on the hall network
(`HubConfig.console`). It talks only to the hub's `WindowDesk` (hub/window_desk.py):
the desk decides, the page shows and forwards key presses. Exactly one side decides
at a time, so while the hall is **online** every page redirects (302) to the backend's
console and every action is refused (409 `use_backend_console`).

Sign-in is verified here, offline: employee number + password against the clerk's
Argon2id verifier from the hub's offline snapshot (never a password); a clerk missing
from the snapshot (deactivated, post removed) cannot sign in and an open session ends
at its next request. Five wrong passwords lock the employee number for a minute
(in memory: the hub is one process; a restart forgetting the count is acceptable,
the centre keeps the real lockout).

Layout: this module, templates in hub/console_templates/, scripts and styles in
hub/console_static/. A flat module (not a package `hub/console/`) because the hub's
other parts are flat modules and `hub.console` is the name the contract gives; the two
directories are plain data next to it (pyproject's package-data lists them).
The hub is deployed alone: nothing here imports or reads backend code or files. The
keyboard map mirrors backend/templates/console/_panel.html (tests/hub/test_console.py
compares the two templates).

JSON API (used by the page and by tests); every POST needs the header
`X-Requested-With: hub-console` (a custom header cannot be sent cross-site without a
CORS preflight, which this app never grants) and a JSON object body:
- POST /console/api/sign-in {"employee_no", "password", "window"?}
- POST /console/api/sign-out
- GET  /console/api/state
- POST /console/api/action {"action", "target_window"?, "reason"?}
- GET  /console/mode -> {"mode", "pending"} with `Access-Control-Allow-Origin: *`
  (the backend console's page asks it from the clerk's browser).
Errors are `{"error": {"code", "message"}}`; bad input is 400 and changes nothing;
every refusal is logged with a reason, never with a password or a name.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, Response, jsonify, redirect, render_template, request, session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from hub.window_desk import (
    Clerk,
    DeskAction,
    DeskRefused,
    FrontEndDesk,
    HallMode,
    WindowView,
)

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
TEMPLATES = _HERE / "console_templates"
STATIC = _HERE / "console_static"

# The header every POST must carry (see the module docstring: CSRF defence).
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "hub-console"

SIGN_IN_LIMIT = 5  # wrong passwords in a row before the employee number is locked
LOCK_SECONDS = 60.0
SESSION_HOURS = 12  # a working day; the clerk signs in again the next morning
POLL_MS = 2000  # how often the page asks for the state (and notices "online")

_EMPLOYEE_NO = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_WINDOW = re.compile(r"^[0-9A-Za-z-]{1,8}$")  # hallbus.config.WindowNumber
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_PASSWORD = 256
MAX_REASON = 200

# Reasons offered by the pause dialog: the backend console's list (backend/web/console.py
# PAUSE_REASONS), so a clerk sees the same choices on both consoles.
PAUSE_REASONS = ("临时离开", "业务咨询", "会议", "系统故障", "午间轮换", "其他")

WINDOW_STATES = {
    "open": "服务中 / Open",
    "paused": "暂停服务 / Paused",
    "resting": "休息 / Resting",
    "closed": "未开放 / Closed",
}
TICKET_STATES = {"called": "已呼叫 / Called", "serving": "办理中 / Serving"}

OFFLINE_TEXT = (
    "离线：中心系统暂时无法连接，本厅由大厅控制器叫号 / "
    "Offline: the centre cannot be reached; the hall hub is calling"
)
REPLAYING_TEXT = (
    "补录中：正在补录离线期间的业务，还有 {n} 条 / "
    "Replaying: sending what was done offline, {n} items left"
)


class BadInput(Exception):
    """A request the console refuses before it reaches the desk (answered 400)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class SignInThrottle:
    """Wrong passwords per employee number: `limit` in a row lock it for `lock_s` seconds.

    In memory and bounded (`max_entries`, oldest forgotten first), so guessing numbers
    cannot grow the hub's memory. Thread-safe: the server answers on several threads.
    """

    def __init__(
        self,
        *,
        limit: int = SIGN_IN_LIMIT,
        lock_s: float = LOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.limit = limit
        self.lock_s = lock_s
        self._clock = clock
        self._max = max_entries
        self._lock = threading.Lock()
        # key -> (failures in a row, locked until (clock) or 0.0)
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    @staticmethod
    def _key(employee_no: str) -> str:
        return employee_no.upper()  # "bh0101" must not get five more tries than "BH0101"

    def locked_for(self, employee_no: str) -> float:
        """Seconds the number stays locked (0.0: not locked)."""
        key = self._key(employee_no)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] == 0.0:
                return 0.0
            left = entry[1] - self._clock()
            if left > 0:
                return left
            del self._entries[key]  # the minute is over: a fresh start
            return 0.0

    def failed(self, employee_no: str) -> bool:
        """Count a wrong password; True if the number is now locked."""
        key = self._key(employee_no)
        with self._lock:
            count = self._entries.pop(key, (0, 0.0))[0] + 1
            until = self._clock() + self.lock_s if count >= self.limit else 0.0
            self._entries[key] = (count, until)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return until > 0.0

    def succeeded(self, employee_no: str) -> None:
        with self._lock:
            self._entries.pop(self._key(employee_no), None)


def _fingerprint(verifier: str) -> str:
    # Kept in the session so a password changed at the centre (a new verifier in the next
    # snapshot) ends the sessions opened with the old one.
    return hashlib.sha256(verifier.encode("utf-8")).hexdigest()[:16]


def banner_text(mode: HallMode, pending: int) -> str:
    if mode is HallMode.OFFLINE:
        return OFFLINE_TEXT
    if mode is HallMode.REPLAYING:
        return REPLAYING_TEXT.format(n=pending)
    return ""


def enabled_actions(view: WindowView) -> dict[str, bool]:
    """Which buttons can act now: the backend console's rules (console/_panel.html).

    Only a hint for the page; the desk still decides (and refuses with a reason).
    """
    open_ = view.state == "open"
    called = view.current is not None and view.current_state == "called"
    current = view.current is not None
    return {
        DeskAction.CALL.value: open_,
        DeskAction.RECALL.value: called,
        DeskAction.START.value: called,
        DeskAction.FINISH.value: current,
        DeskAction.NO_SHOW.value: called,
        DeskAction.INVITE_RATING.value: current or view.served > 0,
        DeskAction.PAUSE.value: open_,
        DeskAction.RESUME.value: view.state in ("paused", "resting"),
        DeskAction.TRANSFER.value: current,
    }


def view_json(view: WindowView) -> dict[str, Any]:
    return {
        "window": view.window,
        "name": view.name,
        "state": view.state,
        "state_label": WINDOW_STATES.get(view.state, view.state),
        "current": view.current,
        "current_state": view.current_state,
        "current_state_label": TICKET_STATES.get(view.current_state or "", ""),
        "recall_count": view.recall_count,
        "recall_limit": view.recall_limit,
        "waiting": view.waiting,
        "next_up": list(view.next_up),
        "served": view.served,
        "mode": view.mode.value,
        "enabled": enabled_actions(view),
    }


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def _text(value: Any, field: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{field} 必须是文字 / {field} must be a string")
    text = str(value).strip()
    if pattern is not None and not pattern.fullmatch(text):
        raise BadInput(f"{field} 格式不对 / {field} is not valid")
    return text


def _optional(value: Any, field: str, *, pattern: re.Pattern[str]) -> str | None:
    if value is None or value == "":
        return None
    return _text(value, field, pattern=pattern)


def _reason(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value, "reason")
    if len(text) > MAX_REASON or _CONTROL.search(text):
        raise BadInput(
            f"原因最多 {MAX_REASON} 字，不能含控制字符 / "
            f"reason: at most {MAX_REASON} characters, no control characters"
        )
    return text or None


def _json_object(allowed: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("请求内容必须是 JSON 对象 / the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadInput(
            f"不认识的字段 / unknown fields: {', '.join(unknown)[:100]}", fields=unknown[:10]
        )
    return body


def create_console_app(
    desk: FrontEndDesk,
    *,
    secret_key: str | bytes,
    pending: Callable[[], int] | None = None,
    throttle: SignInThrottle | None = None,
    hasher: PasswordHasher | None = None,
    poll_ms: int = POLL_MS,
) -> Flask:
    """The console's Flask app.

    `pending`: how many outbox entries are still to be replayed (the banner's N and
    `/console/mode`); without it the desk's own `pending()` is used if it has one.
    `throttle`: the sign-in lockout (tests pass one with a fake clock).
    `hasher`: verifies the clerks' verifiers (whatever parameters each names) and makes
    the decoy verifier for unknown numbers; its parameters set how long a refusal takes.
    `poll_ms`: the page's state poll (browser tests shorten it).
    """
    app = Flask(
        "hub.console",
        root_path=str(_HERE),
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        static_url_path="/console/static",
    )
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="hub_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # The hall network is plain http; a Secure cookie would never be sent back.
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # 12 hours from sign-in, not from the last poll (the page polls every 2 s).
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese messages as text
    limits = throttle or SignInThrottle()
    argon = hasher or PasswordHasher()
    # Verified when the number is unknown, so a wrong number takes as long as a wrong
    # password (the answer does not tell which numbers are clerks of this hall).
    dummy_verifier = argon.hash(secrets.token_hex(16))
    desk_pending: Any = getattr(desk, "pending", None)
    count_pending: Callable[[], int] = pending or (
        desk_pending if callable(desk_pending) else (lambda: 0)
    )

    def mode_and_pending() -> tuple[HallMode, int]:
        mode = desk.mode()
        try:
            n = max(0, int(count_pending()))
        except Exception:  # a broken counter must not take the console down
            log.exception("console: pending count failed")
            n = 0
        return mode, n

    def end_session(reason: str, employee_no: str | None) -> None:
        session.clear()
        log.info("console session ended: %s (employee %s)", reason, employee_no)

    def signed_in() -> tuple[Clerk, str] | None:
        """The session's clerk and window, re-checked against the desk on every request."""
        employee_no = session.get("emp")
        window = session.get("win")
        if not isinstance(employee_no, str) or not isinstance(window, str):
            return None
        clerk = desk.clerk(employee_no)
        if clerk is None:
            end_session("clerk unknown or revoked", employee_no)
            return None
        if session.get("fp") != _fingerprint(clerk.verifier):
            end_session("password changed at the centre", employee_no)
            return None
        if window not in clerk.windows:
            end_session(f"window {window} no longer the clerk's", employee_no)
            return None
        return clerk, window

    def state_json(clerk: Clerk, window: str) -> dict[str, Any]:
        mode, n = mode_and_pending()
        view = desk.view(window)
        return {
            "mode": mode.value,
            "pending": n,
            "banner": banner_text(mode, n),
            "clerk": {"employee_no": clerk.employee_no, "name": clerk.name},
            "window": view_json(view),
            "other_windows": [w for w in desk.windows() if w != window],
        }

    def csrf_refused() -> Response | None:
        if request.headers.get(CSRF_HEADER) == CSRF_VALUE:
            return None
        log.info(
            "console refused %s %s: missing %s header", request.method, request.path, CSRF_HEADER
        )
        return _error(
            403,
            "csrf",
            "请求缺少控制台标记，请刷新页面后重试 / the request lacks the console's "
            "header; reload the page and try again",
        )

    def use_backend(what: str) -> Response:
        log.info("console refused %s: the hall is online, the backend console decides", what)
        return _error(
            409,
            "use_backend_console",
            "中心系统已恢复，请使用中心叫号台 / the centre is back; use the backend console",
            redirect=desk.backend_console_url(),
        )

    def not_signed_in() -> Response:
        return _error(401, "not_signed_in", "请先登录 / please sign in", sign_in="/console/sign-in")

    @app.after_request
    def headers(response: Response) -> Response:
        # Everything the page needs is served by the hub itself: no CDN, no inline script.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/console/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    # ------------------------------------------------------------------------ pages

    def page_context(mode: HallMode, n: int) -> dict[str, Any]:
        return {
            "mode": mode.value,
            "pending": n,
            "banner": banner_text(mode, n),
            "offline_text": OFFLINE_TEXT,
            "replaying_text": REPLAYING_TEXT,
            "poll_ms": poll_ms,
        }

    @app.get("/")
    def root() -> Any:
        return redirect("/console/")

    @app.get("/console")
    @app.get("/console/")
    def panel() -> Any:
        mode, n = mode_and_pending()
        if mode is HallMode.ONLINE:
            return redirect(desk.backend_console_url(), 302)
        who = signed_in()
        if who is None:
            return redirect("/console/sign-in")
        clerk, window = who
        try:
            state = state_json(clerk, window)
        except DeskRefused as refused:
            end_session(f"window {window}: {refused.code}", clerk.employee_no)
            return redirect("/console/sign-in")
        return render_template(
            "panel.html",
            state=state,
            view=state["window"],
            pause_reasons=PAUSE_REASONS,
            **page_context(mode, n),
        )

    @app.get("/console/sign-in")
    def sign_in_page() -> Any:
        mode, n = mode_and_pending()
        if mode is HallMode.ONLINE:
            return redirect(desk.backend_console_url(), 302)
        if signed_in() is not None:
            return redirect("/console/")
        return render_template("sign_in.html", windows=desk.windows(), **page_context(mode, n))

    @app.get("/console/mode")
    def mode_endpoint() -> Response:
        mode, n = mode_and_pending()
        response = jsonify({"mode": mode.value, "pending": n})
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    # ------------------------------------------------------------------------ API

    @app.post("/console/api/sign-in")
    def api_sign_in() -> Response:
        refused = csrf_refused()
        if refused is not None:
            return refused
        if desk.mode() is HallMode.ONLINE:
            return use_backend("sign-in")
        try:
            body = _json_object({"employee_no", "password", "window"})
            employee_no = _text(body.get("employee_no"), "employee_no", pattern=_EMPLOYEE_NO)
            password = body.get("password")
            if not isinstance(password, str) or not 0 < len(password) <= MAX_PASSWORD:
                raise BadInput("请输入密码 / enter the password")
            window = _optional(body.get("window"), "window", pattern=_WINDOW)
        except BadInput as bad:
            log.info("console sign-in refused: bad input (%s)", bad.message)
            return _error(400, "bad_request", bad.message, **bad.extra)

        left = limits.locked_for(employee_no)
        if left > 0:
            log.info("console sign-in refused: locked (employee %s)", employee_no)
            response = _error(
                429,
                "locked",
                f"密码错误次数过多，请 {int(left) + 1} 秒后再试 / too many wrong passwords; "
                f"try again in {int(left) + 1} s",
            )
            response.headers["Retry-After"] = str(int(left) + 1)
            return response

        clerk = desk.clerk(employee_no)
        reason = None
        try:
            argon.verify(clerk.verifier if clerk is not None else dummy_verifier, password)
            if clerk is None:  # pragma: no cover - the dummy's password is random
                reason = "unknown or revoked clerk"
        except VerifyMismatchError:
            reason = "unknown or revoked clerk" if clerk is None else "wrong password"
        except (InvalidHashError, VerificationError):
            reason = "unusable verifier in the snapshot"
        if reason is not None or clerk is None:
            now_locked = limits.failed(employee_no)
            log.info(
                "console sign-in refused: %s (employee %s)%s",
                reason,
                employee_no,
                "; locked for a minute" if now_locked else "",
            )
            return _error(
                401, "bad_credentials", "工号或密码错误 / wrong employee number or password"
            )

        limits.succeeded(employee_no)
        if window is None:
            if len(clerk.windows) != 1:
                log.info("console sign-in needs a window choice (employee %s)", employee_no)
                return _error(
                    400,
                    "choose_window",
                    "请选择窗口 / choose your window",
                    windows=list(clerk.windows),
                )
            window = clerk.windows[0]
        if window not in clerk.windows or window not in desk.windows():
            log.info(
                "console sign-in refused: window %s not the clerk's (employee %s)",
                window,
                employee_no,
            )
            return _error(
                403,
                "not_your_window",
                f"您没有 {window} 号窗口的岗位 / you have no post at window {window}",
                windows=list(clerk.windows),
            )
        # The hub's desk records who works at the window (its display shows them, and
        # signing in opens a closed window, as at the backend console). Not part of the
        # contract's interface, so optional.
        desk_sign_in: Any = getattr(desk, "sign_in", None)
        if callable(desk_sign_in):
            try:
                desk_sign_in(window, clerk.employee_no)
            except DeskRefused as no:
                log.info(
                    "console sign-in refused by the desk at window %s: %s (employee %s)",
                    window,
                    no.code,
                    employee_no,
                )
                if no.code == "use_backend_console":
                    return use_backend("sign-in")
                return _error(409, no.code, no.message)
        session.clear()
        session.permanent = True
        session["emp"] = clerk.employee_no
        session["win"] = window
        session["fp"] = _fingerprint(clerk.verifier)
        log.info("console sign-in: employee %s at window %s", clerk.employee_no, window)
        return jsonify({"ok": True, "window": window, "next": "/console/"})

    @app.post("/console/api/sign-out")
    def api_sign_out() -> Response:
        refused = csrf_refused()
        if refused is not None:
            return refused
        employee_no = session.get("emp")
        session.clear()
        if employee_no:
            log.info("console sign-out: employee %s", employee_no)
        return jsonify({"ok": True, "next": "/console/sign-in"})

    @app.get("/console/api/state")
    def api_state() -> Response:
        mode, n = mode_and_pending()
        if mode is HallMode.ONLINE:
            # Not a 302: fetch() would follow it cross-origin; the page navigates itself.
            return jsonify(
                {"mode": mode.value, "pending": n, "redirect": desk.backend_console_url()}
            )
        who = signed_in()
        if who is None:
            return not_signed_in()
        clerk, window = who
        try:
            return jsonify(state_json(clerk, window))
        except DeskRefused as refused:
            end_session(f"window {window}: {refused.code}", clerk.employee_no)
            return not_signed_in()

    @app.post("/console/api/action")
    def api_action() -> Response:
        refused = csrf_refused()
        if refused is not None:
            return refused
        if desk.mode() is HallMode.ONLINE:
            return use_backend("a window action")
        who = signed_in()
        if who is None:
            log.info("console action refused: not signed in")
            return not_signed_in()
        clerk, window = who
        try:
            body = _json_object({"action", "target_window", "reason"})
            raw = body.get("action")
            try:
                action = DeskAction(raw if isinstance(raw, str) else "")
            except ValueError:
                raise BadInput(
                    "不认识的操作 / unknown action",
                    actions=[a.value for a in DeskAction],
                ) from None
            target = _optional(body.get("target_window"), "target_window", pattern=_WINDOW)
            reason = _reason(body.get("reason"))
            if action is DeskAction.TRANSFER:
                if target is None:
                    raise BadInput("请选择转移到的窗口 / choose the window to transfer to")
                if target == window:
                    raise BadInput("不能转移到本窗口 / cannot transfer to this same window")
                if target not in desk.windows():
                    raise BadInput(f"没有 {target} 号窗口 / there is no window {target}")
            elif target is not None:
                raise BadInput("只有转移需要目标窗口 / only transfer takes target_window")
            if reason is not None and action not in (DeskAction.PAUSE, DeskAction.TRANSFER):
                raise BadInput("只有暂停和转移可填原因 / only pause and transfer take a reason")
        except BadInput as bad:
            log.info("console action refused at window %s: bad input (%s)", window, bad.message)
            return _error(400, "bad_request", bad.message, **bad.extra)
        try:
            result = desk.act(
                window,
                action,
                employee_no=clerk.employee_no,
                via="hub_console",
                target_window=target,
                reason=reason,
            )
        except DeskRefused as no:
            log.info(
                "console %s at window %s refused by the desk: %s", action.value, window, no.code
            )
            if no.code == "use_backend_console":
                return use_backend("a window action")
            return _error(409, no.code, no.message)
        mode, n = mode_and_pending()
        return jsonify(
            {
                "ok": result.ok,
                "ticket": result.ticket,
                "message": result.message,
                "window": view_json(result.view),
                "mode": mode.value,
                "pending": n,
                "banner": banner_text(mode, n),
            }
        )

    return app


class _QuietHandler(WSGIRequestHandler):
    """Request lines at DEBUG: every open page polls every 2 s, which would bury the
    hub's log at INFO. Refusals are logged by the app itself, with their reason."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("console %s %s", self.requestline, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        getattr(log, "debug" if type == "info" else type, log.warning)(
            "console server: " + message, *args
        )


class HubConsoleServer:
    """Serves the console app with werkzeug on a thread, bound to (host, port).

    The socket is bound in the constructor (port 0 picks a free one, see `port`), so a
    taken port fails at start-up, not later. `secret_key` signs the session cookie;
    without one a random key is drawn, which signs every clerk out when the hub
    restarts (acceptable: they sign in again with the same password).
    """

    def __init__(
        self,
        desk: FrontEndDesk,
        *,
        host: str,
        port: int,
        secret_key: str | bytes | None = None,
        pending: Callable[[], int] | None = None,
        throttle: SignInThrottle | None = None,
        hasher: PasswordHasher | None = None,
        poll_ms: int = POLL_MS,
    ) -> None:
        self.app = create_console_app(
            desk,
            secret_key=secret_key if secret_key is not None else secrets.token_bytes(32),
            pending=pending,
            throttle=throttle,
            hasher=hasher,
            poll_ms=poll_ms,
        )
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, self.app, threaded=True, request_handler=_QuietHandler
            )
        except SystemExit:
            # werkzeug exits the process when it cannot bind (it is written for
            # `flask run`); the hub must report it as a start-up error instead.
            raise OSError(f"the hub console cannot listen on {host}:{port}") from None
        # threaded=True: a ThreadedWSGIServer, whose request threads are daemons already.
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="hub-console", daemon=True
        )
        self._started = False

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """The console page's address (what the hub reports as `console_url`)."""
        return f"http://{self.host}:{self.port}/console"

    def start(self) -> None:
        self._thread.start()
        self._started = True
        log.info("hub console on %s", self.url)

    def stop(self) -> None:
        if self._started:
            self._server.shutdown()
            self._thread.join(5)
            self._started = False
        self._server.server_close()
