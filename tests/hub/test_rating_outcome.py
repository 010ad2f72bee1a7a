"""Ratings the hub accepted while the backend was away: the device is told the
backend's final outcome, through the real broker, hub and backend.

The hub acknowledges an offline rating `queued: true` (a resend `duplicate:
true`); when the outbox is replayed it sends the evaluator a RatingOutcome
command: `stored`, or `refused` with the reason. A resend after a refusal gets
the refusal, not a new place in the outbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.db import Database
from backend.models import Hall as HallRow
from backend.models import Rating, RatingChannel
from backend.privacy import IdentityProtector
from backend.services import ratings as rating_service
from hallbus.client import RequestFailed
from hallbus.errors import ErrorCode
from hallbus.messages import RateNow
from simulators.devices import SimEvaluator
from tests.hub.conftest import SECRET, WAIT_S, Hall, wait_until


def served_and_invited(hall: Hall, evaluator: SimEvaluator) -> RateNow:
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")
    served = kiosk.take_ticket("A")
    assert clerk.call_next() == served.number
    clerk.finish()
    return evaluator.requests.wait_for(lambda r: r.ticket_number == served.number, WAIT_S)


def test_an_offline_rating_refused_later_is_reported_refused(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    hub = hall.start_hub()
    evaluator = hall.evaluator(auto_answer=False)
    command = served_and_invited(hall, evaluator)
    wait_until(lambda: hub.store.rate_request_ticket(command.request_id) is not None)
    ticket_id = hub.store.rate_request_ticket(command.request_id)
    assert ticket_id is not None

    hall.backend.stop()
    rating = evaluator.rating_for(command, 4)
    first = evaluator.submit(rating)
    assert (first.duplicate, first.queued) == (False, True)
    again = evaluator.submit(rating)
    assert (again.duplicate, again.queued) == (True, True)  # the resend is recognised
    # Meanwhile the same service was rated through another channel (the phone page).
    database = Database(hall.backend.database_url)
    try:
        with database.writing() as session:
            rating_service.submit_rating(
                session,
                hall_id=session.execute(
                    select(HallRow.id).where(HallRow.code == "BH")
                ).scalar_one(),
                data=rating_service.RatingInput(
                    rating_uid="phone-rating-1",
                    level=5,
                    channel=RatingChannel.PHONE,
                    rated_at=hall.clock(),
                    ticket_id=ticket_id,
                ),
                actor="test",
                protector=IdentityProtector.from_secret(SECRET),
            )
    finally:
        database.dispose()

    hall.backend.start()
    outcome = evaluator.outcomes.wait_for(lambda o: o.rating_id == rating.rating_id, 20)
    assert outcome.outcome == "refused" and outcome.code is ErrorCode.CONFLICT
    assert outcome.reason and "已评价" in outcome.reason
    assert hub.store.dead_letter_count() == 1
    assert hall.count(Rating, Rating.rating_uid == rating.rating_id) == 0
    with pytest.raises(RequestFailed) as refused:
        evaluator.submit(rating)  # a resend learns the final outcome
    assert refused.value.code is ErrorCode.CONFLICT and refused.value.retry is False
    assert hub.store.outbox_depth() == 0


def test_an_offline_rating_given_after_expiry_is_refused_and_one_in_time_stored(
    mosquitto_hall: Hall,
) -> None:
    hall = mosquitto_hall
    database = Database(hall.backend.database_url)
    try:
        with database.writing() as session:
            session.execute(update(HallRow).values(call_policy={"rating_timeout_seconds": 10}))
    finally:
        database.dispose()
    hub = hall.start_hub()
    evaluator = hall.evaluator(auto_answer=False)
    late_command = served_and_invited(hall, evaluator)
    in_time_command = served_and_invited(hall, evaluator)
    for command in (late_command, in_time_command):
        wait_until(lambda c=command: hub.store.rate_request_ticket(c.request_id) is not None)

    hall.backend.stop()
    late = evaluator.rating_for(late_command, 5).model_copy(
        update={"rated_at": late_command.expires_at + timedelta(minutes=5)}
    )
    in_time = evaluator.rating_for(in_time_command, 5)
    # Given within the 10 s however slowly this machine ran the set-up.
    in_time = in_time.model_copy(
        update={
            "rated_at": min(in_time.rated_at, in_time_command.expires_at - timedelta(seconds=1))
        }
    )
    assert evaluator.submit(late).queued and evaluator.submit(in_time).queued

    hall.backend.start()
    refused = evaluator.outcomes.wait_for(lambda o: o.rating_id == late.rating_id, 20)
    assert refused.outcome == "refused" and refused.code is ErrorCode.CONFLICT
    assert refused.reason and "过期" in refused.reason
    stored = evaluator.outcomes.wait_for(lambda o: o.rating_id == in_time.rating_id, 20)
    assert stored.outcome == "stored" and not stored.duplicate
    assert hall.count(Rating, Rating.rating_uid == in_time.rating_id) == 1
    assert hall.count(Rating, Rating.rating_uid == late.rating_id) == 0
