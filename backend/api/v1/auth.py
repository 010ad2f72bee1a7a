"""Staff sign-in and sign-out; returns a bearer token bound to a window."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, request

from backend.api.framework import PUBLIC, STAFF, Reply, operation, principal
from backend.api.v1.common import ext, hall_id, now
from backend.api.v1.schemas import Empty, SignIn
from backend.errors import NotAuthenticated
from backend.models import WindowState
from backend.services import auth as auth_service
from backend.services import queue as queue_service

blueprint = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@operation(
    blueprint,
    "/sign-in",
    "POST",
    body=SignIn,
    auth=PUBLIC,
    summary="工作人员登录（可在窗口签到）/ staff sign-in, optionally at a window",
)
def sign_in(body: SignIn) -> Reply:
    extension = ext()
    refused: NotAuthenticated | None = None
    with extension.db.writing() as session:
        hall = hall_id(session, body.hall) if body.hall else None
        try:
            token, staff, window = auth_service.sign_in(
                session,
                employee_no=body.employee_no,
                password=body.password,
                window_number=body.window,
                hall_id=hall,
                now=now(),
                ttl=timedelta(hours=extension.settings.staff_session_hours),
            )
        except NotAuthenticated as error:
            # Raised after the failure count (and any lockout) was updated: let
            # the transaction commit it, then refuse. Raising inside the block
            # would roll the count back and no account would ever lock.
            refused = error
        else:
            if window is not None and window.state is not WindowState.OPEN:
                queue_service.set_window_state(
                    session,
                    window_id=window.id,
                    state=WindowState.OPEN,
                    now=now(),
                    actor=f"staff:{staff.employee_no}",
                    staff_id=staff.id,
                )
            elif window is not None:
                window.signed_in_staff_id = staff.id
            reply = {
                "token": token,
                "staff": {
                    "name": staff.name,
                    "employee_no": staff.employee_no,
                    "roles": staff.roles,
                },
                "window": window.number if window else None,
                "expires_in_hours": extension.settings.staff_session_hours,
            }
    if refused is not None:
        raise refused
    return reply


@operation(blueprint, "/sign-out", "POST", body=Empty, auth=STAFF, summary="退出登录 / sign out")
def sign_out(body: Empty) -> Reply:
    token = request.headers["Authorization"].removeprefix("Bearer ").strip()
    with ext().db.writing() as session:
        auth_service.revoke(session, token)
    ext().tokens.clear()
    return {"signed_out": True}


@operation(blueprint, "/me", "GET", auth=STAFF, summary="当前登录信息 / who am I")
def me() -> Reply:
    who = principal()
    return {
        "label": who.label,
        "roles": sorted(who.roles),
        "hall_id": who.hall_id,
        "window_id": who.window_id,
        "department_id": who.department_id,
    }
