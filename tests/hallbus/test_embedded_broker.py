"""The embedded broker's mends to amqtt (see hallbus/broker/embedded.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hallbus.broker.embedded import SnapshotSubscriptions, free_loopback_port, port_is_free

from .conftest import RunningBroker, Watcher


def test_a_client_gets_the_retained_messages_of_its_own_subscriptions_only(
    embedded_broker: RunningBroker,
) -> None:
    publisher = Watcher(embedded_broker.port, "publisher", None)
    other = Watcher(embedded_broker.port, "other-device", None)
    newcomer = Watcher(embedded_broker.port, "newcomer", None)
    try:
        publisher.start(())
        publisher.publish("bh/window-display/wd-1/state", b"A001", retain=True)
        publisher.publish("bh/kiosk/kiosk-1/notice", b"probe", retain=True)
        other.start(("bh/window-display/#",))
        assert other.next().payload == b"A001"

        newcomer.start(("bh/kiosk/kiosk-1/notice",))
        # One connection delivers in order: anything sent when the newcomer
        # connected would arrive before the retained message it subscribed to.
        first = newcomer.next()
        assert (first.topic, first.payload) == ("bh/kiosk/kiosk-1/notice", b"probe")
    finally:
        for watcher in (publisher, other, newcomer):
            watcher.stop()


def test_the_subscription_table_may_change_while_amqtt_walks_it() -> None:
    # amqtt awaits inside both walks; other clients subscribe and leave meanwhile.
    table = SnapshotSubscriptions({"bh/a": ["s1"], "bh/b": ["s2"]})
    walked = []
    for topic in table:
        walked.append(topic)
        table[f"{topic}/new"] = ["s3"]
    assert walked == ["bh/a", "bh/b"]

    seen = []
    for topic, subscribers in table.items():
        if topic == "bh/a":
            del table["bh/b"]
            table["bh/a"].append("s4")
        seen.append((topic, subscribers))
    assert seen == [("bh/a", ["s1"]), ("bh/b", ["s2"]), ("bh/a/new", ["s3"]), ("bh/b/new", ["s3"])]
    assert table == {"bh/a": ["s1", "s4"], "bh/a/new": ["s3"], "bh/b/new": ["s3"]}


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
