"""好差评 over HTTP: submit (idempotent), appeal, rectification follow-up."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from backend.api.framework import DEVICE_OR_STAFF, STAFF, Reply, operation, principal
from backend.api.v1.common import actor_label, ext, hall_session, now
from backend.api.v1.schemas import (
    CallbackNote,
    Empty,
    FollowUp,
    Outcome,
    RectificationQuery,
    SubmitRating,
    VoidRating,
)
from backend.models import Hall, Rating, RatingChannel, Rectification, RectificationState, Role
from backend.services import ratings as rating_service
from backend.services.access import Access, Resource, roles_for

blueprint = Blueprint("ratings", __name__, url_prefix="/api/v1")

FOLLOW_UP_ROLES = tuple(sorted(roles_for(Resource.RATING_FOLLOW_UP, Access.WRITE)))


@operation(
    blueprint,
    "/halls/<hall>/ratings",
    "POST",
    body=SubmitRating,
    auth=DEVICE_OR_STAFF,
    summary="提交评价（按 rating_id 幂等，一次一评）/ submit a rating",
)
def submit(hall: str, body: SubmitRating) -> Reply:
    who = principal()
    device = request.headers.get("X-Device-Id") if who.is_hub else who.device_id
    received_at = now()
    with hall_session(hall, who) as (session, hid):
        outcome = rating_service.submit_rating(
            session,
            hall_id=hid,
            data=rating_service.RatingInput(
                rating_uid=body.rating_id,
                level=body.level,
                channel=RatingChannel(body.channel),
                rated_at=body.rated_at or received_at,
                ticket_id=body.ticket_id,
                receipt_number=body.receipt_number,
                window_number=body.window,
                device_id=device,
                reasons=tuple(body.reasons),
                note=body.note,
                dimensions=body.dimensions,
                request_uid=body.request_id,
                received_at=received_at,
            ),
            actor=actor_label(who, device),
            protector=ext().protector,
        )
        reply = rating_service.rating_json(outcome.rating)
        reply["duplicate"] = not outcome.created
    return reply, (201 if outcome.created else 200)


@operation(
    blueprint,
    "/ratings/<int:rating_id>/void",
    "POST",
    body=VoidRating,
    auth=STAFF,
    roles=(Role.SUPERVISOR, Role.ADMINISTRATOR),
    summary="申诉复核后作废评价（保留记录）/ void a rating after appeal",
)
def void(rating_id: int, body: VoidRating) -> Reply:
    who = principal()
    with ext().db.writing() as session:
        rating = rating_service.void_rating(
            session,
            rating_id=rating_id,
            reason=body.reason,
            staff_id=who.staff_id or 0,
            now=now(),
            actor=who.label,
        )
        return rating_service.rating_json(rating)


@operation(
    blueprint,
    "/rectifications",
    "GET",
    query=RectificationQuery,
    auth=STAFF,
    roles=FOLLOW_UP_ROLES,
    summary="差评整改清单及剩余时限 / bad-rating follow-ups",
)
def rectifications(query: RectificationQuery) -> Reply:
    who = principal()
    with ext().db.reading() as session:
        # "Today" is the local day of the hall where the rating was given, not the UTC date.
        statement = (
            select(Rectification, Hall.timezone)
            .join(Rating, Rating.id == Rectification.rating_id)
            .join(Hall, Hall.id == Rating.hall_id)
            .order_by(Rectification.rectify_due)
            .limit(query.limit)
        )
        if query.state:
            statement = statement.where(Rectification.state == RectificationState(query.state))
        if not who.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
            statement = statement.where(Rectification.department_id == who.department_id)
        from backend.services.calendar import calendar_for
        from backend.services.queue import local_day

        calendar = calendar_for(session)
        instant = now()
        return {
            "items": [
                {
                    "id": r.id,
                    "rating": r.rating_id,  # the rating's id for an appeal (void)
                    "state": r.state.value,
                    "reasons": r.reasons,
                    "department_id": r.department_id,
                    "callback_due": r.callback_due.isoformat(),
                    "rectify_due": r.rectify_due.isoformat(),
                    "working_days_left": calendar.remaining_working_days(
                        r.rectify_due, local_day(instant, timezone)
                    ),
                    "provisional": r.due_provisional,
                }
                for r, timezone in session.execute(statement).all()
            ]
        }


def _rectification_reply(item: Rectification) -> dict[str, Any]:
    return {"id": item.id, "state": item.state.value}


def _rectification_step(
    item_id: int,
    record: Callable[..., Rectification],
    reply: Callable[[Rectification], dict[str, Any]] = _rectification_reply,
    **details: Any,
) -> Reply:
    """Callback, outcome and follow-up rating: one service call on one item, by the
    signed-in staff member, answered with the item's new state."""
    who = principal()
    with ext().db.writing() as session:
        item = record(session, rectification_id=item_id, actor=who.label, **details)
        return reply(item)


@operation(
    blueprint,
    "/rectifications/<int:item_id>/callback",
    "POST",
    body=CallbackNote,
    auth=STAFF,
    roles=FOLLOW_UP_ROLES,
    summary="记录回访 / record the callback",
)
def callback(item_id: int, body: CallbackNote) -> Reply:
    return _rectification_step(item_id, rating_service.record_callback, note=body.note, now=now())


@operation(
    blueprint,
    "/rectifications/<int:item_id>/original-note",
    "POST",
    body=Empty,
    auth=STAFF,
    roles=FOLLOW_UP_ROLES,
    summary="回访前查看差评原始备注（留痕）/ the bad rating's note as written, for the callback",
)
def original_note(item_id: int, body: Empty) -> Reply:
    # POST, not GET: every reading is an audited act, and no cache or log
    # keeps an answer that holds a phone number.
    who = principal()
    with ext().db.writing() as session:
        note = rating_service.original_note(
            session, rectification_id=item_id, protector=ext().protector, actor=who.label
        )
        return {"id": item_id, "note": note}


@operation(
    blueprint,
    "/rectifications/<int:item_id>/rectified",
    "POST",
    body=Outcome,
    auth=STAFF,
    roles=FOLLOW_UP_ROLES,
    summary="记录整改结果 / record the outcome",
)
def rectified(item_id: int, body: Outcome) -> Reply:
    return _rectification_step(
        item_id, rating_service.record_rectified, outcome=body.outcome, now=now()
    )


@operation(
    blueprint,
    "/rectifications/<int:item_id>/follow-up",
    "POST",
    body=FollowUp,
    auth=STAFF,
    roles=FOLLOW_UP_ROLES,
    summary="整改后复评 / the applicant's rating of the fix",
)
def follow_up(item_id: int, body: FollowUp) -> Reply:
    return _rectification_step(
        item_id,
        rating_service.record_follow_up,
        lambda item: {**_rectification_reply(item), "follow_up_level": item.follow_up_level},
        level=body.level,
    )


def new_rating_id() -> str:
    return uuid.uuid4().hex
