"""好差评: rate-now requests, ratings (once per service, idempotent), appeals and
the rectification of every bad rating.

No rating is ever invented: a request that nobody answers expires and records
nothing; there is no default level anywhere in this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import BadInput, Conflict, InvalidTransition, NotFound
from backend.models import (
    AppealState,
    Case,
    CaseState,
    Hall,
    MatterVersion,
    Rating,
    RatingAppeal,
    RatingChannel,
    RatingLevel,
    RatingRequest,
    RatingRequestState,
    Rectification,
    RectificationState,
    Staff,
    Ticket,
    TicketState,
    Window,
)
from backend.privacy import IdentityProtector, redact_text
from backend.services import eventlog
from backend.services.audit import record
from backend.services.calendar import calendar_for
from backend.services.policy import HallPolicy
from backend.services.rawsql import RawSql

MAX_REASONS = 10
# Working days the supervision room has to decide an appeal (申诉复核).
APPEAL_DECIDE_WORKING_DAYS = 5
MIN_REASON_CHARS = 4

# A rating answers its invitation (rate-now) only while the invitation is valid:
# given at or before `expires_at` (device clocks may be this far ahead), and
# received at most OFFLINE_GRACE after it. The grace is for ratings the hub (or
# the evaluator) kept while the backend or the broker was away (docs/hub.md): a
# rating made in time stays valid through an outage of up to a day. Anything
# later is refused, and records nothing.
RATING_CLOCK_SKEW = timedelta(seconds=30)
OFFLINE_GRACE = timedelta(hours=24)


def request_rating_for(
    session: Session,
    *,
    hall_id: int,
    ticket_id: int,
    ticket_number: str,
    window_id: int,
    window_number: str,
    staff_id: int | None,
    matter_version_id: int | None,
    staff: dict[str, str] | None,
    now: datetime,
    timeout_seconds: int,
    actor: str,
    request_uid: str | None = None,
) -> str:
    """Ask the window's evaluator to rate this service ("rate now"); returns the
    request id. Called when a service ends, on the hot path of call-next, so it
    is one INSERT (deferred: on PostgreSQL it goes with the next statement or the
    COMMIT) and one event.

    `request_uid`: the id the hub gave the invitation it sent while offline
    (replayed with its original time as `now`), so the rating answering it is
    matched when it is replayed in turn."""
    request_uid = request_uid or uuid.uuid4().hex
    expires_at = now + timedelta(seconds=timeout_seconds)
    raw = RawSql.of(session)
    raw.defer(
        "INSERT INTO rating_requests (request_uid, hall_id, ticket_id, window_id, staff_id,"
        " requested_at, expires_at, state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            request_uid,
            hall_id,
            ticket_id,
            window_id,
            staff_id,
            raw.when(now),
            raw.when(expires_at),
            RatingRequestState.OPEN.value,
        ),
    )
    matter = None
    if matter_version_id is not None:
        version = session.get(MatterVersion, matter_version_id)
        matter = {"code": version.code, "name": version.name} if version else None
    eventlog.emit(
        session,
        hall_id,
        "rating_requested",
        {
            "request_id": request_uid,
            "window": window_number,
            "ticket": ticket_number,
            "ticket_id": ticket_id,
            "matter": matter,
            "staff": staff,
            "expires_at": expires_at.isoformat(),
            "actor": actor,
        },
    )
    return request_uid


def request_rating(
    session: Session,
    *,
    ticket: Ticket,
    window: Window,
    hall: Hall,
    now: datetime,
    actor: str,
    request_uid: str | None = None,
) -> RatingRequest:
    """Invite a rating for a ticket again (the clerk's "invite rating" button);
    an open request for the same ticket is reused. With `request_uid` (an
    invitation the hub sent offline, see request_rating_for) exactly that
    invitation is recorded: the evaluator was asked under that id."""
    # An invitation past its deadline is expired first: reusing it would send
    # the evaluator a rate-now that the hub drops as already expired.
    expire_requests(session, now=now, ticket_id=ticket.id)
    existing = session.execute(
        select(RatingRequest)
        .where(RatingRequest.ticket_id == ticket.id)
        .where(
            RatingRequest.request_uid == request_uid
            if request_uid
            else RatingRequest.state == RatingRequestState.OPEN
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    staff = session.get(Staff, ticket.staff_id) if ticket.staff_id else None
    policy = HallPolicy.from_json(hall.call_policy)
    request_uid = request_rating_for(
        session,
        hall_id=hall.id,
        ticket_id=ticket.id,
        ticket_number=ticket.display,
        window_id=window.id,
        window_number=window.number,
        staff_id=ticket.staff_id,
        matter_version_id=ticket.matter_version_id,
        staff={"name": staff.name, "employee_no": staff.employee_no} if staff else None,
        now=now,
        timeout_seconds=policy.rating_timeout_seconds,
        actor=actor,
        request_uid=request_uid,
    )
    record(session, actor, "rating.request", "ticket", ticket.id, {"window": window.number})
    return session.execute(
        select(RatingRequest).where(RatingRequest.request_uid == request_uid)
    ).scalar_one()


def last_served_ticket(session: Session, window_id: int) -> Ticket | None:
    """The ticket an "invite rating" at this window is about: the one called last."""
    return session.execute(
        select(Ticket)
        .where(
            Ticket.window_id == window_id,
            Ticket.state.in_([TicketState.SERVING, TicketState.DONE, TicketState.CALLED]),
        )
        .order_by(Ticket.called_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def invite_rating(
    session: Session,
    *,
    window_id: int,
    now: datetime,
    actor: str,
    request_uid: str | None = None,
) -> RatingRequest:
    """The clerk presses "invite rating" for the ticket last served at this window."""
    window = session.get(Window, window_id)
    if window is None:
        raise NotFound("窗口不存在 / window not found")
    ticket = last_served_ticket(session, window.id)
    if ticket is None:
        raise InvalidTransition("本窗口今天还没有服务过的号票 / nothing to rate at this window")
    hall = session.get(Hall, window.hall_id)
    assert hall is not None
    return request_rating(
        session,
        ticket=ticket,
        window=window,
        hall=hall,
        now=now,
        actor=actor,
        request_uid=request_uid,
    )


def expire_requests(session: Session, *, now: datetime, ticket_id: int | None = None) -> int:
    """Requests past their deadline expire (all, or one ticket's). They record no
    rating. Run by the supervision scheduler on every scan, by close-day, and
    before an invitation is reused or answered, so `open` is never stale."""
    statement = update(RatingRequest).where(
        RatingRequest.state == RatingRequestState.OPEN, RatingRequest.expires_at < now
    )
    if ticket_id is not None:
        statement = statement.where(RatingRequest.ticket_id == ticket_id)
    result = session.execute(statement.values(state=RatingRequestState.EXPIRED))
    return int(result.rowcount or 0)


def _invitation(
    session: Session, *, hall_id: int, ticket: Ticket, data: RatingInput
) -> RatingRequest | None:
    """The invitation this rating answers: the one it names, else (an evaluator,
    which rates only when invited) the ticket's latest. None for a rating nobody
    was invited to give (the kiosk's or the phone's 服务评价)."""
    if data.request_uid is not None:
        invitation = session.execute(
            select(RatingRequest).where(RatingRequest.request_uid == data.request_uid)
        ).scalar_one_or_none()
        if invitation is None or invitation.hall_id != hall_id:
            raise NotFound(
                "评价邀请不存在 / no such rating invitation", reason="unknown_invitation"
            )
        if invitation.ticket_id != ticket.id:
            raise Conflict(
                "该评价邀请不是针对这张号票的 / the invitation is for another service",
                reason="invitation_mismatch",
            )
        return invitation
    if data.channel is not RatingChannel.EVALUATOR:
        return None
    return session.execute(
        select(RatingRequest)
        .where(RatingRequest.ticket_id == ticket.id)
        .order_by(RatingRequest.requested_at.desc(), RatingRequest.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def check_invitation_valid(invitation: RatingRequest, *, rated_at: datetime, now: datetime) -> None:
    """The one rule for a rating's time: see RATING_CLOCK_SKEW and OFFLINE_GRACE."""
    if rated_at > invitation.expires_at + RATING_CLOCK_SKEW:
        raise Conflict(
            "评价邀请已过期，评价未记录 / the rating invitation had expired; nothing recorded",
            reason="invitation_expired",
            expires_at=invitation.expires_at.isoformat(),
        )
    if now > invitation.expires_at + OFFLINE_GRACE:
        raise Conflict(
            "评价送达时已超过离线宽限期，评价未记录 / the rating arrived after the offline"
            " grace; nothing recorded",
            reason="arrived_too_late",
            expires_at=invitation.expires_at.isoformat(),
        )


@dataclass(frozen=True)
class RatingInput:
    rating_uid: str
    level: int
    channel: RatingChannel
    rated_at: datetime
    ticket_id: int | None = None
    receipt_number: str | None = None
    window_number: str | None = None
    device_id: str | None = None
    reasons: tuple[str, ...] = ()
    note: str = ""
    dimensions: dict[str, int] | None = None
    request_uid: str | None = None  # the rate-now invitation answered, if any
    received_at: datetime | None = None  # when it reached the backend (default: rated_at)


@dataclass(frozen=True)
class RatingOutcome:
    rating: Rating
    created: bool  # False when the same rating id was already stored (a retry)


def _validate(data: RatingInput) -> RatingLevel:
    if not data.rating_uid or len(data.rating_uid) > 64:
        raise BadInput("评价编号缺失或过长 / rating id missing or too long")
    try:
        level = RatingLevel(data.level)
    except ValueError as error:
        raise BadInput("评价等级须为 1–5 / level must be 1..5", level=data.level) from error
    if len(data.reasons) > MAX_REASONS or any(len(r) > 100 for r in data.reasons):
        raise BadInput("差评原因过多或过长 / too many or too long reasons")
    if len(data.note) > 500:
        raise BadInput("备注不超过500字 / note too long")
    for name, score in (data.dimensions or {}).items():
        if not (isinstance(score, int) and 1 <= score <= 5) or len(name) > 40:
            raise BadInput(f"评价维度 {name} 的分数须为 1–5 / dimension score must be 1..5")
    if level.is_bad and not data.reasons:
        raise BadInput("差评须选择原因 / a bad rating needs at least one reason")
    if (data.ticket_id is None) == (data.receipt_number is None):
        raise BadInput("须指明所评价的号票或办件（二选一）/ rate a ticket or a case")
    return level


def _sealed_original_note(note: str, level: RatingLevel, protector: IdentityProtector) -> str:
    """The note as written, sealed, where the callback of a bad rating may need
    it (see Rating.note_sealed); "" everywhere else."""
    if not level.is_bad or redact_text(note) == note:
        return ""
    return protector.seal_text(note)


def original_note(
    session: Session,
    *,
    rectification_id: int,
    protector: IdentityProtector,
    actor: str,
) -> str:
    """A bad rating's note as the rater wrote it, for the staff calling them back.

    Only while the callback is still to be made; every reading is audited
    (who, which item; never the content)."""
    item = _rectification(
        session,
        rectification_id,
        RectificationState.OPEN,
        "回访已记录，原始备注不再提供 / the callback is recorded; the original note is closed",
    )
    rating = session.get(Rating, item.rating_id)
    assert rating is not None
    if not rating.note_sealed:
        return rating.note
    try:
        original = protector.open_text(rating.note_sealed)
    except ValueError:
        raise Conflict("原始备注无法解密 / the original note cannot be opened") from None
    record(session, actor, "rating.note_revealed", "rectification", item.id)
    return original


def submit_rating(
    session: Session,
    *,
    hall_id: int,
    data: RatingInput,
    actor: str,
    protector: IdentityProtector,
) -> RatingOutcome:
    level = _validate(data)
    existing = session.execute(
        select(Rating).where(Rating.rating_uid == data.rating_uid)
    ).scalar_one_or_none()
    if existing is not None:
        return RatingOutcome(existing, created=False)

    ticket: Ticket | None = None
    case: Case | None = None
    window: Window | None = None
    invitation: RatingRequest | None = None
    if data.ticket_id is not None:
        ticket = session.get(Ticket, data.ticket_id)
        if ticket is None or ticket.hall_id != hall_id:
            raise NotFound("号票不存在 / ticket not found")
        if ticket.state not in (TicketState.SERVING, TicketState.DONE) or ticket.window_id is None:
            raise InvalidTransition("该号票尚未办理，不能评价 / this ticket has not been served")
        window = session.get(Window, ticket.window_id)
        if data.window_number is not None and (
            window is None or window.number != data.window_number
        ):
            raise Conflict("该号票不是在本窗口办理的 / this service was not at this window")
        invitation = _invitation(session, hall_id=hall_id, ticket=ticket, data=data)
        if invitation is not None:
            check_invitation_valid(
                invitation, rated_at=data.rated_at, now=data.received_at or data.rated_at
            )
        service_key = f"ticket:{ticket.id}"
        staff_id = ticket.staff_id
        matter = (
            session.get(MatterVersion, ticket.matter_version_id)
            if ticket.matter_version_id
            else None
        )
    else:
        case = session.execute(
            select(Case).where(Case.receipt_number == data.receipt_number)
        ).scalar_one_or_none()
        if case is None or case.hall_id != hall_id:
            raise NotFound("办件不存在 / case not found")
        if case.state not in (
            CaseState.COMPLETED,
            CaseState.DELIVERED,
            CaseState.DENIED,
            CaseState.NOT_ACCEPTED,
        ):
            raise InvalidTransition("办件尚未办结，不能评价 / the case is not finished yet")
        window = session.get(Window, case.window_id) if case.window_id else None
        service_key = f"case:{case.id}"
        staff_id = case.handler_staff_id or case.registered_by_staff_id
        matter = session.get(MatterVersion, case.matter_version_id)

    if session.execute(select(Rating.id).where(Rating.service_key == service_key)).first():
        raise Conflict("该次服务已评价过（一次一评）/ this service has already been rated")
    staff = session.get(Staff, staff_id) if staff_id else None
    department_id = (
        case.department_id
        if case is not None
        else (matter.department_id if matter else (staff.department_id if staff else None))
    )
    rating = Rating(
        rating_uid=data.rating_uid,
        service_key=service_key,
        hall_id=hall_id,
        ticket_id=ticket.id if ticket else None,
        case_id=case.id if case else None,
        matter_version_id=matter.id if matter else None,
        matter_code=matter.code if matter else "",
        matter_version=matter.version if matter else None,
        window_id=window.id if window else None,
        staff_id=staff_id,
        department_id=department_id,
        channel=data.channel,
        device_id=data.device_id,
        level=level.value,
        reasons=list(data.reasons),
        note=data.note,  # masked as it is assigned (Rating._redacted)
        note_sealed=_sealed_original_note(data.note, level, protector),
        dimensions=dict(data.dimensions or {}),
        rated_at=data.rated_at,
    )
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError as error:
        # Lost a race with the same rating id or the same service: look again.
        again = session.execute(
            select(Rating).where(Rating.rating_uid == data.rating_uid)
        ).scalar_one_or_none()
        if again is not None:
            return RatingOutcome(again, created=False)
        raise Conflict(
            "该次服务已评价过（一次一评）/ this service has already been rated"
        ) from error
    if ticket is not None:
        # The invitation answered is rated even if a sweep had meanwhile marked it
        # expired (given in time, delivered late within the grace); any other
        # open invitation of the service is answered by this rating too.
        answered = RatingRequest.state == RatingRequestState.OPEN
        if invitation is not None:
            answered = answered | (RatingRequest.id == invitation.id)
        session.execute(
            update(RatingRequest)
            .where(RatingRequest.ticket_id == ticket.id, answered)
            .values(state=RatingRequestState.RATED)
        )
    if level.is_bad:
        _open_rectification(session, rating, hall_id)
    eventlog.emit(
        session,
        hall_id,
        "rating_stored",
        {
            "rating_id": rating.rating_uid,
            "window": window.number if window else None,
            "level": level.value,
        },
    )
    record(session, actor, "rating.submit", "rating", rating.id, {"level": level.value})
    return RatingOutcome(rating, created=True)


def _open_rectification(session: Session, rating: Rating, hall_id: int) -> Rectification:
    hall = session.get(Hall, hall_id)
    assert hall is not None
    policy = HallPolicy.from_json(hall.call_policy)
    calendar = calendar_for(session)
    from backend.services.queue import local_day

    day = local_day(rating.rated_at, hall.timezone)
    callback = calendar.add_working_days(day, policy.callback_working_days)
    rectify = calendar.add_working_days(day, policy.rectify_working_days)
    assert callback.due is not None and rectify.due is not None
    item = Rectification(
        rating_id=rating.id,
        department_id=rating.department_id,
        reasons=list(rating.reasons),
        callback_due=callback.due,
        rectify_due=rectify.due,
        due_provisional=callback.provisional or rectify.provisional,
    )
    session.add(item)
    session.flush()
    eventlog.emit(
        session,
        hall_id,
        "rectification_opened",
        {"rectification_id": item.id, "rating_id": rating.rating_uid},
    )
    return item


def record_callback(
    session: Session, *, rectification_id: int, note: str, now: datetime, actor: str
) -> Rectification:
    item = _rectification(
        session,
        rectification_id,
        RectificationState.OPEN,
        "该整改项已回访 / callback already recorded",
    )
    if not note.strip():
        raise BadInput("请填写回访记录 / a callback note is required")
    item.state = RectificationState.CALLED_BACK
    item.callback_at = now
    item.callback_note = note.strip()
    record(session, actor, "rectification.callback", "rectification", item.id, {})
    return item


def record_rectified(
    session: Session, *, rectification_id: int, outcome: str, now: datetime, actor: str
) -> Rectification:
    item = _rectification(
        session,
        rectification_id,
        RectificationState.CALLED_BACK,
        "须先回访再整改 / call the applicant back first",
    )
    if not outcome.strip():
        raise BadInput("请填写整改结果 / an outcome is required")
    item.state = RectificationState.RECTIFIED
    item.outcome = outcome.strip()
    item.rectified_at = now
    record(session, actor, "rectification.rectified", "rectification", item.id, {})
    return item


def record_follow_up(
    session: Session, *, rectification_id: int, level: int, actor: str
) -> Rectification:
    # The input first: a level outside 1..5 is a clear refusal, not a crash.
    try:
        follow_up = RatingLevel(level)
    except ValueError as error:
        raise BadInput("复评等级须为 1–5 / level must be 1..5", level=level) from error
    item = _rectification(
        session,
        rectification_id,
        RectificationState.RECTIFIED,
        "整改完成后才能复评 / rate the fix after it is rectified",
    )
    item.follow_up_level = follow_up.value
    item.state = RectificationState.CLOSED
    record(session, actor, "rectification.follow_up", "rectification", item.id, {"level": level})
    return item


def void_rating(
    session: Session, *, rating_id: int, reason: str, staff_id: int, now: datetime, actor: str
) -> Rating:
    """Appeal outcome: a mistaken or malicious rating is voided with a reason, never deleted."""
    rating = session.get(Rating, rating_id, with_for_update=True)
    if rating is None:
        raise NotFound("评价不存在 / rating not found")
    if rating.voided:
        raise InvalidTransition("该评价已作废 / already voided")
    if len(reason.strip()) < 4:
        raise BadInput("作废须写明理由 / a reason is required to void a rating")
    rating.voided = True
    rating.void_reason = reason.strip()
    rating.voided_by_staff_id = staff_id
    rating.voided_at = now
    item = session.execute(
        select(Rectification).where(Rectification.rating_id == rating.id)
    ).scalar_one_or_none()
    if item is not None and item.state is not RectificationState.CLOSED:
        item.state = RectificationState.VOIDED
    record(session, actor, "rating.void", "rating", rating.id, {"reason": rating.void_reason})
    return rating


def file_appeal(
    session: Session, *, rating_id: int, staff_id: int, reason: str, now: datetime, actor: str
) -> RatingAppeal:
    """申诉: only the clerk the 差评 was given to may appeal it, once at a time,
    with a reason; a supervisor decides (:func:`decide_appeal`)."""
    rating = session.get(Rating, rating_id, with_for_update=True)
    if rating is None or rating.staff_id != staff_id:
        # The same answer for "no such rating" and "not yours": a clerk cannot
        # probe other clerks' ratings.
        raise NotFound("评价不存在 / rating not found")
    if not RatingLevel(rating.level).is_bad:
        raise InvalidTransition("只能对差评申诉 / only a bad rating can be appealed")
    if rating.voided:
        raise InvalidTransition("该评价已作废 / already voided")
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise BadInput("申诉须写明理由（至少4个字）/ a reason is required")
    if len(reason) > 1000:
        raise BadInput("申诉理由不超过1000字 / reason too long")
    pending = session.execute(
        select(RatingAppeal.id).where(
            RatingAppeal.rating_id == rating.id, RatingAppeal.state == AppealState.PENDING
        )
    ).first()
    if pending is not None:
        raise Conflict("该评价的申诉正在复核中 / an appeal is already pending")
    hall = session.get(Hall, rating.hall_id)
    assert hall is not None
    from backend.services.queue import local_day

    due = calendar_for(session).add_working_days(
        local_day(now, hall.timezone), APPEAL_DECIDE_WORKING_DAYS
    )
    assert due.due is not None
    appeal = RatingAppeal(
        rating_id=rating.id,
        filed_by_staff_id=staff_id,
        reason=reason.strip(),
        filed_at=now,
        decide_due=due.due,
        state=AppealState.PENDING,
        decision_reason="",
    )
    session.add(appeal)
    session.flush()
    record(session, actor, "rating.appeal", "rating", rating.id, {"appeal": appeal.id})
    return appeal


def decide_appeal(
    session: Session,
    *,
    appeal_id: int,
    upheld: bool,
    reason: str,
    staff_id: int,
    now: datetime,
    actor: str,
) -> RatingAppeal:
    """The supervisor's decision. Upheld: the rating is set aside from every
    figure (:func:`void_rating`: voided with the reason, never deleted).
    Rejected: the rating stays, the appeal stays on record with the reason."""
    appeal = session.get(RatingAppeal, appeal_id, with_for_update=True)
    if appeal is None:
        raise NotFound("申诉不存在 / appeal not found")
    if appeal.state is not AppealState.PENDING:
        raise InvalidTransition("该申诉已复核 / the appeal was already decided")
    if appeal.filed_by_staff_id == staff_id:
        raise InvalidTransition("不能复核自己的申诉 / you cannot decide your own appeal")
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise BadInput("复核须写明理由（至少4个字）/ a reason is required")
    appeal.state = AppealState.UPHELD if upheld else AppealState.REJECTED
    appeal.decided_by_staff_id = staff_id
    appeal.decided_at = now
    appeal.decision_reason = reason.strip()
    if upheld:
        void_rating(
            session,
            rating_id=appeal.rating_id,
            reason=f"申诉成立：{appeal.decision_reason}",
            staff_id=staff_id,
            now=now,
            actor=actor,
        )
    record(
        session,
        actor,
        "rating.appeal_decide",
        "rating",
        appeal.rating_id,
        {"appeal": appeal.id, "upheld": upheld},
    )
    return appeal


def _rectification(
    session: Session, rectification_id: int, expected: RectificationState, otherwise: str
) -> Rectification:
    """The follow-up steps run in a fixed order: each locks the item and refuses
    (with `otherwise`) unless the previous step left it in `expected`."""
    item = session.get(Rectification, rectification_id, with_for_update=True)
    if item is None:
        raise NotFound("整改项不存在 / rectification not found")
    if item.state is not expected:
        raise InvalidTransition(otherwise)
    return item


def rating_json(rating: Rating, *, for_clerk: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rating.id,  # what the appeal (void) endpoint takes
        "rating_id": rating.rating_uid,
        "level": rating.level,
        "label": RatingLevel(rating.level).label,
        "reasons": rating.reasons,
        "note": rating.note,
        "dimensions": rating.dimensions,
        "channel": rating.channel.value,
        "rated_at": rating.rated_at.isoformat(),
        "matter_code": rating.matter_code,
        "matter_version": rating.matter_version,
        "voided": rating.voided,
    }
    if not for_clerk:  # the rater's identity and device are kept from the rated clerk
        data["device_id"] = rating.device_id
        data["ticket_id"] = rating.ticket_id
        data["case_id"] = rating.case_id
    return data
