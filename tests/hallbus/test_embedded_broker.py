"""The embedded broker's mends to amqtt (see hallbus/broker/embedded.py)."""

from __future__ import annotations

from hallbus.broker.embedded import SnapshotSubscriptions

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
