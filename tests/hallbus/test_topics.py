from __future__ import annotations

import pytest

from hallbus.topics import (
    Broadcast,
    BroadcastTopic,
    Channel,
    Command,
    Component,
    DeviceRef,
    DeviceTopic,
    DeviceType,
    RequestKind,
    TopicError,
    broadcast_topic,
    parse_topic,
)

KIOSK = DeviceRef("bh", DeviceType.KIOSK, "kiosk-1")


def test_builders_follow_the_grammar() -> None:
    assert KIOSK.status_topic() == "hall/bh/kiosk/kiosk-1/status"
    assert KIOSK.request_topic(RequestKind.TAKE_TICKET) == "hall/bh/kiosk/kiosk-1/req/take_ticket"
    assert KIOSK.reply_topic() == "hall/bh/kiosk/kiosk-1/reply"
    evaluator = DeviceRef("bh", DeviceType.EVALUATOR, "evaluator-1")
    assert evaluator.command_topic(Command.RATE_NOW) == "hall/bh/evaluator/evaluator-1/cmd/rate_now"
    assert broadcast_topic("bh", Broadcast.CALL) == "hall/bh/all/call"


@pytest.mark.parametrize("device_type", list(DeviceType))
def test_every_device_topic_round_trips(device_type: DeviceType) -> None:
    device = DeviceRef("bh", device_type, "dev-01")
    cases = [
        (device.status_topic(), Channel.STATUS, None),
        (device.reply_topic(), Channel.REPLY, None),
        (device.state_topic(), Channel.STATE, None),
        (device.config_topic(), Channel.CONFIG, None),
        *[(device.request_topic(k), Channel.REQUEST, k.value) for k in RequestKind],
        *[(device.command_topic(c), Channel.COMMAND, c.value) for c in Command],
    ]
    for topic, channel, name in cases:
        assert parse_topic(topic) == DeviceTopic(device, channel, name)


def test_broadcast_round_trips() -> None:
    assert parse_topic("hall/bh/all/call") == BroadcastTopic("bh", Broadcast.CALL)


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "hall",
        "office/bh/kiosk/kiosk-1/status",
        "hall/BH/kiosk/kiosk-1/status",  # upper case hall id
        "hall/bh/toaster/t-1/status",  # unknown device type
        "hall/bh/kiosk/Kiosk_1/status",  # bad device id
        "hall/bh/kiosk/" + "k" * 33 + "/status",  # device id too long
        "hall/bh/kiosk/kiosk-1",  # no channel
        "hall/bh/kiosk/kiosk-1/banana",
        "hall/bh/kiosk/kiosk-1/status/extra",
        "hall/bh/kiosk/kiosk-1/req",  # request without kind
        "hall/bh/kiosk/kiosk-1/req/order_pizza",
        "hall/bh/kiosk/kiosk-1/req/+",  # wildcard is a filter, not a topic
        "hall/bh/kiosk/+/status",
        "hall/bh/all/weather",
        "hall/bh/all/call/x",
    ],
)
def test_bad_topics_are_rejected(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


@pytest.mark.parametrize("bad_id", ["", "A", "a/b", "a+b", "#", "a b", "x" * 33])
def test_device_ref_rejects_bad_identifiers(bad_id: str) -> None:
    with pytest.raises(TopicError):
        DeviceRef("bh", DeviceType.KIOSK, bad_id)
    with pytest.raises(TopicError):
        DeviceRef(bad_id, DeviceType.KIOSK, "kiosk-1")


def test_health_topics_name_one_component() -> None:
    kiosk = DeviceRef("bh", DeviceType.KIOSK, "kiosk-1")
    topic = kiosk.health_topic(Component.PRINTER)
    assert topic == "hall/bh/kiosk/kiosk-1/health/printer"
    parsed = parse_topic(topic)
    assert isinstance(parsed, DeviceTopic)
    assert (parsed.channel, parsed.name) == (Channel.HEALTH, "printer")
    for bad in ("hall/bh/kiosk/kiosk-1/health", "hall/bh/kiosk/kiosk-1/health/toaster"):
        with pytest.raises(TopicError):
            parse_topic(bad)
    request = parse_topic(kiosk.request_topic(RequestKind.MATTER_DETAIL))
    assert isinstance(request, DeviceTopic) and request.name == "matter_detail"
