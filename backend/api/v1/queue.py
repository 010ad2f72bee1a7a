"""The queue over HTTP: issuing tickets and every window action."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, NamedTuple

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.framework import (
    DEVICE,
    DEVICE_OR_STAFF,
    PUBLIC,
    STAFF,
    Reply,
    operation,
    principal,
)
from backend.api.v1.common import (
    actor_label,
    ext,
    hall_id,
    hall_session,
    now,
    require_hub,
    require_window,
    window_id,
)
from backend.api.v1.schemas import (
    CallSpecific,
    CheckIn,
    Empty,
    Hold,
    IssueTicket,
    OfflineTicket,
    Pause,
    ReserveBlock,
    ResumeHeld,
    Transfer,
)
from backend.errors import NotFound
from backend.models import Channel, Hall, Role, Ticket, WindowState
from backend.services import offline as offline_service
from backend.services import queue as queue_service
from backend.services import ratings as ratings_service
from backend.services import turn_notice
from backend.services.auth import Principal
from backend.services.queue import TicketView

blueprint = Blueprint("queue", __name__, url_prefix="/api/v1/halls/<hall>")


def _on_behalf_of() -> str | None:
    """The hub relays device requests with its own token and names the device."""
    value = request.headers.get("X-Device-Id")
    return value[:64] if value else None


@operation(
    blueprint,
    "/tickets",
    "POST",
    body=IssueTicket,
    auth=DEVICE_OR_STAFF,
    summary="取号（可实名）/ issue a ticket (idempotent on request_id; optional id_lookup_hash)",
)
def issue(hall: str, body: IssueTicket) -> Reply:
    who = principal()
    with hall_session(hall, who) as (session, hid):
        channel = Channel(body.channel)
        if who.kind == "staff" and channel is Channel.KIOSK:
            channel = Channel.STAFF
        view = queue_service.issue_ticket(
            session,
            hall_id=hid,
            category_prefix=body.category,
            matter_code=body.matter_code,
            channel=channel,
            priority_kind=body.priority_kind,
            client_request_id=body.request_id,
            device_id=_on_behalf_of() or who.device_id,
            id_lookup_hash=body.id_lookup_hash,
            now=now(),
            actor=actor_label(who, _on_behalf_of()),
        )
        if body.notify_phone:
            turn_notice.leave_contact(
                session, ticket_id=view.id, phone=body.notify_phone, protector=ext().protector
            )
    return view.as_json(include_token=True), 201


@operation(
    blueprint,
    "/appointments/check-in",
    "POST",
    body=CheckIn,
    auth=DEVICE_OR_STAFF,
    summary="预约签到取号（预约码或身份证查询哈希）/ check in an appointment by code or ID hash",
)
def check_in(hall: str, body: CheckIn) -> Reply:
    who = principal()
    with hall_session(hall, who) as (session, hid):
        view = queue_service.check_in_appointment(
            session,
            hall_id=hid,
            code=body.code,
            id_lookup_hash=body.id_lookup_hash,
            now=now(),
            actor=actor_label(who, _on_behalf_of()),
            client_request_id=body.request_id,
            device_id=_on_behalf_of() or who.device_id,
        )
    return view.as_json(include_token=True), 201


@operation(
    blueprint,
    "/ticket-blocks",
    "POST",
    body=ReserveBlock,
    auth=DEVICE,
    summary="集线器预留离线号段 / reserve a number block for the hub's offline mode",
)
def reserve_block(hall: str, body: ReserveBlock) -> Reply:
    who = principal()
    require_hub(who)
    with hall_session(hall, who) as (session, hid):
        block = queue_service.reserve_block(
            session,
            hall_id=hid,
            category_prefix=body.category,
            size=body.size,
            now=now(),
            actor=who.label,
        )
        return {
            "category": body.category.upper(),
            "service_day": block.service_day.isoformat(),
            "first": block.first_number,
            "last": block.last_number,
        }, 201


@operation(
    blueprint,
    "/tickets/offline",
    "POST",
    body=OfflineTicket,
    auth=DEVICE,
    summary="上传离线期间发出的号票（幂等）/ upload a ticket issued offline (idempotent)",
)
def offline_ticket(hall: str, body: OfflineTicket) -> Reply:
    who = principal()
    require_hub(who)
    with hall_session(hall, who) as (session, hid):
        view = queue_service.import_offline_ticket(
            session,
            hall_id=hid,
            category_prefix=body.category,
            number=body.number,
            issued_at=body.issued_at,
            client_request_id=body.request_id,
            device_id=body.device_id,
            priority_kind=body.priority_kind,
            actor=actor_label(who, body.device_id),
        )
    return view.as_json(), 201


@operation(
    blueprint,
    "/tickets/<number>",
    "GET",
    auth=DEVICE_OR_STAFF,
    summary="今日号票状态 / a ticket of today",
)
def ticket(hall: str, number: str) -> Reply:
    who = principal()
    with hall_session(hall, who, write=False) as (session, hid):
        found = _todays_ticket(session, hid, number)
        return queue_service.view_of(session, found, with_position=True).as_json()


class _AtWindow(NamedTuple):
    session: Session
    who: Principal
    hall_id: int
    window_id: int


@contextmanager
def _writing_at_window(hall: str, number: str) -> Iterator[_AtWindow]:
    """Every window action: resolve the window and check the caller may act there
    on a read session first, so a refused request never waits for the write lock.
    While the hall's hub replays its offline calls, it decides the queue (409)."""
    who = principal()
    with ext().db.reading() as session:
        hid = hall_id(session, hall)
        wid = window_id(session, hid, number)
        require_window(who, wid)
        offline_service.refuse_while_replaying(session, window_id=wid, now=now())
    with ext().db.writing() as session:
        yield _AtWindow(session, who, hid, wid)


def _todays_ticket(session: Session, hall: int, number: str) -> Ticket:
    """A number names a ticket only within one service day, the hall's local today."""
    return queue_service.ticket_by_number(session, hall, _hall_today(session, hall), number)


def _hall_today(session: Session, hall: int) -> date:
    hall_row = session.get(Hall, hall)
    assert hall_row is not None
    return queue_service.local_day(now(), hall_row.timezone)


def _call_reply(result: queue_service.CallResult) -> dict[str, Any]:
    return {
        "ticket": result.ticket.as_json() if result.ticket else None,
        "finished": result.finished.number if result.finished else None,
        "message": None if result.ticket else "当前没有等候的号票 / nobody is waiting",
    }


@operation(
    blueprint,
    "/windows/<number>/call-next",
    "POST",
    auth=STAFF,
    summary="叫下一号（原子操作）/ call the next ticket (atomic)",
)
def call_next(hall: str, number: str) -> Reply:
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        result = queue_service.call_next(
            session, window_id=wid, staff_id=who.staff_id, now=now(), actor=who.label
        )
    return _call_reply(result)


@operation(
    blueprint,
    "/windows/<number>/call",
    "POST",
    body=CallSpecific,
    auth=STAFF,
    summary="指定叫号（须填写原因）/ call a specific ticket out of order",
)
def call_specific(hall: str, number: str, body: CallSpecific) -> Reply:
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        result = queue_service.call_specific(
            session,
            window_id=wid,
            number=body.number,
            reason=body.reason,
            staff_id=who.staff_id,
            now=now(),
            actor=who.label,
        )
    return _call_reply(result)


def _ticket_action(hall: str, number: str, action: Callable[..., TicketView]) -> Reply:
    """Recall, no-show, start and finish take the same arguments and answer with the ticket."""
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        view = action(session, window_id=wid, now=now(), actor=who.label)
    return view.as_json()


@operation(blueprint, "/windows/<number>/recall", "POST", auth=STAFF, summary="重呼 / recall")
def recall(hall: str, number: str) -> Reply:
    return _ticket_action(hall, number, queue_service.recall)


@operation(blueprint, "/windows/<number>/no-show", "POST", auth=STAFF, summary="过号 / no-show")
def no_show(hall: str, number: str) -> Reply:
    return _ticket_action(hall, number, queue_service.no_show)


@operation(
    blueprint,
    "/windows/<number>/start",
    "POST",
    auth=STAFF,
    summary="开始办理 / start serving the called ticket",
)
def start(hall: str, number: str) -> Reply:
    return _ticket_action(hall, number, queue_service.start_service)


@operation(
    blueprint,
    "/windows/<number>/finish",
    "POST",
    auth=STAFF,
    summary="办理完成（自动邀请评价）/ finish the current ticket",
)
def finish(hall: str, number: str) -> Reply:
    return _ticket_action(hall, number, queue_service.finish_service)


@operation(
    blueprint,
    "/windows/<number>/hold",
    "POST",
    body=Hold,
    auth=STAFF,
    summary="挂起当前号票（办事人补取材料，窗口可先叫下一号）/ put the current ticket on hold",
)
def hold(hall: str, number: str, body: Hold) -> Reply:
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        view = queue_service.hold(
            session, window_id=wid, reason=body.reason, now=now(), actor=who.label
        )
    return view.as_json()


@operation(
    blueprint,
    "/windows/<number>/held",
    "GET",
    auth=STAFF,
    summary="本窗口可恢复的挂起号票 / held tickets this window may resume",
)
def held(hall: str, number: str) -> Reply:
    who = principal()
    with ext().db.reading() as session:
        hid = hall_id(session, hall)
        wid = window_id(session, hid, number)
        require_window(who, wid)
        tickets = queue_service.held_tickets(session, window_id=wid, day=_hall_today(session, hid))
        return {
            "items": [
                {
                    **queue_service.view_of(session, ticket).as_json(),
                    "held_at": ticket.held_at.isoformat() if ticket.held_at else None,
                    "hold_reason": ticket.hold_reason,
                }
                for ticket in tickets
            ]
        }


@operation(
    blueprint,
    "/windows/<number>/resume-held",
    "POST",
    body=ResumeHeld,
    auth=STAFF,
    summary="恢复办理挂起的号票（挂起窗口或同类别窗口）/ resume a held ticket",
)
def resume_held(hall: str, number: str, body: ResumeHeld) -> Reply:
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        view = queue_service.resume_held(
            session,
            window_id=wid,
            number=body.number,
            staff_id=who.staff_id,
            now=now(),
            actor=who.label,
        )
    return view.as_json()


@operation(
    blueprint,
    "/windows/<number>/transfer",
    "POST",
    body=Transfer,
    auth=STAFF,
    summary="转移号票到其他类别或窗口（保留原取号时间）/ transfer a ticket",
)
def transfer(hall: str, number: str, body: Transfer) -> Reply:
    with _writing_at_window(hall, number) as (session, who, hid, wid):
        if body.number:
            target = _todays_ticket(session, hid, body.number)
        else:
            from backend.models import Window

            window = session.get(Window, wid)
            current = (
                session.get(Ticket, window.current_ticket_id)
                if window and window.current_ticket_id
                else None
            )
            if current is None:
                raise NotFound("本窗口当前没有号票 / no current ticket at this window")
            target = current
        view = queue_service.transfer(
            session,
            hall_id=hid,
            ticket_id=target.id,
            to_category=body.to_category,
            to_window=body.to_window,
            now=now(),
            actor=who.label,
            reason=body.reason,
        )
    return view.as_json()


@operation(
    blueprint,
    "/windows/<number>/pause",
    "POST",
    body=Pause,
    auth=STAFF,
    summary="暂停服务（须填写原因）/ pause the window",
)
def pause(hall: str, number: str, body: Pause) -> Reply:
    return _set_state(
        hall,
        number,
        WindowState.PAUSED,
        reason=body.reason,
        expected_back_at=body.expected_back_at,
    )


def _set_state(
    hall: str,
    number: str,
    state: WindowState,
    *,
    reason: str = "",
    expected_back_at: datetime | None = None,
) -> Reply:
    """Pause, resume, rest and close. The signed-in clerk is passed along always:
    the service records it only when the window opens."""
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        window = queue_service.set_window_state(
            session,
            window_id=wid,
            state=state,
            now=now(),
            actor=who.label,
            staff_id=who.staff_id,
            reason=reason,
            expected_back_at=expected_back_at,
        )
        return {"window": window.number, "state": window.state.value}


@operation(blueprint, "/windows/<number>/resume", "POST", auth=STAFF, summary="恢复服务 / resume")
def resume(hall: str, number: str) -> Reply:
    return _set_state(hall, number, WindowState.OPEN)


@operation(blueprint, "/windows/<number>/rest", "POST", auth=STAFF, summary="休息 / rest")
def rest(hall: str, number: str) -> Reply:
    return _set_state(hall, number, WindowState.RESTING)


@operation(blueprint, "/windows/<number>/close", "POST", auth=STAFF, summary="关闭窗口 / close")
def close(hall: str, number: str) -> Reply:
    return _set_state(hall, number, WindowState.CLOSED)


@operation(
    blueprint,
    "/windows/<number>/invite-rating",
    "POST",
    auth=STAFF,
    summary="邀请评价 / ask the evaluator to rate the last service",
)
def invite_rating(hall: str, number: str) -> Reply:
    with _writing_at_window(hall, number) as (session, who, _hid, wid):
        request_row = ratings_service.invite_rating(
            session, window_id=wid, now=now(), actor=who.label
        )
        return {
            "request_id": request_row.request_uid,
            "expires_at": request_row.expires_at.isoformat(),
        }


@operation(
    blueprint,
    "/tickets/<number>/cancel",
    "POST",
    body=Empty,
    auth=DEVICE_OR_STAFF,
    summary="取消号票 / cancel a waiting ticket",
)
def cancel(hall: str, number: str, body: Empty) -> Reply:
    who = principal()
    with hall_session(hall, who) as (session, hid):
        found = _todays_ticket(session, hid, number)
        view = queue_service.cancel(
            session,
            hall_id=hid,
            ticket_id=found.id,
            now=now(),
            actor=actor_label(who, _on_behalf_of()),
        )
    return view.as_json()


@operation(
    blueprint,
    "/tickets/<number>/requeue",
    "POST",
    body=Empty,
    auth=STAFF,
    summary="过号重新排队 / requeue a no-show ticket at the back",
)
def requeue(hall: str, number: str, body: Empty) -> Reply:
    who = principal()
    with hall_session(hall, who) as (session, hid):
        view = queue_service.requeue_no_show(
            session, hall_id=hid, number=number, now=now(), actor=who.label
        )
    return view.as_json()


@operation(
    blueprint,
    "/close-day",
    "POST",
    body=Empty,
    auth=STAFF,
    roles=(Role.ADMINISTRATOR,),
    summary="日终归档：关闭今日以前仍未结束的号票 / archive open tickets of past days",
)
def close_day(hall: str, body: Empty) -> Reply:
    who = principal()
    with ext().db.writing() as session:
        hid = hall_id(session, hall)
        count = queue_service.close_day(
            session,
            hall_id=hid,
            before=_hall_today(session, hid),
            now=now(),
            actor=who.label,
        )
    return {"closed": count}


public = Blueprint("public_queue", __name__, url_prefix="/api/v1/public")


@operation(
    public,
    "/tickets/<token>",
    "GET",
    auth=PUBLIC,
    summary="手机跟踪号票（二维码）/ a ticket's live position, by its QR token",
)
def public_ticket(token: str) -> Reply:
    with ext().db.reading() as session:
        found = session.execute(
            select(Ticket).where(Ticket.public_token == token)
        ).scalar_one_or_none()
        if found is None:
            raise NotFound("号票不存在 / unknown ticket")
        data = queue_service.view_of(session, found, with_position=True).as_json()
    return data
