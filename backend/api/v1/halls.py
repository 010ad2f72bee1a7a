"""Halls and the live hall snapshot the displays and phone pages show."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import func, select

from backend.api.framework import PUBLIC, Reply, operation
from backend.api.v1.common import ext, hall_id, now
from backend.models import (
    BadRatingReason,
    Hall,
    Notice,
    QueueCategory,
    Staff,
    Ticket,
    TicketState,
    Window,
)
from backend.services.queue import hall_window_places, local_day, service_seconds
from hallbus.forecast import wait_minutes

blueprint = Blueprint("halls", __name__, url_prefix="/api/v1/halls")


@operation(
    blueprint, "", "GET", auth=PUBLIC, summary="大厅列表（中心、分厅、分中心、代办站）/ halls"
)
def list_halls() -> Reply:
    with ext().db.reading() as session:
        halls = session.execute(select(Hall).order_by(Hall.id)).scalars().all()
        codes = {h.id: h.code for h in halls}
        return {
            "halls": [
                {
                    "code": h.code,
                    "name": h.name,
                    "kind": h.kind.value,
                    "parent": codes.get(h.parent_id) if h.parent_id else None,
                }
                for h in halls
            ]
        }


def hall_snapshot(session: Any, hall: Hall, recent: int = 10) -> dict[str, Any]:
    day = local_day(now(), hall.timezone)
    categories = (
        session.execute(
            select(QueueCategory)
            .where(QueueCategory.hall_id == hall.id)
            .order_by(QueueCategory.prefix)
        )
        .scalars()
        .all()
    )
    waiting = dict(
        session.execute(
            select(Ticket.category_id, func.count())
            .where(
                Ticket.hall_id == hall.id,
                Ticket.service_day == day,
                Ticket.state == TicketState.WAITING,
            )
            .group_by(Ticket.category_id)
        ).all()
    )
    windows = (
        session.execute(select(Window).where(Window.hall_id == hall.id).order_by(Window.id))
        .scalars()
        .all()
    )
    open_by_category: dict[int, int] = {}
    from backend.models import WindowCategory, WindowState

    for category_id, count in session.execute(
        select(WindowCategory.category_id, func.count())
        .join(Window, Window.id == WindowCategory.window_id)
        .where(Window.hall_id == hall.id, Window.state == WindowState.OPEN)
        .group_by(WindowCategory.category_id)
    ).all():
        open_by_category[category_id] = count
    current_ids = [w.current_ticket_id for w in windows if w.current_ticket_id]
    current = (
        {
            t.id: t
            for t in session.execute(select(Ticket).where(Ticket.id.in_(current_ids))).scalars()
        }
        if current_ids
        else {}
    )
    staff_ids = [w.signed_in_staff_id for w in windows if w.signed_in_staff_id]
    staff = (
        {s.id: s for s in session.execute(select(Staff).where(Staff.id.in_(staff_ids))).scalars()}
        if staff_ids
        else {}
    )
    window_numbers = {w.id: w.number for w in windows}
    places = hall_window_places(session, hall.id)
    calls = session.execute(
        select(Ticket.display, Ticket.window_id, Ticket.called_at, Ticket.recall_count)
        .where(Ticket.hall_id == hall.id, Ticket.service_day == day, Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc())
        .limit(recent)
    ).all()
    notices = (
        session.execute(
            select(Notice)
            .where(Notice.hall_id == hall.id, Notice.active.is_(True))
            .order_by(Notice.sort)
        )
        .scalars()
        .all()
    )
    return {
        "hall": {"code": hall.code, "name": hall.name, "timezone": hall.timezone},
        "service_day": day.isoformat(),
        # The forecast's inputs travel with it: the hub recomputes the same figure
        # (hallbus.forecast) as waiting counts change and for tickets it issues offline.
        "categories": [
            {
                "prefix": c.prefix,
                "name": c.name,
                # Where the category's windows are: the kiosk's "where to go".
                "floor": c.floor_number,
                "area": c.area or None,
                "active": c.active,
                "priority_allowed": c.priority_allowed,
                "waiting": int(waiting.get(c.id, 0)),
                "open_windows": open_by_category.get(c.id, 0),
                "service_seconds": service_seconds(session, c),
                "estimated_wait_minutes": wait_minutes(
                    int(waiting.get(c.id, 0)),
                    service_seconds(session, c),
                    open_by_category.get(c.id, 0),
                ),
            }
            for c in categories
        ],
        "windows": [
            {
                "number": w.number,
                "name": w.name,
                "floor": places[w.id].floor if w.id in places else None,
                "state": w.state.value,
                "pause_reason": w.pause_reason,
                "current_ticket": current[w.current_ticket_id].display
                if w.current_ticket_id in current
                else None,
                "staff": {
                    "name": staff[w.signed_in_staff_id].name,
                    "employee_no": staff[w.signed_in_staff_id].employee_no,
                }
                if w.signed_in_staff_id in staff
                else None,
            }
            for w in windows
        ],
        "recent_calls": [
            {
                "ticket": c.display,
                "window": window_numbers.get(c.window_id),
                "floor": places[c.window_id].floor if c.window_id in places else None,
                "called_at": c.called_at.isoformat(),
                "recall_count": c.recall_count,
            }
            for c in calls
        ],
        "notices": [{"title": n.title, "body": n.body} for n in notices],
    }


@operation(
    blueprint,
    "/<code>/status",
    "GET",
    auth=PUBLIC,
    summary="大厅实时概况：各类别等候人数、窗口状态、最近叫号 / live hall snapshot",
)
def status(code: str) -> Reply:
    with ext().db.reading() as session:
        hall = session.get(Hall, hall_id(session, code))
        assert hall is not None
        return hall_snapshot(session, hall)


@operation(
    blueprint,
    "/<code>/rating-reasons",
    "GET",
    auth=PUBLIC,
    summary="差评原因（启用的，按顺序）/ active bad-rating reasons, in order",
)
def rating_reasons(code: str) -> Reply:
    """What a rating device offers after a bad rating; the hub pushes it to the
    evaluators (ConfigPush `bad_reasons`). Public: the same texts every rating
    screen in the hall shows."""
    with ext().db.reading() as session:
        hall_id(session, code)  # 404 for an unknown hall, like every /halls/<code> route
        texts = (
            session.execute(
                select(BadRatingReason.text)
                .where(BadRatingReason.active.is_(True))
                .order_by(BadRatingReason.sort, BadRatingReason.id)
            )
            .scalars()
            .all()
        )
    return {"hall": code, "reasons": list(texts)}
