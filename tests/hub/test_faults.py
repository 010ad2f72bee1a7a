"""Backend outage, broker restart, hub restart: nothing lost, nothing doubled."""

from __future__ import annotations

from sqlalchemy import select

from backend.db import Database
from backend.models import Channel, Rating, Ticket
from hub.window_desk import HallMode
from tests.hub.conftest import WAIT_S, Hall, wait_until


def test_backend_outage_tickets_and_ratings_arrive_exactly_once(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    hub = hall.start_hub()
    evaluator = hall.evaluator(auto_answer=False)
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")
    served = kiosk.take_ticket("A")
    assert clerk.call_next() == served.number
    clerk.finish()
    command = evaluator.requests.wait_for(lambda r: r.ticket_number == served.number, WAIT_S)
    wait_until(lambda: hub.store.rate_request_ticket(command.request_id) is not None)

    hall.backend.stop()
    rating = evaluator.rating_for(command, 2)
    assert not evaluator.submit(rating).duplicate
    assert evaluator.submit(rating).duplicate  # a device retry while queued: already kept
    offline = [kiosk.take_ticket("A") for _ in range(3)]
    assert all(t.degraded for t in offline)
    assert len({t.number for t in offline}) == 3
    assert hub.store.outbox_depth() == 4  # 3 tickets + 1 rating (the retry was not queued)

    hall.backend.start()
    wait_until(lambda: hub.store.outbox_depth() == 0, timeout=20, what="the outbox to drain")
    # The hub hands the queue back once the outbox is empty (replaying → online);
    # until then it still keeps ratings itself.
    wait_until(lambda: hub.desk.mode() is HallMode.ONLINE, what="the hall back online")
    assert hub.store.dead_letter_count() == 0
    assert hall.count(Rating, Rating.rating_uid == rating.rating_id) == 1
    database = Database(hall.backend.database_url)
    try:
        with database.reading() as session:
            rows = session.execute(
                select(Ticket.display, Ticket.channel).where(
                    Ticket.display.in_([t.number for t in offline])
                )
            ).all()
    finally:
        database.dispose()
    assert sorted(display for display, _ in rows) == sorted(t.number for t in offline)
    assert all(channel is Channel.HUB_OFFLINE for _, channel in rows)
    # Once delivered, a retry reaches the backend, which recognises it.
    assert evaluator.submit(rating).duplicate
    assert hall.count(Rating, Rating.rating_uid == rating.rating_id) == 1
    # And live relaying is back.
    assert not kiosk.take_ticket("A").degraded


def test_broker_restart_devices_get_state_back(hall: Hall) -> None:
    hall.start_hub()
    window_display = hall.window_display()
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")
    ticket = kiosk.take_ticket("A")
    assert clerk.call_next() == ticket.number
    window_display.states.wait_for(lambda s: s.current_ticket == ticket.number, WAIT_S)

    attempts = kiosk.client.connection_attempts
    hall.broker.stop()
    hall.broker.start()
    # Wait for a new connection, not for "connected": right after the restart the
    # client may not have noticed yet that its old connection is gone.
    wait_until(lambda: kiosk.client.connection_attempts > attempts, WAIT_S, "kiosk reconnect")
    kiosk.client.wait_connected(WAIT_S * 2)
    # A display switched on after the restart is shown the current state at once.
    hall.stop_client(window_display.client)
    fresh = hall.window_display()
    state = fresh.states.wait_for(lambda s: s.current_ticket == ticket.number, WAIT_S)
    assert state.window == "1" and state.state == "open"
    assert not kiosk.take_ticket("A").degraded


def test_hub_restart_resumes_from_cursor(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    first = hall.start_hub()
    hall_display = hall.hall_display()
    window_display = hall.window_display()
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")
    tickets = [kiosk.take_ticket("A").number for _ in range(3)]
    assert clerk.call_next() == tickets[0]
    hall_display.calls.wait_for(lambda c: c.ticket == tickets[0], WAIT_S)
    hall.stop_hub(first)

    # While the hub is away: a call and a recall.
    assert clerk.call_next() == tickets[1]
    clerk.recall()

    second = hall.start_hub()
    hall_display.calls.wait_for(lambda c: c.ticket == tickets[1] and c.recall, WAIT_S)
    window_display.states.wait_for(lambda s: s.current_ticket == tickets[1], WAIT_S)
    assert clerk.call_next() == tickets[2]
    hall_display.calls.wait_for(lambda c: c.ticket == tickets[2], WAIT_S)
    announced = [(c.ticket, c.recall) for c in hall_display.calls.messages()]
    assert announced == [
        (tickets[0], False),
        (tickets[1], False),
        (tickets[1], True),
        (tickets[2], False),
    ]
    assert second.reader.cursor > 0
