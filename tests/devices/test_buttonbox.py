from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.buttonbox import ButtonBox, ButtonBoxSettings, KeyPress, key_press_frame
from devices.serialframes import Frame, encode_frame
from devices.seriallink import DeviceHealth
from tests.devices.ptypeer import PtyPeer, Recorder, echo, silent, wait_until


def box_settings(link: Path, **overrides: object) -> ButtonBoxSettings:
    values: dict[str, object] = {
        "port": str(link),
        "address": 7,
        "retries": 1,
        "ack_timeout_ms": 80,
        "reconnect_initial_ms": 1,
        "reconnect_max_ms": 20,
    }
    values.update(overrides)
    return ButtonBoxSettings.model_validate(values)


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyRATE7"


@pytest.fixture
def box(link: Path, recorder: Recorder[KeyPress], peer: PtyPeer) -> Iterator[ButtonBox]:
    device = ButtonBox(box_settings(link), on_key=recorder.on_key, on_health=recorder.on_health)
    device.start()
    assert recorder.wait_health(True)
    yield device
    device.stop()


def test_lamp_on_and_off_exact_bytes(peer: PtyPeer, box: ButtonBox) -> None:
    peer.start(echo)
    assert box.set_rating_lamp(True)
    assert box.set_rating_lamp(False)
    assert bytes(peer.received) == bytes.fromhex(
        "FF 68 03 03 68 07 42 01 4A 16"  # lamp on: 0x07 + 0x42 + 0x01 = 0x4A
        "FF 68 03 03 68 07 42 00 49 16"  # lamp off
    )


def test_lamp_without_echo_retries_and_reports_unhealthy(
    peer: PtyPeer, box: ButtonBox, recorder: Recorder[KeyPress]
) -> None:
    peer.start(silent)
    assert not box.set_rating_lamp(True)
    assert len(peer.wait_for_frames(2)) == 2  # retries=1 → two attempts
    assert recorder.health[-1] == DeviceHealth(False, "key box 7 did not acknowledge the lamp")


def test_key_frame_is_delivered_and_echoed(
    peer: PtyPeer, box: ButtonBox, recorder: Recorder[KeyPress]
) -> None:
    key_frame = bytes.fromhex("FF 68 03 03 68 07 41 01 49 16")  # key 1 = 非常满意
    assert key_frame == key_press_frame(7, 1).encode()
    peer.write(key_frame)
    press = recorder.presses.get(timeout=2)
    assert (press.level, press.label, press.key_code) == (5, "非常满意", 1)
    assert press.pressed_at.tzinfo is not None
    assert peer.read_exactly(len(key_frame)) == key_frame  # acknowledgement

    peer.write(key_press_frame(7, 5).encode())
    press = recorder.presses.get(timeout=2)
    assert (press.level, press.label) == (1, "非常不满意")
    assert box.stats.key_presses == 2


def test_corrupt_frame_is_ignored_counted_and_not_echoed(
    peer: PtyPeer, box: ButtonBox, recorder: Recorder[KeyPress]
) -> None:
    corrupt = bytes.fromhex("FF 68 03 03 68 07 41 02 00 16")  # checksum should be 4A
    good = key_press_frame(7, 3).encode()
    peer.write(b"\x00\x55noise" + corrupt + good)
    press = recorder.presses.get(timeout=2)
    assert press.level == 3
    # Only the good frame comes back: the corrupt one must be resent by the box.
    assert peer.read_exactly(len(good) + 1, timeout=0.3) == good
    assert box.stats.damaged_frames == 1
    assert box.stats.key_presses == 1
    assert recorder.presses.empty()


def test_frames_for_other_addresses_and_unknown_keys(
    peer: PtyPeer, box: ButtonBox, recorder: Recorder[KeyPress]
) -> None:
    peer.write(key_press_frame(8, 1).encode())  # another window's box on the same bus
    unknown = key_press_frame(7, 9).encode()
    peer.write(unknown)
    assert peer.read_exactly(len(unknown)) == unknown  # echoed so the box stops resending
    assert wait_until(lambda: box.stats.unknown_keys == 1)
    assert recorder.presses.empty()


def test_slow_key_handler_does_not_delay_echoes(
    peer: PtyPeer, link: Path, recorder: Recorder[KeyPress]
) -> None:
    release = threading.Event()
    seen: list[KeyPress] = []

    def slow_handler(press: KeyPress) -> None:
        seen.append(press)
        release.wait(5)

    device = ButtonBox(box_settings(link), on_key=slow_handler, on_health=recorder.on_health)
    device.start()
    try:
        assert recorder.wait_health(True)  # opening the port discards older input
        frames = [key_press_frame(7, code).encode() for code in (1, 2, 3)]
        for frame in frames:
            peer.write(frame)
        assert peer.read_exactly(sum(map(len, frames)), timeout=1.0) == b"".join(frames)
    finally:
        release.set()
        device.stop()
    assert [press.level for press in seen] == [5, 4, 3]


def test_disconnect_reports_unhealthy_and_recovers(
    link: Path, recorder: Recorder[KeyPress]
) -> None:
    first = PtyPeer(link)
    device = ButtonBox(box_settings(link), on_key=recorder.on_key, on_health=recorder.on_health)
    device.start()
    try:
        assert recorder.wait_health(True)
        first.close()
        assert recorder.wait_health(False)
        second = PtyPeer(link)
        try:
            assert recorder.wait_health(True)
            frame = key_press_frame(7, 2).encode()
            second.write(frame)
            assert recorder.presses.get(timeout=2).level == 4
            assert second.read_exactly(len(frame)) == frame
        finally:
            second.close()
    finally:
        device.stop()


def test_custom_key_mapping_and_validation(tmp_path: Path) -> None:
    settings = box_settings(tmp_path / "x", key_levels={1: 1, 2: 2, 3: 3, 4: 4, 5: 5})
    assert settings.key_levels[1] == 1
    with pytest.raises(ValueError):
        box_settings(tmp_path / "x", key_levels={1: 6})
    assert Frame(7, 0x41, b"\x01").encode() == encode_frame(7, 0x41, b"\x01")
