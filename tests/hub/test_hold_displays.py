"""挂起 on the hall's screens, through the real broker, hub and backend: holding
frees the window's display; resuming shows the ticket again and calls the
visitor back on the hall display (and its announcer)."""

from __future__ import annotations

from tests.hub.conftest import WAIT_S, Hall


def test_hold_clears_the_window_display_and_resume_calls_the_visitor_back(
    mosquitto_hall: Hall,
) -> None:
    hall = mosquitto_hall
    hall.start_hub()
    window_display = hall.window_display()
    hall_display = hall.hall_display()
    kiosk = hall.kiosk()
    clerk = hall.clerk("1", "BH0101")
    ticket = kiosk.take_ticket("A")
    assert clerk.call_next() == ticket.number
    called = window_display.states.wait_for(lambda s: s.current_ticket == ticket.number, WAIT_S)
    first_call = hall_display.calls.wait_for(lambda c: c.ticket == ticket.number, WAIT_S)

    status, body = clerk._post("/api/v1/halls/BH/windows/1/hold", {"reason": "补取材料"})
    assert status == 200, body
    held = window_display.states.wait_for(
        lambda s: s.seq > called.seq and s.current_ticket is None, WAIT_S
    )

    status, body = clerk._post("/api/v1/halls/BH/windows/1/resume-held", {"number": ticket.number})
    assert status == 200, body
    window_display.states.wait_for(
        lambda s: s.seq > held.seq and s.current_ticket == ticket.number, WAIT_S
    )
    again = hall_display.calls.wait_for(
        lambda c: c.ticket == ticket.number and c.seq > first_call.seq, WAIT_S
    )
    assert again.window == "1" and not again.recall
