"""Test and demo support: a private broker, a fake hub, and driving the app's window.

Used by tests/evaluator and scripts/screenshots_evaluator.py. The fake hub plays
the other side of the evaluator's conversation (the real hub lives in hub/):
it publishes the window state, config and `rate_now`, and answers
`submit_rating` requests (by default with RatingAccepted, deduplicating on
`rating_id` as the real hub must).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hallbus.broker.mosquitto import MosquittoProcess, start_mosquitto
from hallbus.bus import IncomingMessage
from hallbus.client import ConnectionSettings, DeviceClient
from hallbus.codec import decode_request, encode
from hallbus.errors import ContractError
from hallbus.messages import (
    ConfigPush,
    ErrorReply,
    RateNow,
    RatingAccepted,
    RequestEnvelope,
    Response,
    StaffCard,
    SubmitRating,
    WindowDisplayState,
)
from hallbus.ports import free_loopback_port
from hallbus.topics import Command, DeviceRef, DeviceType, RequestKind


@dataclass
class PrivateBroker:
    """Mosquitto with the project's generated config and ACL on a free loopback port."""

    conf_dir: Path
    devices: list[DeviceRef]
    port: int = field(default_factory=free_loopback_port)
    passwords: dict[str, str] = field(default_factory=dict)
    process: MosquittoProcess | None = None

    def __post_init__(self) -> None:
        for device in self.devices:
            self.passwords.setdefault(device.device_id, secrets.token_urlsafe(16))

    def start(self) -> None:
        self.process = start_mosquitto(self.conf_dir, self.devices, self.passwords, self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def settings_for(self, device: DeviceRef, **overrides: Any) -> ConnectionSettings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "password": self.passwords[device.device_id],
            "keepalive_s": 5,
            "reconnect_min_s": 1,
            "reconnect_max_s": 1,
        }
        values.update(overrides)
        return ConnectionSettings(**values)


@contextmanager
def private_broker(conf_dir: Path, devices: list[DeviceRef]) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(conf_dir, devices)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


SubmitPolicy = Callable[[RequestEnvelope, SubmitRating], Response | ErrorReply | None]


class FakeHub:
    """Answers an evaluator's submit_rating like the hub must: idempotent on rating_id."""

    def __init__(self, hub: DeviceRef, settings: ConnectionSettings) -> None:
        self.ref = hub
        self.client = DeviceClient(hub, settings)
        self.submits: list[tuple[RequestEnvelope, SubmitRating]] = []
        self.stored: dict[str, SubmitRating] = {}
        self._changed = threading.Condition()
        self._seq = 0
        self.policy: SubmitPolicy = self.accept

    def start(self, timeout: float = 5.0) -> FakeHub:
        topic = f"hall/{self.ref.hall_id}/+/+/req/{RequestKind.SUBMIT_RATING.value}"
        self.client.subscribe(topic, self._on_submit)
        self.client.start()
        self.client.wait_connected(timeout)
        return self

    def stop(self) -> None:
        self.client.stop()

    def accept(self, envelope: RequestEnvelope, body: SubmitRating) -> Response:
        duplicate = body.rating_id in self.stored
        self.stored.setdefault(body.rating_id, body)
        accepted = RatingAccepted(rating_id=body.rating_id, duplicate=duplicate)
        return Response(id=envelope.id, body=accepted.model_dump(mode="json"))

    def _on_submit(self, message: IncomingMessage) -> None:
        try:
            envelope, body = decode_request(message.payload, RequestKind.SUBMIT_RATING)
        except ContractError as error:
            reply_topic = message.topic.rsplit("/req/", 1)[0] + "/reply"
            self.client.publish(reply_topic, ErrorReply.for_code(None, error.code, error.message))
            return
        assert isinstance(body, SubmitRating)
        with self._changed:
            self.submits.append((envelope, body))
            reply = self.policy(envelope, body)
            self._changed.notify_all()
        if reply is not None:
            self.client.publish(envelope.reply_to, encode(reply))

    def wait_for_submits(self, count: int, timeout: float = 10.0) -> list[SubmitRating]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.submits) >= count, timeout)
            return [body for _envelope, body in self.submits]

    # ---------------------------------------------------------------- publishing

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def publish_state(self, evaluator: DeviceRef, state: WindowDisplayState) -> None:
        self.client.publish(evaluator.state_topic(), state, retain=True)

    def publish_config(self, evaluator: DeviceRef, push: ConfigPush) -> None:
        self.client.publish(evaluator.config_topic(), push, retain=True)

    def rate_now(self, evaluator: DeviceRef, command: RateNow) -> None:
        self.client.publish(evaluator.command_topic(Command.RATE_NOW), command)


def rate_now_command(
    window: str,
    *,
    now: datetime | None = None,
    expires_in_s: float = 120,
    ticket: str = "A001",
    request_id: str | None = None,
) -> RateNow:
    moment = now or datetime.now(UTC)
    return RateNow(
        request_id=request_id or secrets.token_hex(16),
        window=window,
        ticket_number=ticket,
        matter_code="370100-001-XK-0001",
        matter_name="企业设立登记",
        staff_name="王芳",
        employee_no="0107",
        expires_at=moment + timedelta(seconds=expires_in_s),
    )


def window_state(window: str, seq: int = 1, **overrides: Any) -> WindowDisplayState:
    values: dict[str, Any] = {
        "seq": seq,
        "window": window,
        "department_name": "市场监督管理局",
        "staff": StaffCard(name="王芳", employee_no="0107", photo_url=None, stars=4.8),
        "state": "open",
        "current_ticket": "A001",
    }
    values.update(overrides)
    return WindowDisplayState(**values)


def evaluator_ref(device_id: str = "evaluator-t1", hall: str = "th") -> DeviceRef:
    return DeviceRef(hall, DeviceType.EVALUATOR, device_id)


def hub_ref(hall: str = "th") -> DeviceRef:
    return DeviceRef(hall, DeviceType.HUB, f"hub-{hall}")


# ------------------------------------------------------------------ Kivy pumping


def pump_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Run the Kivy event loop (clock, input, drawing) until predicate() or timeout."""
    from kivy.base import EventLoop

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        EventLoop.idle()
        if predicate():
            return True
    return predicate()


def pump_frames(count: int = 3) -> None:
    from kivy.base import EventLoop

    for _ in range(count):
        EventLoop.idle()
