"""Malformed and unauthorised requests get an error reply and a log line; the hub keeps going."""

from __future__ import annotations

import json
import logging
import queue
import time
from typing import Any

import pytest

from hallbus.bus import IncomingMessage
from hallbus.codec import decode_reply
from hallbus.messages import ErrorReply, RequestEnvelope
from hallbus.topics import RequestKind
from tests.hub.conftest import WAIT_S, Hall, new_id

KIOSK_REQ = "hall/bh/kiosk/kiosk-1/req/take_ticket"
KIOSK_REPLY = "hall/bh/kiosk/kiosk-1/reply"


def envelope(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "v": 1,
        "id": new_id(),
        "reply_to": KIOSK_REPLY,
        "deadline": int((time.time() + 30) * 1000),
        "device": "kiosk-1",
        "kind": "take_ticket",
        "body": {"category": "A"},
    }
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("topic", "payload", "reply_topic", "code", "has_id"),
    [
        (KIOSK_REQ, b"{not json", KIOSK_REPLY, "bad_json", False),
        (KIOSK_REQ, json.dumps(envelope(v=2)).encode(), KIOSK_REPLY, "unsupported_version", True),
        (
            KIOSK_REQ,
            b'{"v":1,"pad":"' + b"x" * 70000 + b'"}',
            KIOSK_REPLY,
            "payload_too_large",
            False,
        ),
        (KIOSK_REQ, json.dumps(envelope(extra=1)).encode(), KIOSK_REPLY, "bad_schema", True),
        (
            "hall/bh/kiosk/kiosk-9/req/take_ticket",
            json.dumps(envelope(device="kiosk-9", reply_to="hall/bh/kiosk/kiosk-9/reply")).encode(),
            "hall/bh/kiosk/kiosk-9/reply",
            "unknown_device",
            False,
        ),
        (
            KIOSK_REQ,
            json.dumps(envelope(device="kiosk-2")).encode(),
            KIOSK_REPLY,
            "not_authorised",
            True,
        ),
        (
            KIOSK_REQ,
            json.dumps(envelope(reply_to="hall/bh/kiosk/kiosk-2/reply")).encode(),
            KIOSK_REPLY,
            "not_authorised",
            True,
        ),
        (
            "hall/bh/evaluator/evaluator-1/req/take_ticket",
            json.dumps(
                envelope(device="evaluator-1", reply_to="hall/bh/evaluator/evaluator-1/reply")
            ).encode(),
            "hall/bh/evaluator/evaluator-1/reply",
            "not_authorised",
            False,
        ),
    ],
    ids=[
        "bad-json",
        "wrong-version",
        "oversized",
        "unknown-field",
        "unknown-device",
        "device-mismatch",
        "forged-reply-to",
        "wrong-device-type",
    ],
)
def test_bad_request_gets_error_reply(
    mosquitto_hall: Hall,
    caplog: pytest.LogCaptureFixture,
    topic: str,
    payload: bytes,
    reply_topic: str,
    code: str,
    has_id: bool,
) -> None:
    hall = mosquitto_hall
    hub = hall.start_hub()
    replies: queue.Queue[IncomingMessage] = queue.Queue()
    monitor = hall.client("monitor")
    monitor.subscribe("hall/bh/+/+/reply", replies.put)
    time.sleep(0.2)  # let the SUBACK arrive before publishing (no event for it in the client)

    with caplog.at_level(logging.WARNING, logger="hub"):
        monitor.publish(topic, payload)
        reply_message = replies.get(timeout=WAIT_S)
    assert reply_message.topic == reply_topic
    reply = decode_reply(reply_message.payload)
    assert isinstance(reply, ErrorReply)
    assert reply.error.code.value == code
    assert (reply.id is not None) == has_id
    assert any(code in record.getMessage() for record in caplog.records)
    # Nothing went to the forged reply topic, and the hub still serves requests.
    ticket = hall.kiosk().take_ticket("A")
    assert ticket.number.startswith("A")
    assert replies.empty() or replies.get_nowait().topic == KIOSK_REPLY
    assert hub.health_report()["counters"][f"errors_{code}"] == 1


def test_expired_request_is_dropped_without_reply(mosquitto_hall: Hall) -> None:
    hall = mosquitto_hall
    hub = hall.start_hub()
    replies: queue.Queue[IncomingMessage] = queue.Queue()
    monitor = hall.client("monitor")
    monitor.subscribe(KIOSK_REPLY, replies.put)
    time.sleep(0.2)
    expired = RequestEnvelope.model_validate(envelope(deadline=int(time.time() * 1000) - 1000))
    fresh = RequestEnvelope.model_validate(envelope())
    assert expired.kind is RequestKind.TAKE_TICKET
    monitor.publish(KIOSK_REQ, expired.model_dump_json())
    monitor.publish(KIOSK_REQ, fresh.model_dump_json())
    first = decode_reply(replies.get(timeout=WAIT_S).payload)
    assert first.id == fresh.id  # only the live request was answered
    assert hub.metrics.get("requests_expired") == 1
