"""The hall topic grammar: every MQTT topic the hall uses is built and parsed here.

Grammar (all segments lower case, see docs/protocol.md):

    hall/<hall_id>/<device_type>/<device_id>/status            availability
    hall/<hall_id>/<device_type>/<device_id>/req/<kind>        request from a device
    hall/<hall_id>/<device_type>/<device_id>/reply             replies to that device
    hall/<hall_id>/<device_type>/<device_id>/state             retained state for that device
    hall/<hall_id>/<device_type>/<device_id>/config            retained configuration push
    hall/<hall_id>/<device_type>/<device_id>/cmd/<command>     command to that device
    hall/<hall_id>/<device_type>/<device_id>/health/<component> retained health of one component
    hall/<hall_id>/all/<broadcast>                             hall-wide broadcast

The device id sits in the topic (not only in the payload) so the broker ACL can
decide who may publish where without looking inside messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

ROOT: Final = "hall"
BROADCAST_SEGMENT: Final = "all"

_IDENTIFIER = re.compile(r"[a-z0-9-]{1,32}")
_NAME = re.compile(r"[a-z0-9_]{1,32}")


class DeviceType(StrEnum):
    KIOSK = "kiosk"
    WINDOW_DISPLAY = "window_display"
    HALL_DISPLAY = "hall_display"
    EVALUATOR = "evaluator"
    ANNOUNCER = "announcer"
    LED = "led"
    HUB = "hub"


class Channel(StrEnum):
    STATUS = "status"
    REQUEST = "req"
    REPLY = "reply"
    STATE = "state"
    CONFIG = "config"
    COMMAND = "cmd"
    HEALTH = "health"
    INFO = "info"  # retained DeviceInfo: the software version the device runs


class RequestKind(StrEnum):
    TAKE_TICKET = "take_ticket"
    CATALOG_SEARCH = "catalog_search"
    CASE_LOOKUP = "case_lookup"
    SUBMIT_RATING = "submit_rating"
    MATTER_DETAIL = "matter_detail"


class Command(StrEnum):
    RATE_NOW = "rate_now"
    # The final outcome of a rating the hub accepted while the backend was away.
    RATING_OUTCOME = "rating_outcome"


class Component(StrEnum):
    """Peripherals a device reports the health of (one retained topic each)."""

    PRINTER = "printer"
    LED = "led"
    BUTTON_BOX = "button_box"
    SCANNER = "scanner"
    ID_READER = "id_reader"


class Broadcast(StrEnum):
    CALL = "call"


# Channels whose topic has a trailing name segment, and the names allowed there.
_NAMED_CHANNELS: Final[dict[Channel, type[StrEnum]]] = {
    Channel.REQUEST: RequestKind,
    Channel.COMMAND: Command,
    # One topic per component, not one per device: each is retained, and a
    # device with a printer and a scanner must not overwrite one with the other.
    Channel.HEALTH: Component,
}


class TopicError(ValueError):
    """A topic or topic segment does not follow the hall grammar."""


def validate_identifier(value: str, what: str) -> str:
    """Check a hall id or device id: 1-32 characters of a-z, 0-9 and '-'."""
    if not _IDENTIFIER.fullmatch(value):
        raise TopicError(f"{what} {value!r} must be 1-32 characters of a-z, 0-9 and '-'")
    return value


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """Which device: the three segments that name it in every topic."""

    hall_id: str
    device_type: DeviceType
    device_id: str

    def __post_init__(self) -> None:
        validate_identifier(self.hall_id, "hall id")
        validate_identifier(self.device_id, "device id")
        if not isinstance(self.device_type, DeviceType):
            raise TopicError(f"unknown device type {self.device_type!r}")

    @property
    def prefix(self) -> str:
        return f"{ROOT}/{self.hall_id}/{self.device_type.value}/{self.device_id}"

    def status_topic(self) -> str:
        return f"{self.prefix}/{Channel.STATUS.value}"

    def request_topic(self, kind: RequestKind) -> str:
        return f"{self.prefix}/{Channel.REQUEST.value}/{RequestKind(kind).value}"

    def reply_topic(self) -> str:
        return f"{self.prefix}/{Channel.REPLY.value}"

    def state_topic(self) -> str:
        return f"{self.prefix}/{Channel.STATE.value}"

    def config_topic(self) -> str:
        return f"{self.prefix}/{Channel.CONFIG.value}"

    def command_topic(self, command: Command) -> str:
        return f"{self.prefix}/{Channel.COMMAND.value}/{Command(command).value}"

    def health_topic(self, component: Component) -> str:
        return f"{self.prefix}/{Channel.HEALTH.value}/{Component(component).value}"

    def info_topic(self) -> str:
        return f"{self.prefix}/{Channel.INFO.value}"


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """A parsed device topic: which device, which channel and (req/cmd/health) which name."""

    device: DeviceRef
    channel: Channel
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BroadcastTopic:
    """A parsed hall-wide broadcast topic."""

    hall_id: str
    broadcast: Broadcast


TopicRef = DeviceTopic | BroadcastTopic


def broadcast_topic(hall_id: str, broadcast: Broadcast) -> str:
    validate_identifier(hall_id, "hall id")
    return f"{ROOT}/{hall_id}/{BROADCAST_SEGMENT}/{Broadcast(broadcast).value}"


def hall_filter(hall_id: str) -> str:
    """Subscription filter for everything in one hall (what the hub subscribes to)."""
    validate_identifier(hall_id, "hall id")
    return f"{ROOT}/{hall_id}/#"


def parse_topic(topic: str) -> TopicRef:
    """Parse a concrete topic into a typed reference, or raise TopicError naming the fault."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != ROOT:
        raise TopicError(f"topic {topic!r} does not start with '{ROOT}/<hall_id>/'")
    hall_id = validate_identifier(parts[1], "hall id")
    if parts[2] == BROADCAST_SEGMENT:
        if len(parts) != 4:
            raise TopicError(f"broadcast topic {topic!r} must be {ROOT}/<hall>/all/<name>")
        try:
            return BroadcastTopic(hall_id, Broadcast(parts[3]))
        except ValueError:
            raise TopicError(f"unknown broadcast {parts[3]!r} in {topic!r}") from None
    if len(parts) < 5:
        raise TopicError(f"device topic {topic!r} must be {ROOT}/<hall>/<type>/<id>/<channel>")
    try:
        device_type = DeviceType(parts[2])
    except ValueError:
        raise TopicError(f"unknown device type {parts[2]!r} in {topic!r}") from None
    device = DeviceRef(hall_id, device_type, validate_identifier(parts[3], "device id"))
    try:
        channel = Channel(parts[4])
    except ValueError:
        raise TopicError(f"unknown channel {parts[4]!r} in {topic!r}") from None
    names = _NAMED_CHANNELS.get(channel)
    if names is None:
        if len(parts) != 5:
            raise TopicError(f"channel {channel.value!r} takes no further segments: {topic!r}")
        return DeviceTopic(device, channel)
    if len(parts) != 6 or not _NAME.fullmatch(parts[5]):
        raise TopicError(f"channel {channel.value!r} needs exactly one name segment: {topic!r}")
    try:
        name = names(parts[5]).value
    except ValueError:
        raise TopicError(f"unknown {channel.value} name {parts[5]!r} in {topic!r}") from None
    return DeviceTopic(device, channel, name)
