"""Calls are announced and shown on the floor of the window that called.

Through Mosquitto, the real backend and the hub: a call at window 21 (floor 2)
and one at window 1 (floor 1). The floor-2 announcer speaks only window 21's
call, the hall-wide announcer both; the floor-2 hall display lists only floor 2's
call and queues, a hall-wide one everything; the kiosk's categories say where to go.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from devices.voice.announcer import Announcer
from devices.voice.engines import EspeakEngine
from displays.announcer import AnnouncerService
from displays.guide import load_guide
from displays.hall_view import HallDisplayViewModel
from displays.voice import CallVoice
from tests.hub.conftest import HUB, WAIT_S, Hall, wait_until

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _announcer(hall: Hall, device_id: str, floor: int | None, out: Path) -> Announcer:
    announcer = Announcer(EspeakEngine(), repeat=1, output_dir=out, play=False)
    client = hall.client(device_id)
    service = AnnouncerService(client, "bh", CallVoice(announcer, floor=floor))
    service.subscribe()
    # The hub's retained status arriving proves the call subscription is active too.
    subscribed = threading.Event()
    client.subscribe(HUB.status_topic(), lambda _message: subscribed.set())
    assert subscribed.wait(WAIT_S)
    return announcer


def test_a_floor_two_announcer_and_display_serve_floor_two_only(
    mosquitto_hall: Hall, tmp_path: Path
) -> None:
    hall = mosquitto_hall
    hall.start_hub()
    floor_two = _announcer(hall, "announcer-1", 2, tmp_path / "floor-2")
    everywhere = _announcer(hall, "announcer-2", None, tmp_path / "hall")
    display_two = hall.hall_display("hall-display-2")
    display_all = hall.hall_display("hall-display-1")
    kiosk = hall.kiosk()
    upstairs = hall.clerk("21", "BH2101")
    downstairs = hall.clerk("1", "BH0101")

    land = kiosk.take_ticket("J")  # 国土规划, windows 20–22 on floor 2
    firm = kiosk.take_ticket("A")  # 企业开办, floor 1
    assert land.floor == 2 and firm.floor == 1
    assert upstairs.call_next() == land.number
    assert downstairs.call_next() == firm.number

    upstairs_call = display_all.calls.wait_for(lambda c: c.ticket == land.number, WAIT_S)
    downstairs_call = display_all.calls.wait_for(lambda c: c.ticket == firm.number, WAIT_S)
    assert (upstairs_call.window, upstairs_call.floor, upstairs_call.area) == ("21", 2, "二楼大厅")
    assert (downstairs_call.window, downstairs_call.floor) == ("1", 1)

    # A recall at window 21 comes after both calls: once the floor-2 announcer has
    # spoken it, it has had (and dropped) the floor-1 call in between. The
    # announcer's timeline has no event to await, so it is polled (wait_until).
    upstairs.recall()
    wait_until(lambda: len(floor_two.timeline) >= 2, 30.0, "the floor-2 recall spoken")
    wait_until(lambda: len(everywhere.timeline) >= 3, 30.0, "the hall-wide announcements")
    assert floor_two.wait_idle(30.0) and everywhere.wait_idle(30.0)
    assert [r.ticket for r in floor_two.timeline] == [land.number, land.number]
    assert [r.ticket for r in everywhere.timeline] == [land.number, firm.number, land.number]

    # The hall displays: each gets the hall's list; a floor's display keeps its own.
    listed = display_two.states.wait_for(
        lambda s: {c.ticket for c in s.recent_calls} >= {land.number, firm.number}, WAIT_S
    )
    assert {c.ticket: c.floor for c in listed.recent_calls} == {land.number: 2, firm.number: 1}
    guide = load_guide()
    upstairs_view = HallDisplayViewModel(["calls", "waiting"], guide=guide, floor=2)
    hall_view = HallDisplayViewModel(["calls", "waiting"], guide=guide)
    now = hall.clock()
    for model in (upstairs_view, hall_view):
        model.apply_call_list(listed, now)
        model.apply_call_event(upstairs_call, now)
        model.apply_call_event(downstairs_call, now)
    assert [row.window_text for row in upstairs_view.view(now).calls] == ["21 号窗口"]
    assert {row.window_text for row in hall_view.view(now).calls} == {"21 号窗口", "1 号窗口"}
    assert upstairs_view.call_list is not None and hall_view.call_list is not None
    waiting_upstairs = {w.prefix for w in upstairs_view.call_list.waiting}
    assert "J" in waiting_upstairs and "A" not in waiting_upstairs
    assert {"A", "J"} <= {w.prefix for w in hall_view.call_list.waiting}

    # The kiosk's "where to go": every category names its floor and area.
    state = kiosk.states.wait_for(lambda k: any(c.floor is not None for c in k.categories), WAIT_S)
    categories = {c.prefix: c for c in state.categories}
    assert (categories["J"].floor, categories["A"].floor) == (2, 1)
    assert categories["J"].window_area and categories["J"].window_area.startswith("二楼")
    assert all(c.floor is not None and c.window_area for c in state.categories)
