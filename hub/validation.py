"""Checks every device request passes before the hub acts on it.

Order: topic grammar → known device → device type matches the registry and may
make this kind of request → payload (size → JSON → version → schema, in
hallbus.codec) → envelope names the topic's device → reply_to is the sender's
own reply topic. The payload checks are the contract's; the identity checks
repeat what the broker ACL enforces, because the embedded broker has no ACL
and a misconfigured Mosquitto should not turn into a hole.

A rejected request is answered on the reply topic derived from the request
topic (never on a `reply_to` the hub has not verified).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Final

from hallbus.broker.acl import COMPONENTS_BY_TYPE, REQUESTS_BY_TYPE
from hallbus.codec import decode, decode_request
from hallbus.errors import ContractError, ErrorCode
from hallbus.messages import DeviceHealth, DeviceInfo, RequestBody, RequestEnvelope
from hallbus.topics import Channel, Component, DeviceTopic, RequestKind, TopicError, parse_topic
from hub.registry import DeviceRegistry

# Loose shape of a request topic, used only to find where to send the error
# reply for a topic the grammar refuses (e.g. an unknown request kind).
_LOOSE_REQUEST_TOPIC: Final = re.compile(r"^(hall/[^/]+/[^/]+/[^/]+)/req/[^/]+$")
_CORRELATION_ID: Final = re.compile(r"[0-9a-f]{32}")
# Payloads the hub never reads far enough to find an id in (contract: id is null).
_UNREADABLE: Final = frozenset({ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.BAD_JSON})


class RequestRejected(Exception):
    """The request cannot be served; reply with `code` on `reply_topic` (None: nowhere)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        reply_topic: str | None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.reply_topic = reply_topic
        self.request_id = request_id


class RequestExpired(Exception):
    """The device gave up before the hub got to the request: drop it without a reply."""


@dataclass(frozen=True, slots=True)
class ValidRequest:
    topic: DeviceTopic
    envelope: RequestEnvelope
    body: RequestBody
    received_at: float  # time.monotonic() when it arrived

    @property
    def device_id(self) -> str:
        return self.topic.device.device_id

    @property
    def reply_topic(self) -> str:
        return self.topic.device.reply_topic()

    def remaining_s(self, now_ms: float | None = None) -> float:
        """Seconds until the device gives up (negative once it has)."""
        current = now_ms if now_ms is not None else time.time() * 1000
        return (self.envelope.deadline - current) / 1000


def fallback_reply_topic(topic: str) -> str | None:
    match = _LOOSE_REQUEST_TOPIC.match(topic)
    return f"{match.group(1)}/{Channel.REPLY.value}" if match else None


def validate_request(
    topic: str, payload: bytes, registry: DeviceRegistry, *, received_at: float
) -> ValidRequest:
    """Return the typed request, or raise RequestRejected / RequestExpired."""
    try:
        parsed = parse_topic(topic)
    except TopicError as exc:
        raise RequestRejected(
            ErrorCode.BAD_TOPIC, str(exc), reply_topic=fallback_reply_topic(topic)
        ) from None
    if not isinstance(parsed, DeviceTopic) or parsed.channel is not Channel.REQUEST:
        raise RequestRejected(
            ErrorCode.BAD_TOPIC, f"{topic!r} is not a request topic", reply_topic=None
        )
    device = parsed.device
    reply_topic = device.reply_topic()
    record = registry.get(device.device_id)
    if record is None:
        raise RequestRejected(
            ErrorCode.UNKNOWN_DEVICE,
            f"device {device.device_id!r} is not in this hall's device registry",
            reply_topic=reply_topic,
        )
    if record.ref.device_type is not device.device_type:
        raise RequestRejected(
            ErrorCode.NOT_AUTHORISED,
            f"{device.device_id} is registered as {record.ref.device_type.value}, "
            f"not {device.device_type.value}",
            reply_topic=reply_topic,
        )
    kind = RequestKind(str(parsed.name))  # parse_topic checked the name
    if kind not in REQUESTS_BY_TYPE.get(device.device_type, ()):
        raise RequestRejected(
            ErrorCode.NOT_AUTHORISED,
            f"a {device.device_type.value} may not make {kind.value} requests",
            reply_topic=reply_topic,
        )
    try:
        envelope, body = decode_request(payload, kind)
    except ContractError as exc:
        raise RequestRejected(
            exc.code,
            exc.message,
            reply_topic=reply_topic,
            request_id=None if exc.code in _UNREADABLE else _peek_id(payload),
        ) from None
    if envelope.device != device.device_id:
        raise RequestRejected(
            ErrorCode.NOT_AUTHORISED,
            f"envelope device {envelope.device!r} does not match the topic's {device.device_id!r}",
            reply_topic=reply_topic,
            request_id=envelope.id,
        )
    if envelope.reply_to != reply_topic:
        raise RequestRejected(
            ErrorCode.NOT_AUTHORISED,
            f"reply_to must be the sender's own reply topic {reply_topic!r}",
            reply_topic=reply_topic,
            request_id=envelope.id,
        )
    request = ValidRequest(parsed, envelope, body, received_at)
    if request.remaining_s() <= 0:
        raise RequestExpired(f"{kind.value} {envelope.id} from {device.device_id}: deadline passed")
    return request


def _peek_id(payload: bytes) -> str | None:
    """The correlation id of a parseable request that failed its schema, if it has a valid one."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and _CORRELATION_ID.fullmatch(value) else None


class HealthRejected(Exception):
    """A health report the hub does not record (no reply: health has no reply topic)."""


def validate_health(topic: str, payload: bytes, registry: DeviceRegistry) -> DeviceHealth:
    """The health report on `topic`, checked like a request: grammar, a registered
    device of the topic's type that has this component, payload, and a payload
    naming the topic's device and component (the ACL decides by topic only)."""
    try:
        parsed = parse_topic(topic)
    except TopicError as exc:
        raise HealthRejected(str(exc)) from None
    if not isinstance(parsed, DeviceTopic) or parsed.channel is not Channel.HEALTH:
        raise HealthRejected(f"{topic!r} is not a health topic")
    device = parsed.device
    record = registry.get(device.device_id)
    if record is None:
        raise HealthRejected(f"device {device.device_id!r} is not in the device registry")
    if record.ref.device_type is not device.device_type:
        raise HealthRejected(
            f"{device.device_id} is registered as {record.ref.device_type.value}, "
            f"not {device.device_type.value}"
        )
    component = Component(str(parsed.name))  # parse_topic checked the name
    if component not in COMPONENTS_BY_TYPE.get(device.device_type, ()):
        raise HealthRejected(f"a {device.device_type.value} has no {component.value}")
    try:
        health = decode(DeviceHealth, payload)
    except ContractError as exc:
        raise HealthRejected(f"{exc.code.value}: {exc.message}") from None
    if health.device != device.device_id or health.component is not component:
        raise HealthRejected(
            f"payload names {health.device}/{health.component.value}, "
            f"the topic {device.device_id}/{component.value}"
        )
    return health


def validate_info(topic: str, payload: bytes, registry: DeviceRegistry) -> DeviceInfo:
    """The DeviceInfo on `topic`: a registered device of the topic's type, a valid
    payload naming that device (the ACL decides by topic only)."""
    try:
        parsed = parse_topic(topic)
    except TopicError as exc:
        raise HealthRejected(str(exc)) from None
    if not isinstance(parsed, DeviceTopic) or parsed.channel is not Channel.INFO:
        raise HealthRejected(f"{topic!r} is not an info topic")
    device = parsed.device
    record = registry.get(device.device_id)
    if record is None:
        raise HealthRejected(f"device {device.device_id!r} is not in the device registry")
    if record.ref.device_type is not device.device_type:
        raise HealthRejected(
            f"{device.device_id} is registered as {record.ref.device_type.value}, "
            f"not {device.device_type.value}"
        )
    try:
        info = decode(DeviceInfo, payload)
    except ContractError as exc:
        raise HealthRejected(f"{exc.code.value}: {exc.message}") from None
    if info.device != device.device_id:
        raise HealthRejected(f"payload names {info.device}, the topic {device.device_id}")
    return info
