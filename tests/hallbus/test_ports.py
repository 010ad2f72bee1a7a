"""Free loopback ports for servers started moments later, and the bind probe."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hallbus.ports import free_loopback_port, port_is_free


def test_a_free_port_is_chosen_below_the_ephemeral_range() -> None:
    """Outgoing connections take their local ports from the ephemeral range; a
    port chosen there could be taken before the server binds it."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(20):
        port = free_loopback_port()
        assert 20000 <= port < ephemeral_low
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_held_only_by_a_closed_connection_is_not_chosen() -> None:
    """A server that closes first leaves its side in TIME_WAIT for a minute. A
    server binding with SO_REUSEADDR may take the port again (a restart must not
    be refused), but one binding without it may not, so a port chosen for a new
    server is one that no connection holds at all."""
    port = free_loopback_port()
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server's side closes first: it goes to TIME_WAIT
            assert client.recv(1) == b""
    assert port_is_free("127.0.0.1", port)
    assert not port_is_free("127.0.0.1", port, even_of_closed_connections=True)
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))
