"""The small publish/subscribe interface device apps depend on (never paho directly).

`DeviceClient` implements it against a broker; `RecordingBus` implements it in
memory for app unit tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from paho.mqtt.client import topic_matches_sub
from pydantic import BaseModel

from hallbus.codec import encode

Payload = BaseModel | bytes | str


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


MessageHandler = Callable[[IncomingMessage], None]


def payload_bytes(payload: Payload) -> bytes:
    if isinstance(payload, BaseModel):
        return encode(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return payload


class MessageBus(Protocol):
    def publish(
        self, topic: str, payload: Payload, *, qos: int = 1, retain: bool = False
    ) -> None: ...

    def subscribe(self, topic_filter: str, handler: MessageHandler, *, qos: int = 1) -> None: ...


@dataclass(frozen=True, slots=True)
class PublishedMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class RecordingBus:
    """In-memory MessageBus: records publishes and delivers them to matching subscribers.

    Delivery is synchronous on the publishing thread, which keeps app unit tests
    deterministic.
    """

    published: list[PublishedMessage] = field(default_factory=list)
    _handlers: list[tuple[str, MessageHandler]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, payload: Payload, *, qos: int = 1, retain: bool = False) -> None:
        message = PublishedMessage(topic, payload_bytes(payload), qos, retain)
        with self._lock:
            self.published.append(message)
            handlers = [h for f, h in self._handlers if topic_matches_sub(f, topic)]
        for handler in handlers:
            handler(IncomingMessage(topic, message.payload, qos, retain))

    def subscribe(self, topic_filter: str, handler: MessageHandler, *, qos: int = 1) -> None:
        with self._lock:
            self._handlers.append((topic_filter, handler))

    def inject(self, topic: str, payload: Payload, *, retain: bool = False) -> None:
        """Deliver a message to subscribers as if the broker sent it (not recorded)."""
        data = payload_bytes(payload)
        with self._lock:
            handlers = [h for f, h in self._handlers if topic_matches_sub(f, topic)]
        for handler in handlers:
            handler(IncomingMessage(topic, data, 1, retain))

    def on_topic(self, topic: str) -> list[PublishedMessage]:
        with self._lock:
            return [m for m in self.published if m.topic == topic]
