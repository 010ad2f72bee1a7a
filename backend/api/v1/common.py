"""Helpers shared by the v1 views: the app extension, clock, ids and access checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app import Hallkit
from backend.errors import Forbidden, NotFound
from backend.models import Hall, Role, Window
from backend.services.auth import Principal

_ids_lock = threading.Lock()
_hall_ids: dict[str, int] = {}
_window_ids: dict[tuple[int, str], int] = {}


def ext() -> Hallkit:
    extension: Hallkit = current_app.extensions["hallkit"]
    return extension


def now() -> datetime:
    return ext().clock()


def hall_id(session: Session, code: str) -> int:
    """Hall codes and window numbers never change once created, so their ids are
    cached for the life of the process (this saves two queries per call-next)."""
    cached = _hall_ids.get(code)
    if cached is not None:
        return cached
    found = session.execute(select(Hall.id).where(Hall.code == code)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"大厅 {code} 不存在 / unknown hall", hall=code)
    with _ids_lock:
        _hall_ids[code] = found
    return found


def window_id(session: Session, hall: int, number: str) -> int:
    key = (hall, number)
    cached = _window_ids.get(key)
    if cached is not None:
        return cached
    found = session.execute(
        select(Window.id).where(Window.hall_id == hall, Window.number == number)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"窗口 {number} 不存在 / unknown window", window=number)
    with _ids_lock:
        _window_ids[key] = found
    return found


def forget_ids() -> None:
    with _ids_lock:
        _hall_ids.clear()
        _window_ids.clear()


def require_hall(principal: Principal | None, hall: int) -> None:
    """Devices and window clerks act only in their own hall."""
    if principal is None or principal.has_role(Role.ADMINISTRATOR, Role.SUPERVISOR):
        return
    if principal.hall_id is not None and principal.hall_id != hall:
        raise Forbidden("不能操作其他大厅 / this token belongs to another hall")


def require_hub(principal: Principal) -> None:
    """Number blocks, offline uploads and device reports come from the hub only."""
    if not principal.is_hub:
        raise Forbidden("仅限集线器 / hub only")


@contextmanager
def hall_session(
    code: str, principal: Principal, *, write: bool = True
) -> Iterator[tuple[Session, int]]:
    """A session (writing unless told) with the hall resolved and the caller checked
    against it, before the view touches anything in that hall."""
    database = ext().db
    with database.writing() if write else database.reading() as session:
        hid = hall_id(session, code)
        require_hall(principal, hid)
        yield session, hid


def require_window(principal: Principal, window: int) -> None:
    """Window actions need a clerk signed in at that window (or an administrator)."""
    if principal.kind == "staff" and (
        principal.window_id == window or principal.has_role(Role.ADMINISTRATOR)
    ):
        return
    raise Forbidden("请先在该窗口签到 / sign in at this window first")


def actor_label(principal: Principal | None, on_behalf_of: str | None = None) -> str:
    if principal is None:
        return "public"
    if on_behalf_of and principal.is_hub:
        return f"device:{on_behalf_of} via {principal.label}"
    return principal.label
