"""叫号台: the window console a clerk uses all day.

Every action is an ordinary form POST (works without scripts: post, redirect,
show). With scripts, `static/js/console.js` sends the same form with fetch()
and the `X-Hallkit-Fragment` header, and swaps in the re-rendered live part of
the page that the action returns, so a click shows its result in one round
trip. Other windows' calls and new tickets arrive over the live stream and
refresh the same part.

When the centre cannot decide for the hall (it is unreachable, its database is
gone, or the hall hub is offline or replaying calls made offline), the page's
`static/js/hub_redirect.js` sends the clerk to the hall hub's console, whose
address the hub reports (`halls.hub_console_url`): the clerk need not know which
side answers (docs/web.md, "The console through an outage").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
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
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from backend.api.errors import audit_refusal
from backend.errors import BadInput, DomainError, NotFound
from backend.models import (
    Channel,
    Hall,
    QueueCategory,
    Rating,
    Role,
    Staff,
    Standing,
    Ticket,
    TicketState,
    Window,
    WindowCategory,
    WindowState,
)
from backend.services import offline as offline_service
from backend.services import queue as queue_service
from backend.services import ratings as ratings_service
from backend.web.auth import StaffUser, current_staff, window_required
from backend.web.layout import add_nav, page_errors, wants_fragment
from backend.web.live import QUEUE_EVENTS, live_cursor

log = logging.getLogger(__name__)

blueprint = Blueprint("console", __name__, url_prefix="/console")
page_errors(blueprint, fallback_endpoint="console.index")
add_nav(
    "console.index",
    _l("叫号台"),
    roles=(Role.CLERK, Role.ADMINISTRATOR),
    order=10,
    needs_window=True,
)

PAUSE_REASONS = (
    _l("临时离开"),
    _l("业务咨询"),
    _l("会议"),
    _l("系统故障"),
    _l("午间轮换"),
    _l("其他"),
)
LIVE_KINDS = (*QUEUE_EVENTS, "rating_requested", "rating_submitted")


@dataclass(frozen=True)
class WaitingRow:
    number: str
    category: str
    category_name: str
    standing: int
    priority_kind: str | None
    waited_minutes: int
    transferred_here: bool

    @property
    def is_priority(self) -> bool:
        return self.standing == Standing.PRIORITY.value

    @property
    def is_appointment(self) -> bool:
        return self.standing == Standing.APPOINTMENT.value


@dataclass(frozen=True)
class HeldRow:
    number: str
    category_name: str
    held_minutes: int
    reason: str
    held_here: bool  # held at this window (else at another window of the category)


@dataclass(frozen=True)
class Counters:
    served: int
    no_show: int
    average_service_minutes: float | None
    ratings: int
    satisfied_percent: int | None


def _now() -> datetime:
    now: datetime = current_app.extensions["hallkit"].clock()
    return now


def _db() -> Any:
    return current_app.extensions["hallkit"].db


def _window_id(user: StaffUser) -> int:
    assert user.principal.window_id is not None
    return user.principal.window_id


def waiting_rows(
    session: Session, window: Window, day: Any, now: datetime, limit: int = 30
) -> tuple[list[WaitingRow], int]:
    """This window's queue in the order call-next would take it (standing,
    category weight, first come first served)."""
    effective = case(
        (
            and_(Ticket.standing == Standing.APPOINTMENT.value, Ticket.sort_at > now),
            Standing.ORDINARY.value,
        ),
        else_=Ticket.standing,
    )
    condition = and_(
        Ticket.hall_id == window.hall_id,
        Ticket.service_day == day,
        Ticket.state == TicketState.WAITING,
        or_(
            and_(WindowCategory.window_id.is_not(None), Ticket.target_window_id.is_(None)),
            Ticket.target_window_id == window.id,
        ),
    )
    joined = (
        select(Ticket, QueueCategory)
        .join(QueueCategory, QueueCategory.id == Ticket.category_id)
        .outerjoin(
            WindowCategory,
            and_(
                WindowCategory.category_id == Ticket.category_id,
                WindowCategory.window_id == window.id,
            ),
        )
        .where(condition)
        .order_by(
            effective, func.coalesce(WindowCategory.weight, 0).desc(), Ticket.sort_at, Ticket.id
        )
        .limit(limit)
    )
    rows = [
        WaitingRow(
            number=ticket.display,
            category=category.prefix,
            category_name=category.name,
            standing=ticket.standing,
            priority_kind=ticket.priority_kind,
            waited_minutes=max(0, int((now - ticket.issued_at).total_seconds() // 60)),
            transferred_here=ticket.target_window_id == window.id,
        )
        for ticket, category in session.execute(joined).all()
    ]
    total = session.execute(
        select(func.count())
        .select_from(Ticket)
        .outerjoin(
            WindowCategory,
            and_(
                WindowCategory.category_id == Ticket.category_id,
                WindowCategory.window_id == window.id,
            ),
        )
        .where(condition)
    ).scalar_one()
    return rows, int(total)


def counters_for(session: Session, window: Window, day: Any) -> Counters:
    served_rows = session.execute(
        select(Ticket.called_at, Ticket.started_at, Ticket.finished_at).where(
            Ticket.window_id == window.id,
            Ticket.service_day == day,
            Ticket.state == TicketState.DONE,
        )
    ).all()
    durations = [
        (finished - (started or called)).total_seconds()
        for called, started, finished in served_rows
        if finished is not None and (started or called) is not None
    ]
    no_show = session.execute(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.window_id == window.id,
            Ticket.service_day == day,
            Ticket.state == TicketState.NO_SHOW,
        )
    ).scalar_one()
    levels = list(
        session.execute(
            select(Rating.level)
            .join(Ticket, Ticket.id == Rating.ticket_id)
            .where(
                Rating.window_id == window.id, Ticket.service_day == day, Rating.voided.is_(False)
            )
        ).scalars()
    )
    return Counters(
        served=len(served_rows),
        no_show=int(no_show),
        average_service_minutes=round(sum(durations) / len(durations) / 60, 1)
        if durations
        else None,
        ratings=len(levels),
        satisfied_percent=round(100 * sum(1 for level in levels if level >= 4) / len(levels))
        if levels
        else None,
    )


def _panel_context(session: Session, user: StaffUser) -> dict[str, Any]:
    live_cursor()  # before the data: see live_cursor
    now = _now()
    row = session.execute(
        select(Window, Hall)
        .join(Hall, Hall.id == Window.hall_id)
        .where(Window.id == _window_id(user))
    ).one()
    window, hall = row[0], row[1]
    day = queue_service.local_day(now, hall.timezone)
    current = session.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None
    current_category = session.get(QueueCategory, current.category_id) if current else None
    last_served = session.execute(
        select(Ticket)
        .where(
            Ticket.window_id == window.id,
            Ticket.service_day == day,
            Ticket.state == TicketState.DONE,
        )
        .order_by(Ticket.finished_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    waiting, waiting_total = waiting_rows(session, window, day, now)
    held = [
        HeldRow(
            number=ticket.display,
            category_name=category_meta.name,
            held_minutes=max(0, int((now - (ticket.held_at or now)).total_seconds() // 60)),
            reason=ticket.hold_reason,
            held_here=ticket.window_id == window.id,
        )
        for ticket in queue_service.held_tickets(session, window_id=window.id, day=day)
        for category_meta in (queue_service.category_meta(session, ticket.category_id),)
    ]
    return {
        "held": held,
        "window": window,
        "hall": hall,
        "current": current,
        "current_category": current_category,
        "last_served": last_served,
        "waiting": waiting,
        "waiting_total": waiting_total,
        "counters": counters_for(session, window, day),
        "auto_call": bool(session_flag("auto_call")),
        "now": now,
        "priority_labels": queue_service.PRIORITY_KINDS,
    }


def session_flag(name: str) -> bool:
    return bool(session.get(name))


def hub_context(hall: Hall, now: datetime) -> dict[str, Any]:
    """What hub_redirect.js needs: the hub console's address, where to ask its mode
    (`<console>/mode`, contract of issue 15), and whether the hub said it is
    replaying recently enough that the page should go there at once."""
    console_url = (hall.hub_console_url or "").strip()
    if not console_url.startswith(("http://", "https://")):
        # The API accepts only http(s) addresses; anything else is never followed.
        console_url = ""
    reported_at = hall.hub_mode_at
    replaying = (
        hall.hub_mode == "replaying"
        and reported_at is not None
        # as recent as the window actions' lock trusts it (refuse_while_replaying)
        and now - reported_at < offline_service.REPLAY_LOCK
    )
    return {
        "hub_console_url": console_url,
        "hub_mode_url": console_url.rstrip("/") + "/mode" if console_url else "",
        "hub_replaying": bool(console_url) and replaying,
    }


def _dialog_context(session_db: Session, user: StaffUser) -> dict[str, Any]:
    window = session_db.get(Window, _window_id(user))
    assert window is not None
    categories = list(
        session_db.execute(
            select(QueueCategory)
            .where(QueueCategory.hall_id == window.hall_id, QueueCategory.active.is_(True))
            .order_by(QueueCategory.prefix)
        ).scalars()
    )
    own_categories = list(
        session_db.execute(
            select(QueueCategory.prefix)
            .join(WindowCategory, WindowCategory.category_id == QueueCategory.id)
            .where(WindowCategory.window_id == window.id)
            .order_by(WindowCategory.weight.desc(), QueueCategory.prefix)
        ).scalars()
    )
    windows = list(
        session_db.execute(
            select(Window).where(Window.hall_id == window.hall_id, Window.id != window.id)
        ).scalars()
    )
    windows.sort(key=lambda w: (len(w.number), w.number))
    clerks = session_db.execute(
        select(Staff.employee_no, Staff.name, Window.number)
        .join(Window, Window.signed_in_staff_id == Staff.id)
        .where(
            Window.hall_id == window.hall_id,
            Window.id != window.id,
            Window.state == WindowState.OPEN,
        )
        .order_by(Staff.employee_no)
    ).all()
    return {
        "categories": categories,
        "own_categories": own_categories,
        "other_windows": windows,
        "clerks": clerks,
        "pause_reasons": [str(reason) for reason in PAUSE_REASONS],
        "live_kinds": ",".join(LIVE_KINDS),
    }


@blueprint.get("")
@window_required
def index() -> Any:
    user = current_staff()
    with _db().reading() as db_session:
        context = _panel_context(db_session, user)
        context.update(_dialog_context(db_session, user))
        context.update(hub_context(context["hall"], context["now"]))
    return render_template("console/index.html", **context)


@blueprint.get("/panel")
@window_required
def panel() -> Any:
    user = current_staff()
    with _db().reading() as db_session:
        context = _panel_context(db_session, user)
    return render_template("console/_panel.html", **context)


def _respond(message: str | None, level: str = "success", status: int = 200, code: str = "") -> Any:
    """The fragment for fetch(); a redirect back to the console otherwise. A refusal's
    code goes in X-Hallkit-Error, so the script can tell `hall_replaying` (go to the
    hub console) from an ordinary refusal (show the message)."""
    if wants_fragment():
        user = current_staff()
        with _db().reading() as db_session:
            context = _panel_context(db_session, user)
        headers = {"X-Hallkit-Error": code} if code else {}
        return (
            render_template("console/_panel.html", message=message, message_level=level, **context),
            status,
            headers,
        )
    if message:
        flash(message, level)
    return redirect(url_for("console.index"))


def _act(action: Callable[[Session, StaffUser, datetime], str | None]) -> Any:
    user = current_staff()
    try:
        with _db().writing() as db_session:
            # The API's window actions pass the same check (backend/api/v1/queue.py).
            offline_service.refuse_while_replaying(
                db_session, window_id=_window_id(user), now=_now()
            )
            message = action(db_session, user, _now())
    except DomainError as error:
        # The message names ticket numbers and windows only, never a person.
        log.info("console %s refused: %s: %s", request.endpoint, error.code, error.message)
        if error.refusal:
            audit_refusal(error.message, error.status)
        return _respond(error.message, "error", error.status, error.code)
    return _respond(message)


def _called_message(result: queue_service.CallResult) -> str:
    if result.ticket is None:
        return _("当前没有等候的号票")
    return _("已呼叫 %(number)s", number=result.ticket.number)


@blueprint.post("/call-next")
@window_required
def call_next() -> Any:
    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        result = queue_service.call_next(
            db_session,
            window_id=_window_id(user),
            staff_id=user.staff_id,
            now=now,
            actor=user.principal.label,
        )
        return _called_message(result)

    return _act(action)


def _act_on_ticket(
    service: Callable[..., queue_service.TicketView],
    message: Callable[[queue_service.TicketView], str],
) -> Any:
    """Recall, no-show and start: one call on the window's ticket, one message about it."""

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        view = service(db_session, window_id=_window_id(user), now=now, actor=user.principal.label)
        return message(view)

    return _act(action)


@blueprint.post("/recall")
@window_required
def recall() -> Any:
    return _act_on_ticket(
        queue_service.recall,
        lambda view: _(
            "已重呼 %(number)s（第 %(count)d 次）", number=view.number, count=view.recall_count
        ),
    )


@blueprint.post("/no-show")
@window_required
def no_show() -> Any:
    return _act_on_ticket(
        queue_service.no_show, lambda view: _("%(number)s 已过号", number=view.number)
    )


@blueprint.post("/start")
@window_required
def start() -> Any:
    return _act_on_ticket(
        queue_service.start_service, lambda view: _("开始办理 %(number)s", number=view.number)
    )


@blueprint.post("/hold")
@window_required
def hold() -> Any:
    """挂起: the visitor fetches a missing paper; the window may call the next one."""
    reason = request.form.get("reason", "").strip()[:200]

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        view = queue_service.hold(
            db_session,
            window_id=_window_id(user),
            reason=reason,
            now=now,
            actor=user.principal.label,
        )
        return _("%(number)s 已挂起，可叫下一号", number=view.number)

    return _act(action)


@blueprint.post("/resume-held")
@window_required
def resume_held() -> Any:
    number = request.form.get("number", "").strip().upper()

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        if not number:
            raise BadInput(_("请选择挂起的号票"))
        view = queue_service.resume_held(
            db_session,
            window_id=_window_id(user),
            number=number,
            staff_id=user.staff_id,
            now=now,
            actor=user.principal.label,
        )
        return _("已恢复办理 %(number)s", number=view.number)

    return _act(action)


@blueprint.post("/finish")
@window_required
def finish() -> Any:
    """办结; in auto-call mode the next ticket is called in the same step
    (call-next finishes the current ticket atomically)."""

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        if session_flag("auto_call"):
            result = queue_service.call_next(
                db_session,
                window_id=_window_id(user),
                staff_id=user.staff_id,
                now=now,
                actor=user.principal.label,
            )
            if result.finished is None:
                raise BadInput(_("当前没有办理中的号票"))
            if result.ticket is None:
                return _("%(number)s 已办结；当前没有等候的号票", number=result.finished.number)
            return _(
                "%(finished)s 已办结，已自动呼叫 %(number)s",
                finished=result.finished.number,
                number=result.ticket.number,
            )
        view = queue_service.finish_service(
            db_session, window_id=_window_id(user), now=now, actor=user.principal.label
        )
        return _("%(number)s 已办结", number=view.number)

    return _act(action)


@blueprint.post("/invite-rating")
@window_required
def invite_rating() -> Any:
    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        ratings_service.invite_rating(
            db_session, window_id=_window_id(user), now=now, actor=user.principal.label
        )
        return _("已邀请办事人评价")

    return _act(action)


@blueprint.post("/transfer")
@window_required
def transfer() -> Any:
    target = request.form.get("target", "")
    reason = request.form.get("reason", "").strip()[:200]

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        window = db_session.get(Window, _window_id(user))
        assert window is not None
        if window.current_ticket_id is None:
            raise NotFound(_("本窗口当前没有号票"))
        kind, _sep, value = target.partition(":")
        to_category = value if kind == "category" else None
        to_window = value if kind == "window" else None
        if kind == "clerk":
            clerk_window = db_session.execute(
                select(Window.number)
                .join(Staff, Staff.id == Window.signed_in_staff_id)
                .where(
                    Staff.employee_no == value,
                    Window.hall_id == window.hall_id,
                    Window.state == WindowState.OPEN,
                )
            ).scalar_one_or_none()
            if clerk_window is None:
                raise BadInput(_("该工作人员当前未在窗口签到"))
            to_window = clerk_window
        if not (to_category or to_window):
            raise BadInput(_("请选择转移目标"))
        view = queue_service.transfer(
            db_session,
            hall_id=window.hall_id,
            ticket_id=window.current_ticket_id,
            to_category=to_category,
            to_window=to_window,
            now=now,
            actor=user.principal.label,
            reason=reason,
        )
        return _("%(number)s 已转移", number=view.number)

    return _act(action)


@blueprint.post("/pause")
@window_required
def pause() -> Any:
    reason = request.form.get("reason", "").strip()
    detail = request.form.get("detail", "").strip()
    minutes = request.form.get("minutes", "")

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        back_at = now + timedelta(minutes=int(minutes)) if minutes.isdigit() else None
        text = f"{reason} {detail}".strip()
        queue_service.set_window_state(
            db_session,
            window_id=_window_id(user),
            state=WindowState.PAUSED,
            now=now,
            actor=user.principal.label,
            reason=text,
            expected_back_at=back_at,
        )
        return _("窗口已暂停服务")

    return _act(action)


@blueprint.post("/resume")
@window_required
def resume() -> Any:
    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        queue_service.set_window_state(
            db_session,
            window_id=_window_id(user),
            state=WindowState.OPEN,
            now=now,
            actor=user.principal.label,
            staff_id=user.staff_id,
        )
        return _("窗口已恢复服务")

    return _act(action)


@blueprint.post("/call-specific")
@window_required
def call_specific() -> Any:
    number = request.form.get("number", "").strip().upper()
    reason = request.form.get("reason", "")

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        if not number:
            raise BadInput(_("请输入号码"))
        result = queue_service.call_specific(
            db_session,
            window_id=_window_id(user),
            number=number,
            reason=reason,
            staff_id=user.staff_id,
            now=now,
            actor=user.principal.label,
        )
        return _called_message(result)

    return _act(action)


@blueprint.post("/walk-in")
@window_required
def walk_in() -> Any:
    """现场服务: a person at the desk without a ticket gets one in this window's
    category and is called at once, so the service is counted like any other."""
    prefix = request.form.get("category", "").strip().upper()
    priority = request.form.get("priority_kind") or None

    def action(db_session: Session, user: StaffUser, now: datetime) -> str:
        window = db_session.get(Window, _window_id(user))
        assert window is not None
        view = queue_service.issue_ticket(
            db_session,
            hall_id=window.hall_id,
            category_prefix=prefix or None,
            channel=Channel.STAFF,
            priority_kind=priority,
            now=now,
            actor=user.principal.label,
        )
        result = queue_service.call_specific(
            db_session,
            window_id=window.id,
            number=view.number,
            reason="现场服务 walk-in",
            staff_id=user.staff_id,
            now=now,
            actor=user.principal.label,
        )
        return _called_message(result)

    return _act(action)


@blueprint.post("/auto-call")
@window_required
def auto_call() -> Any:
    session["auto_call"] = not session_flag("auto_call")
    return _respond(_("自动叫号已开启") if session["auto_call"] else _("自动叫号已关闭"), "info")
