"""The serial key box drives the evaluator's view-model over a real pty (FF 68 frames)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.buttonbox import (
    FUNC_RATE_LAMP,
    LAMP_OFF,
    LAMP_ON,
    ButtonBoxSettings,
    key_press_frame,
)
from devices.serialframes import Frame
from evaluator.keys import KeyBoxFrontEnd
from evaluator.pending import PendingRatings
from evaluator.testing import rate_now_command
from evaluator.viewmodel import EvaluatorViewModel, Screen
from hallbus.bus import Payload, RecordingBus
from hallbus.codec import decode
from hallbus.health import ComponentHealthReporter
from hallbus.messages import DeviceHealth
from hallbus.topics import Component, DeviceRef, DeviceType
from tests.devices.ptypeer import PtyPeer, wait_until
from tests.evaluator.conftest import FakeClock, Views, make_view_model

ADDRESS = 4


def box_echo(frame: Frame) -> bytes | None:
    """Like the real box: acknowledge lamp commands; the host's key echoes need no answer."""
    return frame.encode() if frame.func == FUNC_RATE_LAMP else None


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[PtyPeer]:
    device = PtyPeer(tmp_path / "ttyRATE4")
    device.start(box_echo)
    yield device
    device.close()


@pytest.fixture
def rig(
    peer: PtyPeer, store: PendingRatings, clock: FakeClock
) -> Iterator[tuple[EvaluatorViewModel, Views, KeyBoxFrontEnd]]:
    view_model, views = make_view_model(store, clock)
    settings = ButtonBoxSettings(
        port=str(peer.link),
        address=ADDRESS,
        ack_timeout_ms=200,
        reconnect_initial_ms=1,
        reconnect_max_ms=20,
    )
    front = KeyBoxFrontEnd(settings, view_model)
    front.start()
    yield view_model, views, front
    front.stop()


def lamp_frames(peer: PtyPeer) -> list[int]:
    return [f.data[0] for f in peer.frames if f.func == FUNC_RATE_LAMP]


def press(peer: PtyPeer, key: int) -> None:
    peer.write(key_press_frame(ADDRESS, key).encode())


def test_key_presses_rate_once_and_light_the_keys_only_while_asking(
    peer: PtyPeer,
    store: PendingRatings,
    clock: FakeClock,
    rig: tuple[EvaluatorViewModel, Views, KeyBoxFrontEnd],
) -> None:
    view_model, views, front = rig
    # idle: the lamp is switched off at start, and a press means nothing
    assert wait_until(lambda: lamp_frames(peer) == [LAMP_OFF])
    press(peer, 1)
    assert wait_until(lambda: front.ignored_presses == 1)
    assert views.last.screen is Screen.IDLE and store.all() == []

    command = rate_now_command("3", now=clock.now, ticket="A007")
    view_model.rate_now(command)
    assert wait_until(lambda: lamp_frames(peer) == [LAMP_OFF, LAMP_ON])

    press(peer, 2)  # key 2 = 满意 (level 4)
    press(peer, 2)  # bounced / repeated press for the same request
    press(peer, 5)
    assert wait_until(lambda: front.accepted_presses + front.ignored_presses == 4)
    assert front.accepted_presses == 1
    assert wait_until(lambda: lamp_frames(peer) == [LAMP_OFF, LAMP_ON, LAMP_OFF])
    (item,) = store.all()
    assert item.rating.level == 4 and item.rating.request_id == command.request_id
    assert views.last.screen is Screen.THANKS


def test_key_for_a_bad_level_continues_on_screen(
    peer: PtyPeer,
    store: PendingRatings,
    clock: FakeClock,
    rig: tuple[EvaluatorViewModel, Views, KeyBoxFrontEnd],
) -> None:
    view_model, views, front = rig
    view_model.rate_now(rate_now_command("3", now=clock.now))
    assert wait_until(lambda: LAMP_ON in lamp_frames(peer))
    press(peer, 5)  # 非常不满意
    assert wait_until(lambda: views.last.screen is Screen.BAD_REASONS)
    # the screen's 重新选择 goes back to levels, but the box already answered this request
    view_model.back_to_levels()
    press(peer, 1)
    assert wait_until(lambda: front.ignored_presses == 1)
    assert views.last.screen is Screen.ASK_LEVEL and store.all() == []
    view_model.choose_level(5)  # on screen
    assert store.all()[0].rating.level == 5


class _PublishSignal(RecordingBus):
    """A RecordingBus that lets a test await a publish instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.published_event = threading.Event()

    def publish(self, topic: str, payload: Payload, *, qos: int = 1, retain: bool = False) -> None:
        super().publish(topic, payload, qos=qos, retain=retain)
        self.published_event.set()


def test_a_missing_key_box_is_reported_as_device_health(
    tmp_path: Path, store: PendingRatings, clock: FakeClock
) -> None:
    view_model, views = make_view_model(store, clock)
    evaluator = DeviceRef("bh", DeviceType.EVALUATOR, "evaluator-3")
    bus = _PublishSignal()
    missing = str(tmp_path / "ttyRATE9")
    reporter = ComponentHealthReporter(
        bus, evaluator, Component.BUTTON_BOX, lambda: datetime.now(UTC)
    )
    settings = ButtonBoxSettings(port=missing, address=ADDRESS, reconnect_initial_ms=5)
    front = KeyBoxFrontEnd(settings, view_model, health=reporter)
    front.start()
    try:
        assert bus.published_event.wait(5)
    finally:
        front.stop()
    (published, *repeats) = bus.on_topic(evaluator.health_topic(Component.BUTTON_BOX))
    assert not repeats  # each reopen attempt reports again; only the change is published
    health = decode(DeviceHealth, published.payload)
    assert (health.device, health.state) == ("evaluator-3", "fault")
    assert health.detail.startswith(f"cannot open {missing}") and published.retain
    # The visitor's screen never carries the fault.
    assert all(missing not in repr(view) for view in views.seen)
