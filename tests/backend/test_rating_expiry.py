"""A rating is accepted only while its invitation (rate-now) is valid.

The invitation's deadline is `expires_at`; a rating given later is refused. A
rating given in time but kept by the hub or the device during an outage is
accepted when it arrives within the offline grace (24 h after the deadline,
docs/hub.md). Invitations nobody answered become `expired`: by the supervision
scan, and before one is reused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.db import Database
from backend.models import Rating, RatingRequest, RatingRequestState
from backend.services import ratings as rating_service
from backend.services.supervision import SupervisionScheduler
from tests.conftest import Api, FakeClock, clerk_for_window

RATINGS = "/api/v1/halls/BH/ratings"


@pytest.fixture
def kiosk(device_token: Any) -> str:
    token: str = device_token("kiosk-1", "kiosk")
    return token


@pytest.fixture
def evaluator(device_token: Any) -> str:
    token: str = device_token("eval-1", "evaluator")
    return token


def serve(api: Api, db: Database, kiosk: str) -> tuple[int, RatingRequest]:
    """Serve one A ticket at window 1; returns its id and its rating invitation."""
    status, ticket = api.post("/api/v1/halls/BH/tickets", kiosk, {"category": "A"})
    assert status == 201, ticket
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    for action in ("call-next", "start", "finish"):
        status, body = api.post(f"/api/v1/halls/BH/windows/1/{action}", clerk)
        assert status == 200, (action, body)
    with db.reading() as session:
        invitation = session.execute(
            select(RatingRequest).where(RatingRequest.ticket_id == ticket["id"])
        ).scalar_one()
        session.expunge(invitation)
    return int(ticket["id"]), invitation


def rate(api: Api, token: str, ticket_id: int, **extra: Any) -> tuple[int, Any]:
    body = {"rating_id": "r-1", "level": 5, "ticket_id": ticket_id, "window": "1", **extra}
    return api.post(RATINGS, token, body)


def state_of(db: Database, request_uid: str) -> RatingRequestState:
    with db.reading() as session:
        return session.execute(
            select(RatingRequest.state).where(RatingRequest.request_uid == request_uid)
        ).scalar_one()


def ratings_stored(db: Database) -> int:
    with db.reading() as session:
        return int(session.execute(select(func.count()).select_from(Rating)).scalar_one())


def test_a_rating_given_after_the_invitation_expired_is_refused(
    api: Api, db: Database, kiosk: str, evaluator: str, clock: FakeClock
) -> None:
    ticket_id, invitation = serve(api, db, kiosk)
    clock.now = invitation.expires_at + timedelta(minutes=5)
    status, body = rate(
        api, evaluator, ticket_id, request_id=invitation.request_uid, rated_at=clock.now.isoformat()
    )
    assert status == 409, body
    assert body["error"]["code"] == "conflict"
    assert body["error"]["detail"]["reason"] == "invitation_expired"
    assert ratings_stored(db) == 0
    # Without naming the invitation, an evaluator's rating is held to the ticket's latest.
    status, body = rate(api, evaluator, ticket_id)
    assert status == 409 and body["error"]["detail"]["reason"] == "invitation_expired", body
    assert ratings_stored(db) == 0


def test_a_rating_given_in_time_and_delivered_within_the_grace_is_stored(
    api: Api, db: Database, kiosk: str, evaluator: str, clock: FakeClock
) -> None:
    ticket_id, invitation = serve(api, db, kiosk)
    rated_at = invitation.expires_at - timedelta(seconds=10)
    clock.now = invitation.expires_at + timedelta(hours=3)  # the hub was cut off meanwhile
    with db.writing() as session:
        assert rating_service.expire_requests(session, now=clock.now) == 1
    assert state_of(db, invitation.request_uid) is RatingRequestState.EXPIRED
    status, body = rate(
        api, evaluator, ticket_id, request_id=invitation.request_uid, rated_at=rated_at.isoformat()
    )
    assert status == 201, body
    assert state_of(db, invitation.request_uid) is RatingRequestState.RATED  # answered in time


def test_a_rating_arriving_after_the_offline_grace_is_refused(
    api: Api, db: Database, kiosk: str, evaluator: str, clock: FakeClock
) -> None:
    ticket_id, invitation = serve(api, db, kiosk)
    rated_at = invitation.expires_at - timedelta(seconds=10)
    clock.now = invitation.expires_at + rating_service.OFFLINE_GRACE + timedelta(seconds=1)
    status, body = rate(
        api, evaluator, ticket_id, request_id=invitation.request_uid, rated_at=rated_at.isoformat()
    )
    assert status == 409 and body["error"]["detail"]["reason"] == "arrived_too_late", body
    assert ratings_stored(db) == 0


def test_a_resend_of_a_stored_rating_is_a_duplicate_even_after_expiry(
    api: Api, db: Database, kiosk: str, evaluator: str, clock: FakeClock
) -> None:
    ticket_id, invitation = serve(api, db, kiosk)
    first = rate(api, evaluator, ticket_id, request_id=invitation.request_uid)
    assert first[0] == 201, first
    clock.now = invitation.expires_at + rating_service.OFFLINE_GRACE + timedelta(hours=1)
    status, body = rate(api, evaluator, ticket_id, request_id=invitation.request_uid)
    assert status == 200 and body["duplicate"] is True, body


def test_an_unknown_or_foreign_invitation_is_refused(
    api: Api, db: Database, kiosk: str, evaluator: str
) -> None:
    ticket_id, _invitation = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket_id, request_id="f" * 32)
    assert status == 404 and body["error"]["detail"]["reason"] == "unknown_invitation", body
    other_ticket, other_invitation = serve(api, db, kiosk)
    status, body = rate(api, evaluator, ticket_id, request_id=other_invitation.request_uid)
    assert status == 409 and body["error"]["detail"]["reason"] == "invitation_mismatch", body
    assert ratings_stored(db) == 0
    assert other_ticket != ticket_id


def test_a_kiosk_rating_needs_no_invitation(
    api: Api, db: Database, kiosk: str, clock: FakeClock
) -> None:
    """服务评价 at the kiosk later the same day: the person was not invited there."""
    ticket_id, invitation = serve(api, db, kiosk)
    clock.now = invitation.expires_at + timedelta(hours=2)
    status, body = rate(api, kiosk, ticket_id, channel="kiosk")
    assert status == 201, body


def test_the_scan_expires_unanswered_invitations_and_a_new_invite_is_fresh(
    api: Api, db: Database, kiosk: str, clock: FakeClock
) -> None:
    _ticket_id, invitation = serve(api, db, kiosk)
    clock.now = invitation.expires_at + timedelta(seconds=1)
    SupervisionScheduler(db, clock).run_once()
    assert state_of(db, invitation.request_uid) is RatingRequestState.EXPIRED
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, body = api.post("/api/v1/halls/BH/windows/1/invite-rating", clerk)
    assert status == 200, body
    assert body["request_id"] != invitation.request_uid
    assert body["expires_at"] > clock.now.isoformat()


def test_inviting_again_replaces_an_invitation_past_its_deadline(
    api: Api, db: Database, kiosk: str, clock: FakeClock
) -> None:
    """No scan ran: the stale `open` row must not be handed out again."""
    _ticket_id, invitation = serve(api, db, kiosk)
    clock.now = invitation.expires_at + timedelta(seconds=1)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    status, body = api.post("/api/v1/halls/BH/windows/1/invite-rating", clerk)
    assert status == 200 and body["request_id"] != invitation.request_uid, body
    assert state_of(db, invitation.request_uid) is RatingRequestState.EXPIRED
