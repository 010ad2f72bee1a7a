"""Free TCP ports on the loopback interface, for servers started moments later
(the embedded broker, test and bench servers) and for the backend's start-up
check. Kept apart from the broker: the backend server needs the probe and
should not import an MQTT broker to get it."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from typing import Final

# Ports below the kernel's ephemeral range (Linux: 32768 and up) that
# free_loopback_port chooses from.
_LOWEST_CHOSEN_PORT: Final = 20000
_EPHEMERAL_RANGE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now, for a server started moments later.

    Chosen below the kernel's ephemeral range on purpose. A port the OS hands
    out for bind(0) comes from that range, and so does the local port of every
    outgoing connection: in the gap before the server binds it, a connection
    could take it, and the server then failed with "Address already in use"
    (seen once in a full test run, where the hub tests open hundreds of
    connections)."""
    ephemeral_low = _ephemeral_range_start()
    chooser = random.SystemRandom()
    for _ in range(200):
        port = chooser.randrange(_LOWEST_CHOSEN_PORT, ephemeral_low)
        if port_is_free("127.0.0.1", port, even_of_closed_connections=True):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))  # all tried were taken: let the OS pick
        chosen: int = probe.getsockname()[1]
        return chosen


def _ephemeral_range_start() -> int:
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default; other systems use higher ranges still
    return max(low, _LOWEST_CHOSEN_PORT + 1000)


def port_is_free(host: str, port: int, *, even_of_closed_connections: bool = False) -> bool:
    """Whether a server could bind host:port now: nothing listens there, and no
    live connection uses it as its local port.

    By default the probe binds as every server does, with SO_REUSEADDR, which
    lets it pass connections still in TIME_WAIT: a restarted server must not be
    refused for the connections its previous run closed. A port chosen for a
    server started moments later is asked for `even_of_closed_connections`: then
    the probe binds without SO_REUSEADDR, so the port is free even for a server
    that binds that way (a CI run once chose a port whose TIME_WAIT connection
    from an earlier test refused such a bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if not even_of_closed_connections:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True
