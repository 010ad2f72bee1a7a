"""The hub's window console (hub/console.py): the web layer against an in-memory desk.

The desk here is tests/hub/console_desk.MemoryDesk (the real WindowDesk is tested with
the hub elsewhere). The last tests drive the page in Debian's Chromium against a real
HubConsoleServer on a free loopback port and write the console's screenshots.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from backend.web.testing import CHROMIUM, CHROMIUM_ARGS
from hub.console import (
    CSRF_HEADER,
    CSRF_VALUE,
    OFFLINE_TEXT,
    HubConsoleServer,
    SignInThrottle,
    create_console_app,
)
from hub.window_desk import DeskAction, DeskRefused, HallMode
from tests.hub.console_desk import BACKEND_CONSOLE, FAST_HASHER, PASSWORD, Call, MemoryDesk

ROOT = Path(__file__).resolve().parents[2]
CSRF = {CSRF_HEADER: CSRF_VALUE}
NAME = "张三丰"  # a clerk's name: shown to the clerk, never logged


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def desk() -> MemoryDesk:
    desk = MemoryDesk()
    desk.add_clerk("BH0101", NAME, ("1", "2"))
    desk.add_clerk("BH0102", "李四", ("3",))
    desk.waiting = ["A001", "A002", "A003", "B001"]
    return desk


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def console_app(desk: MemoryDesk, monotonic: FakeMonotonic) -> Flask:
    return create_console_app(
        desk, secret_key="test-secret", throttle=SignInThrottle(clock=monotonic), hasher=FAST_HASHER
    )


@pytest.fixture
def web(console_app: Flask) -> FlaskClient:
    return console_app.test_client()


def post(web: FlaskClient, path: str, body: Any = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return web.post(
        path, json=body if body is not None else {}, headers=CSRF if headers is None else headers
    )


def sign_in(
    web: FlaskClient,
    employee_no: str = "BH0101",
    window: str | None = "2",
    password: str = PASSWORD,
):  # type: ignore[no-untyped-def]
    return post(
        web,
        "/console/api/sign-in",
        {"employee_no": employee_no, "password": password, "window": window},
    )


def act(web: FlaskClient, action: str, **extra: Any):  # type: ignore[no-untyped-def]
    return post(web, "/console/api/action", {"action": action, **extra})


# ------------------------------------------------------------------------- sign-in


def test_sign_in_sets_a_strict_http_only_session_for_the_chosen_window(web: FlaskClient) -> None:
    reply = sign_in(web)
    assert reply.status_code == 200, reply.json
    assert reply.json == {"ok": True, "window": "2", "next": "/console/"}
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    state = web.get("/console/api/state")
    assert state.status_code == 200
    assert "Set-Cookie" not in state.headers  # 12 h from sign-in, not slid by each poll
    assert state.json["clerk"] == {"employee_no": "BH0101", "name": NAME}
    assert state.json["window"]["window"] == "2"
    assert state.json["mode"] == "offline"
    assert state.json["other_windows"] == ["1", "3"]


def test_signing_in_tells_the_desk_who_works_at_the_window(
    web: FlaskClient, desk: MemoryDesk
) -> None:
    desk.close("2")
    assert sign_in(web).status_code == 200
    assert desk.sign_ins == [("2", "BH0101")]
    assert _view_of(web)["state"] == "open"  # as at the backend console
    assert desk.calls == []


def test_a_desk_refusing_the_sign_in_refuses_it(web: FlaskClient, desk: MemoryDesk) -> None:
    desk.refuse_next = DeskRefused("unknown_window", "没有 2 号窗口 / no such window")
    reply = sign_in(web)
    assert reply.status_code == 409
    assert reply.json["error"]["code"] == "unknown_window"
    assert web.get("/console/api/state").status_code == 401


def test_a_desk_without_sign_in_is_enough(desk: MemoryDesk) -> None:
    class ContractDesk(MemoryDesk):
        sign_in = None  # type: ignore[assignment]  # only the contract's methods

    bare = ContractDesk()
    bare.clerks = desk.clerks
    web = create_console_app(bare, secret_key="k", hasher=FAST_HASHER).test_client()
    assert sign_in(web).status_code == 200
    assert act(web, "pause").status_code == 200


def test_a_clerk_with_one_window_gets_it_and_two_windows_must_choose(web: FlaskClient) -> None:
    reply = sign_in(web, window=None)
    assert reply.status_code == 400
    assert reply.json["error"]["code"] == "choose_window"
    assert reply.json["error"]["windows"] == ["1", "2"]
    assert web.get("/console/api/state").status_code == 401
    reply = sign_in(web, "BH0102", window=None)
    assert reply.status_code == 200 and reply.json["window"] == "3"


def test_a_window_that_is_not_the_clerks_is_refused(web: FlaskClient) -> None:
    reply = sign_in(web, window="3")
    assert reply.status_code == 403
    assert reply.json["error"]["code"] == "not_your_window"
    assert web.get("/console/api/state").status_code == 401


def test_wrong_password_and_unknown_number_get_the_same_answer_and_log_no_secret(
    web: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.console")
    wrong = sign_in(web, password="not-the-password")
    unknown = sign_in(web, "BH0999", password="not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.json["error"]["code"] == "bad_credentials"
    assert "Set-Cookie" not in wrong.headers
    assert web.get("/console/api/state").status_code == 401
    logged = caplog.text
    assert "wrong password (employee BH0101)" in logged
    assert "unknown or revoked clerk (employee BH0999)" in logged
    assert "not-the-password" not in logged and NAME not in logged and PASSWORD not in logged


def test_five_wrong_passwords_lock_the_number_for_a_minute(
    web: FlaskClient, monotonic: FakeMonotonic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.console")
    for _ in range(5):
        assert sign_in(web, password="guess").status_code == 401
    locked = sign_in(web)  # the right password, but locked
    assert locked.status_code == 429
    assert locked.json["error"]["code"] == "locked"
    assert locked.headers["Retry-After"] == "61"
    assert sign_in(web, "bh0101").status_code == 429  # the lock is not case-sensitive
    assert "locked (employee BH0101)" in caplog.text
    # Another clerk is not affected.
    assert sign_in(web, "BH0102", window=None).status_code == 200
    monotonic.now += 59
    assert sign_in(web).status_code == 429
    monotonic.now += 2
    assert sign_in(web).status_code == 200


def test_four_wrong_then_right_resets_the_count(web: FlaskClient) -> None:
    for _ in range(4):
        sign_in(web, password="guess")
    assert sign_in(web).status_code == 200
    for _ in range(4):
        assert sign_in(web, password="guess").status_code == 401
    assert sign_in(web).status_code == 200


def test_the_lockout_memory_is_bounded(monotonic: FakeMonotonic) -> None:
    throttle = SignInThrottle(clock=monotonic, max_entries=3, limit=1)
    for n in range(5):
        throttle.failed(f"X{n}")
    assert throttle.locked_for("X0") == 0.0  # forgotten, oldest first
    assert throttle.locked_for("X4") == 60.0


def test_a_revoked_clerk_cannot_sign_in(web: FlaskClient, desk: MemoryDesk) -> None:
    desk.revoke("BH0101")
    assert sign_in(web).status_code == 401


def test_revocation_ends_an_open_session_at_the_next_request(
    web: FlaskClient, desk: MemoryDesk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.console")
    assert sign_in(web).status_code == 200
    clerk = desk.clerks["BH0101"]
    desk.revoke("BH0101")
    assert act(web, "call").status_code == 401
    assert desk.calls == []
    assert "session ended: clerk unknown or revoked (employee BH0101)" in caplog.text
    # The session is gone, not merely refused: it does not come back with the clerk.
    desk.clerks["BH0101"] = clerk
    assert web.get("/console/api/state").status_code == 401
    page = web.get("/console/")
    assert page.status_code == 302 and page.headers["Location"] == "/console/sign-in"


def test_a_password_changed_at_the_centre_or_a_lost_post_ends_the_session(
    web: FlaskClient, desk: MemoryDesk
) -> None:
    assert sign_in(web).status_code == 200
    desk.add_clerk("BH0101", NAME, ("1", "2"), password="a-new-password")
    assert web.get("/console/api/state").status_code == 401
    assert sign_in(web, password="a-new-password").status_code == 200
    desk.add_clerk("BH0101", NAME, ("1",), password="a-new-password")  # window 2 post removed
    assert web.get("/console/api/state").status_code == 401


def test_sign_out_ends_the_session(web: FlaskClient) -> None:
    sign_in(web)
    assert post(web, "/console/api/sign-out").json == {"ok": True, "next": "/console/sign-in"}
    assert web.get("/console/api/state").status_code == 401


# ------------------------------------------------------------------------- actions


def _prepare(web: FlaskClient, action: DeskAction) -> None:
    if action in (
        DeskAction.RECALL,
        DeskAction.START,
        DeskAction.FINISH,
        DeskAction.NO_SHOW,
        DeskAction.TRANSFER,
        DeskAction.INVITE_RATING,
    ):
        assert act(web, "call").status_code == 200
    if action is DeskAction.RESUME:
        assert act(web, "pause").status_code == 200


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        (DeskAction.CALL, {}),
        (DeskAction.RECALL, {}),
        (DeskAction.NO_SHOW, {}),
        (DeskAction.START, {}),
        (DeskAction.FINISH, {}),
        (DeskAction.PAUSE, {"reason": "会议"}),
        (DeskAction.PAUSE, {}),
        (DeskAction.RESUME, {}),
        (DeskAction.INVITE_RATING, {}),
        (DeskAction.TRANSFER, {"target_window": "3", "reason": "需要专窗办理"}),
        (DeskAction.TRANSFER, {"target_window": "1"}),
    ],
)
def test_each_action_reaches_the_desk_as_the_signed_in_clerk_at_their_window(
    web: FlaskClient, desk: MemoryDesk, action: DeskAction, extra: dict[str, str]
) -> None:
    sign_in(web)
    _prepare(web, action)
    reply = act(web, action.value, **extra)
    assert reply.status_code == 200, reply.json
    assert desk.calls[-1] == Call(
        "2",
        action,
        "BH0101",
        "hub_console",
        extra.get("target_window"),
        extra.get("reason"),
    )
    assert reply.json["ok"] is True
    assert reply.json["window"] == json.loads(json.dumps(_view_of(web)))


def _view_of(web: FlaskClient) -> dict[str, Any]:
    view: dict[str, Any] = web.get("/console/api/state").json["window"]
    return view


def test_a_call_answers_the_ticket_the_view_and_the_banner(
    web: FlaskClient, desk: MemoryDesk
) -> None:
    desk.pending_count = 2
    sign_in(web)
    reply = act(web, "call")
    assert reply.json["ticket"] == "A001"
    assert reply.json["message"] == "叫号 完成 / call done"
    view = reply.json["window"]
    assert view["current"] == "A001" and view["current_state"] == "called"
    assert view["current_state_label"] == "已呼叫 / Called"
    assert view["waiting"] == 3 and view["next_up"] == ["A002", "A003", "B001"]
    assert view["enabled"]["recall"] is True and view["enabled"]["resume"] is False
    assert reply.json["mode"] == "offline" and reply.json["pending"] == 2
    assert reply.json["banner"] == OFFLINE_TEXT


def test_a_refusal_is_409_with_the_desks_code_and_message(
    web: FlaskClient, desk: MemoryDesk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.console")
    sign_in(web)
    desk.waiting = []
    reply = act(web, "call")
    assert reply.status_code == 409
    assert reply.json == {
        "error": {"code": "nobody_waiting", "message": "暂无等候 / nobody is waiting"}
    }
    assert "console call at window 2 refused by the desk: nobody_waiting" in caplog.text
    desk.refuse_next = DeskRefused("recall_limit", "重呼次数已满 / recall limit reached")
    reply = act(web, "recall")
    assert reply.status_code == 409 and reply.json["error"]["code"] == "recall_limit"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "dance"},
        {"action": None},
        {},
        {"action": "call", "extra": 1},
        {"action": "transfer"},
        {"action": "transfer", "target_window": "2"},  # its own window
        {"action": "transfer", "target_window": "9"},  # no such window
        {"action": "transfer", "target_window": "1; DROP"},
        {"action": "call", "target_window": "3"},
        {"action": "call", "reason": "why not"},
        {"action": "pause", "reason": "x" * 201},
        {"action": "pause", "reason": "bad\x07bell"},
        {"action": "pause", "reason": 12},
        ["call"],
        "call",
    ],
)
def test_bad_input_is_400_and_changes_nothing(
    web: FlaskClient, desk: MemoryDesk, body: Any
) -> None:
    sign_in(web)
    before = _view_of(web)
    reply = post(web, "/console/api/action", body)
    assert reply.status_code == 400, reply.json
    assert reply.json["error"]["code"] == "bad_request"
    assert reply.json["error"]["message"]
    assert desk.calls == []
    assert _view_of(web) == before


def test_a_body_that_is_not_json_is_400(web: FlaskClient, desk: MemoryDesk) -> None:
    sign_in(web)
    reply = web.post("/console/api/action", data="action=call", headers=CSRF)
    assert reply.status_code == 400
    assert desk.calls == []
    bad = web.post(
        "/console/api/sign-in",
        data="{",
        headers={**CSRF, "Content-Type": "application/json"},
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"employee_no": "", "password": PASSWORD},
        {"employee_no": "BH 0101", "password": PASSWORD},
        {"employee_no": "BH0101", "password": ""},
        {"employee_no": "BH0101", "password": 1234},
        {"employee_no": "BH0101", "password": "x" * 300},
        {"employee_no": "BH0101", "password": PASSWORD, "window": "../1"},
        {"employee_no": "BH0101", "password": PASSWORD, "pin": "1"},
    ],
)
def test_bad_sign_in_input_is_400_and_not_counted(web: FlaskClient, body: dict[str, Any]) -> None:
    for _ in range(6):
        assert post(web, "/console/api/sign-in", body).status_code == 400
    assert sign_in(web).status_code == 200  # six bad inputs did not lock the number


def test_an_action_needs_a_session(web: FlaskClient, desk: MemoryDesk) -> None:
    reply = act(web, "call")
    assert reply.status_code == 401
    assert reply.json["error"]["code"] == "not_signed_in"
    assert desk.calls == []


def test_posts_without_the_console_header_are_refused(
    web: FlaskClient, desk: MemoryDesk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.console")
    reply = post(
        web,
        "/console/api/sign-in",
        {"employee_no": "BH0101", "password": PASSWORD, "window": "2"},
        headers={},
    )
    assert reply.status_code == 403 and reply.json["error"]["code"] == "csrf"
    assert "Set-Cookie" not in reply.headers
    sign_in(web)
    for headers in ({}, {CSRF_HEADER: "XMLHttpRequest"}):
        reply = post(web, "/console/api/action", {"action": "call"}, headers=headers)
        assert reply.status_code == 403
    assert post(web, "/console/api/sign-out", headers={}).status_code == 403
    assert web.get("/console/api/state").status_code == 200  # still signed in
    assert desk.calls == []
    assert "missing X-Requested-With header" in caplog.text


# ------------------------------------------------------------------------- modes


def test_online_every_page_redirects_to_the_backend_and_every_action_is_409(
    web: FlaskClient, desk: MemoryDesk
) -> None:
    sign_in(web)
    desk.set_mode(HallMode.ONLINE)
    for path in ("/console/", "/console", "/console/sign-in"):
        reply = web.get(path)
        assert reply.status_code == 302, path
        assert reply.headers["Location"] == BACKEND_CONSOLE
    for action in DeskAction:
        reply = act(web, action.value)
        assert reply.status_code == 409
        assert reply.json["error"]["code"] == "use_backend_console"
        assert reply.json["error"]["redirect"] == BACKEND_CONSOLE
    assert sign_in(web).status_code == 409
    assert desk.calls == []
    state = web.get("/console/api/state")
    assert state.json == {"mode": "online", "pending": 0, "redirect": BACKEND_CONSOLE}
    # Back offline (the link fell again): the clerk's session still holds.
    desk.set_mode(HallMode.OFFLINE)
    assert act(web, "call").status_code == 200


def test_a_desk_that_turned_online_meanwhile_sends_the_clerk_to_the_backend(
    web: FlaskClient, desk: MemoryDesk
) -> None:
    sign_in(web)
    desk.refuse_next = DeskRefused("use_backend_console", "online")
    reply = act(web, "call")
    assert reply.status_code == 409
    assert reply.json["error"]["redirect"] == BACKEND_CONSOLE


def test_the_mode_endpoint_is_open_to_any_origin_and_holds_no_personal_data(
    web: FlaskClient, desk: MemoryDesk
) -> None:
    sign_in(web)
    desk.set_mode(HallMode.REPLAYING)
    desk.pending_count = 4
    reply = web.get("/console/mode", headers={"Origin": "http://backend.example:8000"})
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert reply.json == {"mode": "replaying", "pending": 4}
    assert "BH0101" not in reply.text and NAME not in reply.text
    desk.set_mode(HallMode.ONLINE)
    desk.pending_count = 0
    assert web.get("/console/mode").json == {"mode": "online", "pending": 0}


def test_a_pending_counter_passed_in_wins_over_the_desks(desk: MemoryDesk) -> None:
    desk.pending_count = 4
    app = create_console_app(desk, secret_key="k", pending=lambda: 11, hasher=FAST_HASHER)
    assert app.test_client().get("/console/mode").json == {"mode": "offline", "pending": 11}


def test_the_pages_show_the_mode_banner(web: FlaskClient, desk: MemoryDesk) -> None:
    page = web.get("/console/sign-in").get_data(as_text=True)
    assert OFFLINE_TEXT in page
    desk.set_mode(HallMode.REPLAYING)
    desk.pending_count = 3
    page = web.get("/console/sign-in").get_data(as_text=True)
    assert "正在补录离线期间的业务，还有 3 条" in page and "3 items left" in page
    sign_in(web)
    act(web, "call")
    page = web.get("/console/").get_data(as_text=True)
    assert "正在补录离线期间的业务，还有 3 条" in page
    assert 'id="current-number">A001<' in page
    assert NAME in page  # the clerk sees their own name


def test_pages_load_nothing_from_elsewhere_and_forbid_it(web: FlaskClient) -> None:
    pages = [web.get("/console/sign-in")]
    sign_in(web)
    pages.append(web.get("/console/"))
    for page in pages:
        assert page.status_code == 200
        assert not re.search(r'(src|href)="(https?:)?//', page.get_data(as_text=True))
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("hotkeys.js", "console.js", "console.css"):
        assert web.get(f"/console/static/{asset}").status_code == 200


def test_the_hub_console_does_not_import_backend_code() -> None:
    tree = ast.parse((ROOT / "hub" / "console.py").read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not [name for name in imported if name.split(".")[0] == "backend"]


# ------------------------------------------------------------------------- key map

# Backend console endpoint (or dialog) -> the desk action it performs.
BACKEND_ACTIONS = {
    "call_next": DeskAction.CALL,
    "recall": DeskAction.RECALL,
    "start": DeskAction.START,
    "finish": DeskAction.FINISH,
    "no_show": DeskAction.NO_SHOW,
    "invite_rating": DeskAction.INVITE_RATING,
    "resume": DeskAction.RESUME,
    "transfer": DeskAction.TRANSFER,
    "pause": DeskAction.PAUSE,
}


def _backend_key_map() -> dict[DeskAction, str]:
    panel = (ROOT / "backend/templates/console/_panel.html").read_text(encoding="utf-8")
    index = (ROOT / "backend/templates/console/index.html").read_text(encoding="utf-8")
    script = (ROOT / "backend/static/js/console.js").read_text(encoding="utf-8")
    keys: dict[str, str] = {}
    # {{ action('console.recall', _('重呼'), 'r', ...) }}: the key is the third argument
    # (the macro prints it in data-hotkey and as <kbd>{{ key|upper }}</kbd>).
    for endpoint, args in re.findall(r"\{\{ action\('console\.(\w+)',(.*?)\) \}\}", panel):
        keys[endpoint] = re.findall(r"'([a-z])'", args)[0]
    # The dialogs' keys are set by console.js; their <summary> shows the same <kbd>.
    for dialog, key in re.findall(r'\["dlg-(\w+)", "([a-z])"\]', script):
        summary = re.search(
            rf'<details[^>]*id="dlg-{dialog}"[^>]*>\s*<summary>(.*?)</summary>', index, re.S
        )
        assert summary is not None and f"<kbd>{key.upper()}</kbd>" in summary.group(1)
        keys[dialog] = key
    return {BACKEND_ACTIONS[name]: key for name, key in keys.items() if name in BACKEND_ACTIONS}


def _hub_key_map() -> dict[DeskAction, str]:
    panel = (ROOT / "hub/console_templates/panel.html").read_text(encoding="utf-8")
    keys: dict[DeskAction, str] = {}
    for action, key, inner in re.findall(
        r'<button[^>]*data-action="(\w+)"[^>]*data-hotkey="([a-z])"[^>]*>(.*?)</button>', panel
    ):
        assert f"<kbd>{key.upper()}</kbd>" in inner, action
        keys[DeskAction(action)] = key
    for action, key, summary in re.findall(
        r'<details[^>]*data-dialog-action="(\w+)"[^>]*data-hotkey-open="([a-z])"[^>]*>\s*'
        r"<summary[^>]*>(.*?)</summary>",
        panel,
        re.S,
    ):
        assert f"<kbd>{key.upper()}</kbd>" in summary, action
        keys[DeskAction(action)] = key
    return keys


def test_the_hub_console_uses_the_backend_consoles_keys() -> None:
    backend = _backend_key_map()
    hub = _hub_key_map()
    assert set(backend) == set(DeskAction)  # the parse found every action
    assert hub == backend
    assert backend[DeskAction.CALL] == "n"  # the parse reads what a clerk knows


# ------------------------------------------------------------------------- the server


def test_the_server_binds_serves_and_stops(desk: MemoryDesk) -> None:
    server = HubConsoleServer(desk, host="127.0.0.1", port=0, secret_key="k", hasher=FAST_HASHER)
    server.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/console"
        with urllib.request.urlopen(f"{server.url}/mode", timeout=5) as reply:
            assert json.load(reply) == {"mode": "offline", "pending": 0}
    finally:
        server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/mode", timeout=2)


def test_a_taken_port_fails_at_construction(desk: MemoryDesk) -> None:
    first = HubConsoleServer(desk, host="127.0.0.1", port=0, hasher=FAST_HASHER)
    try:
        with pytest.raises(OSError):
            HubConsoleServer(desk, host="127.0.0.1", port=first.port, hasher=FAST_HASHER)
    finally:
        first.stop()


# ------------------------------------------------------------------------- real browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(desk: MemoryDesk) -> Iterator[HubConsoleServer]:
    server = HubConsoleServer(
        desk, host="127.0.0.1", port=0, secret_key="k", poll_ms=200, hasher=FAST_HASHER
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(chromium: Browser, live: HubConsoleServer) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=f"http://127.0.0.1:{live.port}",
        locale="zh-CN",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(10_000)
    answer_backend_console(context)
    yield context.new_page()
    context.close()


def answer_backend_console(context: BrowserContext) -> None:
    """The backend console is not running here: answer its address in the browser."""
    context.route(
        BACKEND_CONSOLE,
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<h1>backend console</h1>"
        ),
    )


def browser_sign_in(page: Page, employee_no: str = "BH0101", window: str = "2") -> None:
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    expect(page.locator("body")).to_have_attribute("data-ready", "sign-in")
    page.fill('input[name="employee_no"]', employee_no)
    page.fill('input[name="password"]', PASSWORD)
    page.select_option('select[name="window"]', window)
    page.click("button[type=submit]")
    # The page's scripts have run (the number alone shows before they are loaded).
    expect(page.locator("body")).to_have_attribute("data-ready", "panel")


def run_screens(page: Page, desk: MemoryDesk, shots: Path) -> None:
    """Sign in, call by keyboard, and photograph the sign-in, offline and replaying
    screens, then the banner shown as the hall goes online, before the page goes to the
    backend console (its address must be answered: answer_backend_console)."""
    shots.mkdir(parents=True, exist_ok=True)
    page.goto("/console/sign-in")
    expect(page.locator("[data-banner]")).to_contain_text("中心系统暂时无法连接")
    page.screenshot(path=str(shots / "hub-console-signin.png"))
    browser_sign_in(page)
    expect(page.locator("#current-number")).to_have_text("—")
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text("A001")
    expect(page.locator("[data-waiting]")).to_have_text(str(len(desk.waiting)))
    assert desk.calls[-1] == Call("2", DeskAction.CALL, "BH0101", "hub_console", None, None)
    page.keyboard.press("s")
    expect(page.locator("[data-ticket-state]")).to_have_attribute("data-ticket-state", "serving")
    page.screenshot(path=str(shots / "hub-console-offline.png"))
    desk.pending_count = 7
    desk.set_mode(HallMode.REPLAYING)
    expect(page.locator("[data-banner]")).to_contain_text("还有 7 条")
    page.screenshot(path=str(shots / "hub-console-replaying.png"))
    # The centre is back and the outbox drained: the state poll answers online.
    desk.pending_count = 0
    desk.set_mode(HallMode.ONLINE)
    expect_back_online_banner(page)
    page.screenshot(path=str(shots / "hub-console-online-redirect.png"))
    page.wait_for_url(BACKEND_CONSOLE)


def expect_back_online_banner(page: Page) -> None:
    """The banner saying why the page is about to change shows while the page is still
    the hub console's, with a link to the backend console; nothing is pressed then."""
    banner = page.locator("[data-banner]")
    expect(banner).to_contain_text("中心系统已恢复，正在转到中心窗口台")
    expect(banner).to_contain_text("the centre is back; going to the centre's console")
    expect(banner).to_have_attribute("data-banner-mode", "online")
    expect(banner.locator("a[data-online-link]")).to_have_attribute("href", BACKEND_CONSOLE)
    assert page.url.endswith("/console/"), page.url  # not gone yet
    expect(page.locator("body")).to_have_attribute("data-leaving", "online")
    expect(page.locator("[data-action=call]")).to_be_disabled()


def expect_gone_after_the_banner(page: Page, shown_at: float) -> None:
    """The page goes to the backend console about 1.5 s after the banner showed (the
    banner was seen up to a poll late, hence the margin)."""
    page.wait_for_url(BACKEND_CONSOLE)
    expect(page.locator("h1")).to_have_text("backend console")
    assert time.monotonic() - shown_at >= 0.8


def test_in_a_browser_the_call_key_calls_and_online_goes_to_the_backend(
    page: Page, desk: MemoryDesk, tmp_path: Path
) -> None:
    run_screens(page, desk, tmp_path)
    for name in ("signin", "offline", "replaying", "online-redirect"):
        assert (tmp_path / f"hub-console-{name}.png").stat().st_size > 10_000
    expect(page.locator("h1")).to_have_text("backend console")


def test_in_a_browser_online_shows_the_banner_then_goes_to_the_backend(
    page: Page, desk: MemoryDesk
) -> None:
    browser_sign_in(page)
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text("A001")
    desk.set_mode(HallMode.ONLINE)
    expect_back_online_banner(page)
    shown_at = time.monotonic()
    page.keyboard.press("f")  # too late: the centre decides now
    expect_gone_after_the_banner(page, shown_at)
    assert desk.calls[-1].action is DeskAction.CALL


def test_in_a_browser_a_refusal_shows_and_an_action_refused_as_online_goes_to_the_backend(
    page: Page, desk: MemoryDesk
) -> None:
    browser_sign_in(page)
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text("A001")
    # A refusal shows on the page, and the number stays.
    desk.refuse_next = DeskRefused("window_closed", "窗口未在服务 / the window is not open")
    page.keyboard.press("f")
    expect(page.locator("[data-console-message=error]")).to_have_text(
        "窗口未在服务 / the window is not open"
    )
    expect(page.locator("#current-number")).to_have_text("A001")
    # The desk turned online between two polls: the action answers 409 use_backend_console.
    desk.refuse_next = DeskRefused("use_backend_console", "online")
    with page.expect_response(lambda r: r.url.endswith("/console/api/action")) as answer:
        page.keyboard.press("f")
    assert answer.value.status == 409
    expect_back_online_banner(page)
    expect_gone_after_the_banner(page, time.monotonic())


def test_in_a_browser_p_pauses_through_the_dialog_and_resumes(page: Page, desk: MemoryDesk) -> None:
    browser_sign_in(page, "BH0102", "3")
    # Every control a clerk touches is a 48 px target at least.
    heights = page.eval_on_selector_all(
        "button, summary, input, select",
        "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height)",
    )
    assert heights and min(heights) >= 48, heights
    page.keyboard.press("p")
    expect(page.locator("#dlg-pause")).to_have_attribute("open", "")
    page.select_option('#dlg-pause select[name="reason"]', "会议")
    page.click('#dlg-pause button[type="submit"]')
    expect(page.locator("[data-window-state]")).to_have_attribute("data-window-state", "paused")
    assert desk.calls[-1] == Call("3", DeskAction.PAUSE, "BH0102", "hub_console", None, "会议")
    expect(page.locator("[data-action=call]")).to_be_disabled()
    page.keyboard.press("p")  # paused: P resumes
    expect(page.locator("[data-window-state]")).to_have_attribute("data-window-state", "open")
    assert desk.calls[-1].action is DeskAction.RESUME
    # T opens the transfer dialog; Escape closes it.
    page.keyboard.press("t")
    expect(page.locator("#dlg-transfer")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(page.locator("#dlg-transfer")).not_to_have_attribute("open", "")
