"""The event reader's latency guards: nothing slow sits between two long-polls, and a
stale kept-alive connection is not taken for a backend outage."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest

from hub.backend import BackendClient, BackendUnavailable
from tests.hub.conftest import WAIT_S, Hall


def test_call_reaches_displays_while_offline_blocks_are_still_reserved(
    mosquitto_hall: Hall,
) -> None:
    """Reserving the offline number blocks (one POST per category) used to run on
    the event reader's thread after every start and reconnect: a call made then
    reached the displays only after the last block (100–450 ms in the demo hall).
    Here the block reservations hang until released; the call must get through."""
    hall = mosquitto_hall
    release = threading.Event()
    hall.backend._gate.hold["/ticket-blocks"] = release
    try:
        hub = hall.start_hub(wait=False)
        assert hub.reader.ready.wait(WAIT_S)
        window_display = hall.window_display()
        kiosk = hall.kiosk()
        clerk = hall.clerk("1", "BH0101")
        ticket = kiosk.take_ticket("A")
        assert clerk.call_next() == ticket.number
        window_display.states.wait_for(lambda s: s.current_ticket == ticket.number, WAIT_S)
        assert not hub.block_keeper.first_pass.is_set(), "blocks were not held back"
    finally:
        release.set()
    hub.wait_ready(WAIT_S)  # the held reservations go through once released
    day = date.fromisoformat(hub.backend.status().body["service_day"])
    assert {block.category for block in hub.store.blocks(day)} >= {"A"}


class _OneShotCloser:
    """HTTP server on loopback: the first connection is closed without an answer
    (as a server does whose keep-alive timer ran out), later ones get 200 {}."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(65536)
                if self.connections == 1:
                    continue  # closed without a response
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def closer() -> Iterator[_OneShotCloser]:
    server = _OneShotCloser()
    yield server
    server.close()


def test_get_is_sent_again_after_a_dropped_connection(closer: _OneShotCloser) -> None:
    client = BackendClient(f"http://127.0.0.1:{closer.port}", "t", "BH", timeout_s=2)
    try:
        started = time.monotonic()
        assert client.call("GET", "/api/v1/halls/BH/status").body == {}
        assert closer.connections == 2
        assert time.monotonic() - started < 1.0
    finally:
        client.close()


def test_post_is_not_sent_twice(closer: _OneShotCloser) -> None:
    client = BackendClient(f"http://127.0.0.1:{closer.port}", "t", "BH", timeout_s=2)
    try:
        with pytest.raises(BackendUnavailable):
            client.call("POST", "/api/v1/halls/BH/tickets", body={})
        assert closer.connections == 1
    finally:
        client.close()
