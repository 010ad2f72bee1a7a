"""Degraded mode starts with what clerks feel, and ends when the backend is ready again.

Three ways the centre goes away for a hall: the backend process is gone (see
test_faults.py and test_window_desk.py), its database is gone (the backend
answers 503 `database_unavailable`), or the link stops answering (requests time
out). Each must put the hall in offline mode — the hub decides, the kiosk's
state says degraded, the window display shows the mark — and each must end by
itself once the backend answers again, with what the hall did meanwhile
replayed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backend.models import Ticket
from hub.service import HubService
from hub.window_desk import DeskAction, HallMode
from simulators.devices import SimKiosk, SimWindowDisplay
from tests.hub.conftest import WAIT_S, Hall, wait_until


def _sqlite_file(hall: Hall) -> Path:
    return Path(hall.backend.database_url.removeprefix("sqlite:///"))


@dataclass
class _Seen:
    hub: HubService
    kiosk: SimKiosk
    display: SimWindowDisplay


def _in_the_hall(seen: _Seen, mode: str) -> None:
    """Every front end shows the mode: the desk, the kiosk's state, the window display."""
    wait_until(lambda: seen.hub.desk.mode().value == mode, what=f"mode {mode}")
    kiosk, display = seen.kiosk, seen.display
    degraded = mode != HallMode.ONLINE.value
    kiosk.states.wait_for(lambda s: s.degraded is degraded, WAIT_S)
    mark = None if mode == HallMode.ONLINE.value else mode
    display.states.wait_for(lambda s: s.hall_mode == mark, WAIT_S)


def _start(hall: Hall) -> _Seen:
    hub = hall.start_hub()
    seen = _Seen(hub, hall.kiosk(), hall.window_display())
    hall.clerk("1", "BH0101")  # signs in at window 1, which opens it
    wait_until(hub.desk.refresh_snapshot, what="a first offline snapshot")
    _in_the_hall(seen, "online")
    return seen


@contextmanager
def _database_gone(hall: Hall, aside: Path) -> Iterator[None]:
    """The backend keeps running; its database cannot be opened (a directory stands
    where the SQLite file was, as after a lost volume), then comes back as it was."""
    path = _sqlite_file(hall)
    standin = aside / "standin"
    standin.mkdir(parents=True)
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    files = [f for f in files if f.exists()]
    for file in files:
        file.rename(aside / file.name)
    standin.rename(path)
    # Connections opened before keep the moved file: close them, as a restart would.
    hall.backend._app.extensions["hallkit"].db.dispose()
    try:
        yield
    finally:
        path.rmdir()
        for file in files:
            (aside / file.name).rename(file)


def test_the_database_gone_is_an_outage_and_its_return_ends_it(
    mosquitto_hall: Hall, tmp_path: Path
) -> None:
    hall = mosquitto_hall
    seen = _start(hall)
    hub = seen.hub
    with _database_gone(hall, tmp_path / "aside"):
        ticket = seen.kiosk.take_ticket("A")
        assert ticket.degraded  # from the hub's reserved numbers
        _in_the_hall(seen, "offline")
        called = hub.desk.act("1", DeskAction.CALL, employee_no="BH0101", via="hub_console")
        assert called.ticket is not None
    # The backend answers again: the hub replays, then hands the queue back.
    _in_the_hall(seen, "online")
    assert hub.store.outbox_depth() == 0
    assert hall.count(Ticket, Ticket.display == ticket.number) == 1
    assert hall.count(Ticket, Ticket.display == called.ticket, Ticket.called_at.is_not(None)) == 1


def test_a_link_that_times_out_is_an_outage_and_its_return_ends_it(
    mosquitto_hall: Hall,
) -> None:
    hall = mosquitto_hall
    seen = _start(hall)
    hub = seen.hub
    release = threading.Event()
    # Every new request to the hall's API waits at the door: the link is up, nothing answers.
    hall.backend._gate.hold["/api/v1/halls/"] = release
    try:
        ticket = seen.kiosk.take_ticket("A")
        assert ticket.degraded  # the relay's call timed out; the hub issued it
        _in_the_hall(seen, "offline")
    finally:
        del hall.backend._gate.hold["/api/v1/halls/"]
        release.set()
    _in_the_hall(seen, "online")
    assert hub.store.outbox_depth() == 0
    assert hall.count(Ticket, Ticket.display == ticket.number) == 1
