"""The generated ACL, enforced by a Mosquitto started with the generated configuration.

Each test publishes the forbidden message first and an allowed sentinel second
on the same connection. Mosquitto handles one connection's packets in order, so
once the sentinel has arrived the forbidden message would have arrived too.
"""

from __future__ import annotations

import queue

import pytest

from hallbus.broker.acl import render_acl_file
from hallbus.topics import Broadcast, Command, Component, RequestKind, broadcast_topic

from .conftest import (
    EVALUATOR_1,
    HUB,
    KIOSK_1,
    KIOSK_2,
    MONITOR,
    REGISTRY,
    WINDOW_DISPLAY_1,
    RunningBroker,
    Watcher,
)


def assert_only_sentinel_arrives(
    broker: RunningBroker, publisher_id: str, forbidden_topic: str, sentinel_topic: str
) -> None:
    watcher = broker.watcher("hall/bh/#")
    sender = Watcher(broker.port, publisher_id, broker.passwords[publisher_id])
    sender.start(())
    try:
        # Retained availability of other tests' clients may be delivered first; skip it.
        sender.publish(forbidden_topic, b"forbidden")
        sender.publish(sentinel_topic, b"sentinel")
        seen = []
        while True:
            message = watcher.next()
            seen.append(message)
            if message.payload == b"sentinel":
                break
        assert [m.topic for m in seen if m.payload == b"forbidden"] == []
    finally:
        sender.stop()
        watcher.stop()


@pytest.mark.parametrize(
    "forbidden",
    [
        KIOSK_2.request_topic(RequestKind.TAKE_TICKET),  # another kiosk's request
        KIOSK_2.status_topic(),  # another kiosk's availability
        WINDOW_DISPLAY_1.state_topic(),  # display state: hub only
        broadcast_topic("bh", Broadcast.CALL),  # call events: hub only
        KIOSK_1.reply_topic(),  # replies: hub only, even to itself
        EVALUATOR_1.command_topic(Command.RATE_NOW),
        "hall/other/kiosk/kiosk-1/status",  # another hall
        KIOSK_2.health_topic(Component.PRINTER),  # another device's health
        EVALUATOR_1.health_topic(Component.BUTTON_BOX),
        KIOSK_1.health_topic(Component.LED),  # a component kiosks do not have
        KIOSK_2.request_topic(RequestKind.MATTER_DETAIL),
        KIOSK_1.state_topic(),  # its own KioskState: hub only
        KIOSK_2.info_topic(),  # another device's software version
    ],
)
def test_kiosk_cannot_publish_outside_its_own_topics(
    mosquitto_broker: RunningBroker, forbidden: str
) -> None:
    assert_only_sentinel_arrives(
        mosquitto_broker,
        KIOSK_1.device_id,
        forbidden,
        KIOSK_1.request_topic(RequestKind.CATALOG_SEARCH),
    )


@pytest.mark.parametrize(
    "allowed",
    [
        KIOSK_1.request_topic(RequestKind.MATTER_DETAIL),
        KIOSK_1.health_topic(Component.PRINTER),
        KIOSK_1.health_topic(Component.SCANNER),
        KIOSK_1.health_topic(Component.ID_READER),
        KIOSK_1.info_topic(),  # its own software version (DeviceInfo)
    ],
)
def test_kiosk_may_ask_matter_detail_and_report_its_own_health(
    mosquitto_broker: RunningBroker, allowed: str
) -> None:
    watcher = mosquitto_broker.watcher("hall/bh/#")
    sender = Watcher(
        mosquitto_broker.port, KIOSK_1.device_id, mosquitto_broker.passwords["kiosk-1"]
    )
    sender.start(())
    try:
        sender.publish(allowed, b"allowed")
        assert watcher.next_on(allowed).payload == b"allowed"
    finally:
        sender.stop()
        watcher.stop()


def test_evaluator_health_is_its_button_box_only(mosquitto_broker: RunningBroker) -> None:
    assert_only_sentinel_arrives(
        mosquitto_broker,
        EVALUATOR_1.device_id,
        EVALUATOR_1.health_topic(Component.PRINTER),
        EVALUATOR_1.health_topic(Component.BUTTON_BOX),
    )


def test_evaluator_may_only_submit_ratings(mosquitto_broker: RunningBroker) -> None:
    assert_only_sentinel_arrives(
        mosquitto_broker,
        EVALUATOR_1.device_id,
        EVALUATOR_1.request_topic(RequestKind.TAKE_TICKET),
        EVALUATOR_1.request_topic(RequestKind.SUBMIT_RATING),
    )


def test_kiosk_cannot_read_another_kiosks_replies(mosquitto_broker: RunningBroker) -> None:
    spy_messages: queue.Queue[bytes] = queue.Queue()
    spy = Watcher(mosquitto_broker.port, KIOSK_1.device_id, mosquitto_broker.passwords["kiosk-1"])
    spy.start((KIOSK_2.reply_topic(), KIOSK_1.reply_topic()))
    hub = Watcher(mosquitto_broker.port, HUB.device_id, mosquitto_broker.passwords["hub-bh"])
    hub.start(())
    try:
        hub.publish(KIOSK_2.reply_topic(), b"secret-for-kiosk-2")
        hub.publish(KIOSK_1.reply_topic(), b"sentinel")
        while (message := spy.next()).payload != b"sentinel":
            spy_messages.put(message.payload)
        assert spy_messages.empty()
    finally:
        spy.stop()
        hub.stop()


def test_hub_may_publish_display_state(mosquitto_broker: RunningBroker) -> None:
    watcher = Watcher(
        mosquitto_broker.port,
        WINDOW_DISPLAY_1.device_id,
        mosquitto_broker.passwords[WINDOW_DISPLAY_1.device_id],
    )
    watcher.start((WINDOW_DISPLAY_1.state_topic(),))
    hub = Watcher(mosquitto_broker.port, HUB.device_id, mosquitto_broker.passwords["hub-bh"])
    hub.start(())
    try:
        hub.publish(WINDOW_DISPLAY_1.state_topic(), b"{}", retain=True)
        assert watcher.next().payload == b"{}"
    finally:
        watcher.stop()
        hub.stop()


def test_acl_file_is_explicit_per_user() -> None:
    text = render_acl_file(REGISTRY)
    assert "pattern" not in text
    kiosk_block = text.split("user kiosk-1\n")[1].split("\n\n")[0].splitlines()
    assert f"topic write {KIOSK_1.request_topic(RequestKind.TAKE_TICKET)}" in kiosk_block
    assert f"topic read {KIOSK_1.reply_topic()}" in kiosk_block
    assert f"topic write {KIOSK_1.request_topic(RequestKind.MATTER_DETAIL)}" in kiosk_block
    assert f"topic write {KIOSK_1.health_topic(Component.PRINTER)}" in kiosk_block
    assert not any("+" in line or "#" in line for line in kiosk_block)
    assert all("kiosk-1" in line or "hub" in line or "monitor" in line for line in kiosk_block)
    assert "topic readwrite hall/bh/#" in text.split(f"user {MONITOR.device_id}\n")[1]
