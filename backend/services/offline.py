"""Calling through an outage: what the hall hub needs to decide the queue while
the backend is unreachable, and the replay of what it decided (docs/hub.md).

Exactly one side decides a hall's queue at a time. Online the backend does and
the hub relays (a caller key box's press arrives as a window action with
``offline: false``). Offline, and while it replays its outbox afterwards, the
hub does: it calls from its last *offline snapshot* (`snapshot`) plus the
tickets it issued, and reports its mode (`set_hub_state`); while it replays,
the staff window actions of the hall are refused (`refuse_while_replaying`).

Every window action the hub sends is kept under its action id
(`backend.models.OfflineAction`): a repeat, after a crash of the hub halfway
through a replay, gets the first answer back and changes nothing.

The conflict rule, the one rule for what a partition can cause:

    **The first act by its original time wins.**

An offline act is compared with what the backend's record says happened to the
same ticket (or window). When the centre's contradicting act — the ticket
cancelled at the centre, called at another window, finished — happened *at or
before* the offline act's time, the centre was first: the offline act is not
applied, it is stored with outcome ``conflict`` and a detail without personal
data (ticket number, windows, what the centre had, the times), answered 200
``conflict`` (the hub neither retries nor dead-letters it) and listed on the
administrator's device page (`recent_conflicts`). When the centre's act came
*after* the offline call, the offline call was first and is applied: the ticket
is taken back from the centre's later act (un-cancelled, or taken from the
other window), and the detail names the act it superseded. An act on the
window's current ticket (recall, no-show, start, finish, transfer) conflicts
when the window no longer holds that ticket in the backend's record. Nothing
is ever silently dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import BadInput, DomainError, HallReplaying, NotFound, NotSignedIn
from backend.models import (
    Hall,
    MatterVersion,
    OfflineAction,
    QueueCategory,
    RatingRequest,
    Staff,
    StaffPost,
    Ticket,
    TicketState,
    Window,
    WindowState,
)
from backend.services import eventlog
from backend.services import queue as queue_service
from backend.services import ratings as ratings_service
from backend.services.audit import record
from backend.services.policy import HallPolicy
from backend.services.queue import TicketView

log = logging.getLogger(__name__)

# The hub's modes and the window actions it relays or replays: declared once, here;
# the request schemas (backend/api/v1/schemas.py) take their types from these.
HubMode = Literal["online", "offline", "replaying"]
WindowActionKind = Literal[
    "call",
    "recall",
    "no_show",
    "start",
    "finish",
    "pause",
    "resume",
    "invite_rating",
    "transfer",
]
HUB_MODES: tuple[str, ...] = get_args(HubMode)
ACTIONS: tuple[str, ...] = get_args(WindowActionKind)
# A hub that said "replaying" and then went silent (crashed, unplugged) must not
# lock the hall's windows for ever: the lock lapses this long after its report.
REPLAY_LOCK = timedelta(minutes=10)
# An offline act dated later than this after the backend's clock is refused: the
# hub's clock is wrong, and its times would enter every figure.
FUTURE_SKEW = timedelta(minutes=2)
DEFAULT_PAUSE_REASON = "暂停服务"
APPLIED, CONFLICT = "applied", "conflict"
_CURRENT = (TicketState.CALLED, TicketState.SERVING)


# --------------------------------------------------------------------------- snapshot


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def snapshot(session: Session, *, hall_id: int, now: datetime) -> dict[str, Any]:
    """What the hub keeps to decide the hall's queue offline (GET offline-snapshot).

    The event sequence is read first: the hub applies events after it on top of
    this snapshot, and an event already reflected here is applied again
    harmlessly, while one read after the queue could be missed."""
    last_seq = eventlog.latest_seq(session, hall_id)
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFound("大厅不存在 / hall not found")
    day = queue_service.local_day(now, hall.timezone)
    categories = (
        session.execute(
            select(QueueCategory)
            .where(QueueCategory.hall_id == hall_id)
            .order_by(QueueCategory.prefix)
        )
        .scalars()
        .all()
    )
    windows = (
        session.execute(select(Window).where(Window.hall_id == hall_id).order_by(Window.id))
        .scalars()
        .all()
    )
    numbers = {w.id: w.number for w in windows}
    places = queue_service.hall_window_places(session, hall_id)
    current_ids = [w.current_ticket_id for w in windows if w.current_ticket_id]
    current = {
        t.id: t
        for t in session.execute(
            select(Ticket).where(Ticket.id.in_(current_ids), Ticket.state.in_(_CURRENT))
        ).scalars()
    }
    staff_ids = {w.signed_in_staff_id for w in windows if w.signed_in_staff_id}
    staff_ids |= {t.staff_id for t in current.values() if t.staff_id}
    staff = {
        s.id: s for s in session.execute(select(Staff).where(Staff.id.in_(staff_ids))).scalars()
    }

    def employee_no(staff_id: int | None) -> str | None:
        member = staff.get(staff_id) if staff_id is not None else None
        return member.employee_no if member else None

    waiting = (
        session.execute(
            select(Ticket)
            .where(
                Ticket.hall_id == hall_id,
                Ticket.service_day == day,
                Ticket.state == TicketState.WAITING,
            )
            .order_by(Ticket.standing, Ticket.sort_at, Ticket.id)
        )
        .scalars()
        .all()
    )
    version_ids = {t.matter_version_id for t in waiting if t.matter_version_id}
    matters = {
        v.id: {"code": v.code, "name": v.name}
        for v in session.execute(
            select(MatterVersion).where(MatterVersion.id.in_(version_ids))
        ).scalars()
    }
    return {
        "taken_at": now.isoformat(),
        "service_day": day.isoformat(),
        "last_event_seq": last_seq,
        "timezone": hall.timezone,
        "policy": HallPolicy.from_json(hall.call_policy).model_dump(mode="json"),
        "categories": [
            {
                "prefix": c.prefix,
                "name": c.name,
                "display_digits": queue_service.display_digits(c.number_end),
                "active": c.active,
            }
            for c in categories
        ],
        "windows": [
            _window_entry(session, w, places, current.get(w.current_ticket_id or 0), staff)
            for w in windows
        ],
        "waiting": [
            {
                "ticket": t.display,
                "category": queue_service.category_meta(session, t.category_id).prefix,
                "standing": t.standing,
                "sort_at": t.sort_at.isoformat(),
                "issued_at": t.issued_at.isoformat(),
                "order": t.id,
                "target_window": numbers.get(t.target_window_id) if t.target_window_id else None,
                "priority_kind": t.priority_kind,
                "matter": matters.get(t.matter_version_id) if t.matter_version_id else None,
            }
            for t in waiting
        ],
        "clerks": _clerks(session, hall_id),
    }


def _window_entry(
    session: Session,
    window: Window,
    places: dict[int, queue_service.WindowPlace],
    current: Ticket | None,
    staff: dict[int, Staff],
) -> dict[str, Any]:
    place = places.get(window.id, queue_service.WindowPlace(None, ""))
    signed_in = staff.get(window.signed_in_staff_id) if window.signed_in_staff_id else None
    served_by = staff.get(current.staff_id) if current and current.staff_id else None
    return {
        "number": window.number,
        "name": window.name,
        "state": window.state.value,
        "floor": place.floor,
        "area": place.area,
        "groups": queue_service.window_prefix_groups(session, window.id),
        "ordinary_streak": window.ordinary_streak,
        "signed_in": signed_in.employee_no if signed_in else None,
        "current": {
            "ticket": current.display,
            "state": current.state.value,
            "called_at": _iso(current.called_at),
            "recall_count": current.recall_count,
            "category": queue_service.category_meta(session, current.category_id).prefix,
            "employee_no": served_by.employee_no if served_by else None,
        }
        if current is not None
        else None,
        "staff": {"name": signed_in.name, "employee_no": signed_in.employee_no}
        if signed_in
        else None,
    }


def _clerks(session: Session, hall_id: int) -> list[dict[str, Any]]:
    """Active staff posted at a window of the hall, with the password verifier the
    hub checks a sign-in against offline. Whoever is absent here (deactivated,
    no post left, no password) the hub forgets: that is the revocation."""
    rows = session.execute(
        select(Staff.employee_no, Staff.name, Staff.password_hash, Window.number)
        .join(StaffPost, StaffPost.staff_id == Staff.id)
        .join(Window, Window.id == StaffPost.window_id)
        .where(Window.hall_id == hall_id, Staff.active.is_(True), Staff.password_hash != "")
        .order_by(Staff.employee_no, Window.id)
    ).all()
    clerks: dict[str, dict[str, Any]] = {}
    for employee_no, name, verifier, window_number in rows:
        entry = clerks.setdefault(
            employee_no,
            {"employee_no": employee_no, "name": name, "verifier": verifier, "windows": []},
        )
        if window_number not in entry["windows"]:
            entry["windows"].append(window_number)
    return list(clerks.values())


# --------------------------------------------------------------------------- hub state


def set_hub_state(
    session: Session,
    *,
    hall_id: int,
    mode: str,
    console_url: str | None,
    pending: int,
    now: datetime,
    actor: str,
) -> None:
    """The hub says who decides the hall's queue (PUT hub-state). A change of
    mode is audited; the periodic report while online only refreshes the time."""
    if mode not in HUB_MODES:
        raise BadInput(f"未知的集线器模式 {mode} / unknown hub mode", mode=mode)
    hall = session.execute(
        select(Hall).where(Hall.id == hall_id).with_for_update()
    ).scalar_one_or_none()
    if hall is None:
        raise NotFound("大厅不存在 / hall not found")
    previous = hall.hub_mode
    hall.hub_mode = mode
    hall.hub_mode_at = now
    hall.hub_pending = max(0, pending)
    hall.hub_console_url = (console_url or "")[:300]
    if previous != mode:
        log.info("hall %s hub mode %s -> %s (%d pending)", hall.code, previous, mode, pending)
        record(
            session,
            actor,
            "hub.mode",
            "hall",
            hall.id,
            {"from": previous, "to": mode, "pending": hall.hub_pending},
        )


def refuse_while_replaying(session: Session, *, window_id: int, now: datetime) -> None:
    """The one check every staff window action (API and console) passes: while the
    hall's hub replays its offline calls, it decides the queue, and an action at
    the centre now would interleave with calls made earlier."""
    row = session.execute(
        select(Hall.hub_mode, Hall.hub_mode_at)
        .join(Window, Window.hall_id == Hall.id)
        .where(Window.id == window_id)
    ).one_or_none()
    if row is None:
        return
    mode, since = row
    if mode == "replaying" and since is not None and now - since < REPLAY_LOCK:
        log.info("window action refused at window id %s: hall replaying", window_id)
        raise HallReplaying(
            "大厅正在补录离线期间的叫号，请稍候 / the hall hub is replaying calls made offline;"
            " try again in a moment"
        )


# --------------------------------------------------------------------------- window actions


@dataclass(frozen=True)
class WindowAction:
    action_id: str
    window: str
    action: str
    ticket: str | None = None
    target_window: str | None = None
    reason: str | None = None
    employee_no: str | None = None
    at: datetime | None = None
    offline: bool = False
    rating_request_id: str | None = None


class _Conflict(Exception):
    """An offline act the backend's record contradicts (see the module docstring)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def apply_window_action(
    session: Session, *, hall_id: int, action: WindowAction, now: datetime, actor: str
) -> dict[str, Any]:
    """Apply one window action from the hub, exactly once (POST window-actions).

    Returns {"outcome", "duplicate", "ticket", "detail"}. Refusals that change
    nothing (bad input; online: nobody signed in, or the console's own refusal)
    raise; an offline act the record contradicts is a stored `conflict`."""
    _validate(action, now)
    existing = _stored(session, action.action_id)
    if existing is not None:
        return _duplicate(existing, hall_id)
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFound("大厅不存在 / hall not found")
    window = session.execute(
        select(Window).where(Window.hall_id == hall_id, Window.number == action.window)
    ).scalar_one_or_none()
    if window is None:
        raise BadInput(f"窗口 {action.window} 不存在 / unknown window", window=action.window)
    at = action.at if action.offline and action.at is not None else now
    row = OfflineAction(
        hall_id=hall_id,
        action_id=action.action_id,
        window_number=window.number,
        action=action.action,
        ticket_display=action.ticket.upper() if action.ticket else None,
        employee_no=action.employee_no,
        at=at,
        received_at=now,
        offline=action.offline,
        outcome=APPLIED,
        detail="",
        reply={},
    )
    try:
        # Stored first: a concurrent repeat of the same action waits here on the
        # unique key and then answers as a duplicate, instead of acting twice.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        again = _stored(session, action.action_id)
        if again is None:
            raise
        return _duplicate(again, hall_id)

    if action.offline:
        staff = _staff(session, action.employee_no)
        actor = f"{actor} offline" + (f" staff:{staff.employee_no}" if staff else "")
        events_before = eventlog.pending_count(session)
        try:
            with eventlog.tagged(session, offline=True):
                view, detail = _replay(session, hall, window, action, staff, at, actor)
            outcome = APPLIED
        except _Conflict as conflict:
            view, detail, outcome = None, conflict.detail, CONFLICT
        except DomainError as error:
            # The queue services refuse before they change anything, and the rule
            # (_before_offline_call) changes a ticket only where the call that
            # follows cannot be refused. Should a refusal still come after a
            # change, the transaction rolls back as a whole (an error reply).
            if eventlog.pending_count(session) != events_before or session.dirty:
                raise
            view, outcome = None, CONFLICT
            detail = _conflict_text(action, hall, window, at, error.message)
    else:
        view, detail = _online(session, hall, window, action, now, actor)
        outcome = APPLIED
    reply = {
        "outcome": outcome,
        "duplicate": False,
        "ticket": view.as_json() if view is not None else None,
        "detail": detail or None,
    }
    row.outcome = outcome
    row.detail = (detail or "")[:500]
    row.reply = reply
    if view is not None and row.ticket_display is None:
        row.ticket_display = view.number
    if outcome == CONFLICT:
        log.warning(
            "window action %s (%s at window %s of hall %s) conflicts: %s",
            action.action_id,
            action.action,
            window.number,
            hall.code,
            row.detail,
        )
        record(
            session,
            actor,
            "hub.action_conflict",
            "hall",
            hall.id,
            {"action_id": action.action_id, "action": action.action, "detail": row.detail},
        )
    return reply


def recent_conflicts(session: Session, *, hall_id: int, limit: int = 50) -> list[OfflineAction]:
    """The offline acts the backend did not apply, newest first (the device page)."""
    return list(
        session.execute(
            select(OfflineAction)
            .where(OfflineAction.hall_id == hall_id, OfflineAction.outcome == CONFLICT)
            .order_by(OfflineAction.at.desc(), OfflineAction.id.desc())
            .limit(limit)
        ).scalars()
    )


def _validate(action: WindowAction, now: datetime) -> None:
    if action.action not in ACTIONS:
        raise BadInput(f"未知的窗口操作 {action.action} / unknown window action")
    if action.offline:
        if action.at is None:
            raise BadInput("离线操作须带原始时间 at / an offline action needs its time `at`")
        if action.at > now + FUTURE_SKEW:
            raise BadInput(
                "离线操作的时间晚于服务器时间 / the offline action is dated in the future",
                at=action.at.isoformat(),
            )
        if action.action == "call" and not action.ticket:
            raise BadInput("离线叫号须指明号票 / an offline call names its ticket")
    if action.action == "transfer" and not action.target_window:
        raise BadInput("转移须指明目标窗口 / a transfer needs target_window")


def _stored(session: Session, action_id: str) -> OfflineAction | None:
    return session.execute(
        select(OfflineAction).where(OfflineAction.action_id == action_id)
    ).scalar_one_or_none()


def _duplicate(existing: OfflineAction, hall_id: int) -> dict[str, Any]:
    if existing.hall_id != hall_id:
        raise BadInput("该操作编号已被其他大厅使用 / this action id belongs to another hall")
    return {**existing.reply, "duplicate": True}


def _staff(session: Session, employee_no: str | None) -> Staff | None:
    if not employee_no:
        return None
    staff = session.execute(
        select(Staff).where(Staff.employee_no == employee_no)
    ).scalar_one_or_none()
    if staff is None:
        raise BadInput(f"工号 {employee_no} 不存在 / unknown employee number")
    return staff


def _current(session: Session, window: Window) -> Ticket | None:
    if window.current_ticket_id is None:
        return None
    ticket = session.get(Ticket, window.current_ticket_id)
    return ticket if ticket is not None and ticket.state in _CURRENT else None


def _online(
    session: Session, hall: Hall, window: Window, action: WindowAction, now: datetime, actor: str
) -> tuple[TicketView | None, str]:
    """A caller key box while online: the console's button, as the signed-in clerk."""
    if window.signed_in_staff_id is None:
        raise NotSignedIn(
            f"{window.number}号窗口无人签到 / nobody is signed in at window {window.number}",
            window=window.number,
        )
    clerk = session.get(Staff, window.signed_in_staff_id)
    assert clerk is not None
    actor = f"staff:{clerk.employee_no} via {actor}"
    view, detail = _act(session, hall, window, action, clerk.id, now, actor, replay=False)
    return view, detail


def _act(
    session: Session,
    hall: Hall,
    window: Window,
    action: WindowAction,
    staff_id: int | None,
    now: datetime,
    actor: str,
    *,
    replay: bool,
) -> tuple[TicketView | None, str]:
    """The queue service behind each action (online and replayed alike)."""
    kind = action.action
    if kind == "call":
        if replay:
            assert action.ticket is not None
            result = queue_service.call_specific(
                session,
                window_id=window.id,
                number=action.ticket,
                reason="",
                staff_id=staff_id,
                now=now,
                actor=actor,
                replay=True,
                rating_request_id=action.rating_request_id,
            )
        else:
            result = queue_service.call_next(
                session, window_id=window.id, staff_id=staff_id, now=now, actor=actor
            )
        if result.ticket is None:
            return None, "当前没有等候的号票 / nobody is waiting"
        return result.ticket, ""
    if kind == "recall":
        return queue_service.recall(
            session, window_id=window.id, now=now, actor=actor, replay=replay
        ), ""
    if kind == "no_show":
        return queue_service.no_show(session, window_id=window.id, now=now, actor=actor), ""
    if kind == "start":
        return queue_service.start_service(session, window_id=window.id, now=now, actor=actor), ""
    if kind == "finish":
        return queue_service.finish_service(
            session,
            window_id=window.id,
            now=now,
            actor=actor,
            rating_request_id=action.rating_request_id,
        ), ""
    if kind in ("pause", "resume"):
        queue_service.set_window_state(
            session,
            window_id=window.id,
            state=WindowState.PAUSED if kind == "pause" else WindowState.OPEN,
            now=now,
            actor=actor,
            staff_id=staff_id,
            reason=(action.reason or DEFAULT_PAUSE_REASON) if kind == "pause" else "",
        )
        return None, ""
    if kind == "invite_rating":
        invitation = ratings_service.invite_rating(
            session,
            window_id=window.id,
            now=now,
            actor=actor,
            request_uid=action.rating_request_id,
        )
        ticket = session.get(Ticket, invitation.ticket_id)
        assert ticket is not None
        return queue_service.view_of(session, ticket), ""
    assert kind == "transfer"
    current = _current(session, window)
    if current is None:
        raise NotFound(f"{window.number}号窗口当前没有号票 / no current ticket at this window")
    target = session.execute(
        select(Window.number).where(
            Window.hall_id == hall.id, Window.number == action.target_window
        )
    ).scalar_one_or_none()
    if target is None:
        raise BadInput(f"目标窗口 {action.target_window} 不存在 / unknown target window")
    return queue_service.transfer(
        session,
        hall_id=hall.id,
        ticket_id=current.id,
        to_category=None,
        to_window=target,
        now=now,
        actor=actor,
        reason=action.reason or "",
    ), ""


def _hm(value: datetime | None, timezone: str) -> str:
    if value is None:
        return "?"
    return value.astimezone(queue_service.zone(timezone)).strftime("%H:%M:%S")


def _conflict_text(
    action: WindowAction, hall: Hall, window: Window, at: datetime, centre: str
) -> str:
    """Ticket number, window, what the centre had, the times: no personal data."""
    ticket = f" {action.ticket.upper()}" if action.ticket else ""
    zone_name = hall.timezone
    return (
        f"离线{action.action}{ticket}（{window.number}号窗口，{_hm(at, zone_name)}）未执行："
        f"{centre} / offline {action.action}{ticket} at window {window.number}"
        f" ({_hm(at, zone_name)}) not applied"
    )[:500]


def _replay(
    session: Session,
    hall: Hall,
    window: Window,
    action: WindowAction,
    staff: Staff | None,
    at: datetime,
    actor: str,
) -> tuple[TicketView | None, str]:
    """An act the hub made offline, with its original time as `now` everywhere."""
    if (
        action.rating_request_id
        and session.execute(
            select(RatingRequest.id).where(RatingRequest.request_uid == action.rating_request_id)
        ).first()
    ):
        raise _Conflict(
            _conflict_text(
                action,
                hall,
                window,
                at,
                "评价邀请编号已被使用 / the rating request id is already used",
            )
        )
    detail = ""
    if action.action == "call":
        detail = _before_offline_call(session, hall, window, action, at)
    elif action.action in ("recall", "no_show", "start", "finish", "transfer"):
        _window_holds(session, hall, window, action, at)
    elif action.action == "invite_rating" and action.ticket:
        last = ratings_service.last_served_ticket(session, window.id)
        if last is None or last.display != action.ticket.upper():
            raise _Conflict(
                _conflict_text(
                    action,
                    hall,
                    window,
                    at,
                    f"该窗口最近办理的是 {last.display if last else '无'}"
                    f" / the window last served {last.display if last else 'nothing'}",
                )
            )
    view, message = _act(
        session, hall, window, action, staff.id if staff else None, at, actor, replay=True
    )
    return view, detail or message


def _before_offline_call(
    session: Session, hall: Hall, window: Window, action: WindowAction, at: datetime
) -> str:
    """Settle the rule for an offline call: returns the superseded centre act (or
    ""), raises _Conflict when the centre was first."""
    assert action.ticket is not None
    number = action.ticket.upper()
    day = queue_service.local_day(at, hall.timezone)
    ticket = session.execute(
        select(Ticket).where(
            Ticket.hall_id == hall.id, Ticket.service_day == day, Ticket.display == number
        )
    ).scalar_one_or_none()
    if ticket is None:
        raise _Conflict(
            _conflict_text(
                action, hall, window, at, "中心没有该号票 / the centre has no such ticket"
            )
        )
    if ticket.state is TicketState.WAITING:
        return ""
    other = session.get(Window, ticket.window_id) if ticket.window_id else None
    if ticket.state is TicketState.CANCELLED:
        centre_at = ticket.finished_at
    else:
        centre_at = ticket.called_at or ticket.finished_at
    when = _hm(centre_at, hall.timezone)
    had_zh = f"中心记录为{ticket.state.value}" + (f"（{other.number}号窗口）" if other else "")
    had_en = f"the centre had it {ticket.state.value}" + (
        f" at window {other.number}" if other else ""
    )
    if ticket.state is TicketState.CLOSED or centre_at is None or centre_at <= at:
        raise _Conflict(
            _conflict_text(action, hall, window, at, f"{had_zh} {when} / {had_en} at {when}")
        )
    # The offline call was first: the centre's later act gives way.
    if other is not None and other.current_ticket_id == ticket.id:
        locked = session.get(Window, other.id, with_for_update=True)
        assert locked is not None
        locked.current_ticket_id = None
    ticket.state = TicketState.WAITING
    ticket.called_at = None
    ticket.started_at = None
    ticket.finished_at = None
    ticket.window_id = None
    session.flush()  # the call reads the ticket with Core statements
    return (
        f"离线叫号在先（{_hm(at, hall.timezone)}），取代{had_zh} {when}"
        f" / the offline call was first ({_hm(at, hall.timezone)}); {had_en} at {when},"
        " superseded"
    )


def _window_holds(
    session: Session, hall: Hall, window: Window, action: WindowAction, at: datetime
) -> None:
    """An act on the window's current ticket needs the window to hold it still."""
    current = _current(session, window)
    wanted = action.ticket.upper() if action.ticket else None
    if current is not None and (wanted is None or current.display == wanted):
        return
    if current is None:
        had = "该窗口当前没有号票 / the window holds no ticket"
    else:
        had = f"该窗口当前是 {current.display} / the window holds {current.display}"
    if wanted is not None:
        ticket = session.execute(
            select(Ticket).where(
                Ticket.hall_id == hall.id,
                Ticket.service_day == queue_service.local_day(at, hall.timezone),
                Ticket.display == wanted,
            )
        ).scalar_one_or_none()
        if ticket is not None:
            had += f"; {wanted}: {ticket.state.value}"
    raise _Conflict(_conflict_text(action, hall, window, at, had))
