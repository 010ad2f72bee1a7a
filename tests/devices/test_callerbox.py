"""The caller key box bus driver (devices.callerbox) against a real pty pair."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.callerbox import (
    FUNC_KEY_PRESS,
    CallerBus,
    CallerBusSettings,
    CallerKey,
    CallerKeyPress,
    check_display_text,
    key_press_frame,
    parse_key_press,
    show_text_frame,
)
from devices.serialframes import Frame
from devices.seriallink import DeviceHealth
from tests.devices.ptypeer import PtyPeer, Recorder, echo, silent, wait_until


def bus_settings(link: Path, **overrides: object) -> CallerBusSettings:
    values: dict[str, object] = {
        "port": str(link),
        "addresses": [3, 4],
        "retries": 1,
        "ack_timeout_ms": 500,
        "repeat_guard_ms": 0,
        "reconnect_initial_ms": 1,
        "reconnect_max_ms": 20,
    }
    values.update(overrides)
    return CallerBusSettings.model_validate(values)


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyCALLERS"


def started_bus(link: Path, recorder: Recorder[CallerKeyPress], **overrides: object) -> CallerBus:
    bus = CallerBus(
        bus_settings(link, **overrides), on_key=recorder.on_key, on_health=recorder.on_health
    )
    bus.start()
    # Opening the port discards older input: write only once it is open.
    assert recorder.wait_health(True)
    return bus


@pytest.fixture
def bus(link: Path, recorder: Recorder[CallerKeyPress], peer: PtyPeer) -> Iterator[CallerBus]:
    device = started_bus(link, recorder)
    yield device
    device.stop()


def test_frames_have_the_documented_bytes() -> None:
    # The examples of the module docstring and docs/buttonbox-protocol.md.
    assert key_press_frame(3, CallerKey.CALL).encode() == bytes.fromhex(
        "FF 68 03 03 68 03 51 01 55 16"  # 0x03 + 0x51 + 0x01 = 0x55
    )
    assert key_press_frame(3, CallerKey.TRANSFER, "12").encode() == bytes.fromhex(
        "FF 68 05 05 68 03 51 05 31 32 BC 16"
    )
    assert show_text_frame(3, "A012").encode() == bytes.fromhex(
        "FF 68 06 06 68 03 52 41 30 31 32 29 16"
    )
    assert show_text_frame(3, "").encode() == bytes.fromhex("FF 68 02 02 68 03 52 55 16")
    codes = {key.name: key.value for key in CallerKey}
    assert codes == {
        "CALL": 1,
        "RECALL": 2,
        "EVALUATE": 3,
        "PAUSE": 4,
        "TRANSFER": 5,
        "NO_SHOW": 6,
        "FINISH": 7,
    }


def test_key_payloads_are_parsed_strictly() -> None:
    assert parse_key_press(key_press_frame(3, 2)) == (CallerKey.RECALL, None)
    assert parse_key_press(key_press_frame(3, 5, "7")) == (CallerKey.TRANSFER, "7")
    assert parse_key_press(key_press_frame(3, 5)) == (CallerKey.TRANSFER, None)
    assert parse_key_press(Frame(3, FUNC_KEY_PRESS, b"\x05\x33\x41")) == (CallerKey.TRANSFER, None)
    assert parse_key_press(Frame(3, FUNC_KEY_PRESS, b"\x05" + b"1" * 9)) == (
        CallerKey.TRANSFER,
        None,
    )
    assert parse_key_press(Frame(3, FUNC_KEY_PRESS, b"\x01\x00")) is None  # extra byte
    assert parse_key_press(Frame(3, FUNC_KEY_PRESS, b"\x09")) is None
    assert parse_key_press(Frame(3, FUNC_KEY_PRESS, b"")) is None


def test_display_text_and_settings_are_validated(tmp_path: Path) -> None:
    assert check_display_text("E1") == b"E1"
    with pytest.raises(ValueError, match="longer than 8"):
        check_display_text("A0123456789")
    with pytest.raises(ValueError, match="printable ASCII"):
        check_display_text("叫号")
    with pytest.raises(ValidationError, match=r"addresses are 1\.\.254"):
        bus_settings(tmp_path / "x", addresses=[0, 3])
    with pytest.raises(ValidationError):
        bus_settings(tmp_path / "x", addresses=[])
    with pytest.raises(ValidationError):
        bus_settings(tmp_path / "x", adresses=[3])  # extra="forbid"


def test_show_text_sends_the_frame_and_waits_for_the_echo(peer: PtyPeer, bus: CallerBus) -> None:
    peer.start(echo)
    assert bus.show(3, "A012")
    assert bus.show(4, "--")
    assert bytes(peer.received) == (
        show_text_frame(3, "A012").encode() + show_text_frame(4, "--").encode()
    )
    with pytest.raises(ValueError, match="not on this bus"):
        bus.show(9, "A012")


def test_show_without_echo_retries_and_reports_unhealthy(
    peer: PtyPeer, link: Path, recorder: Recorder[CallerKeyPress]
) -> None:
    bus = started_bus(link, recorder, ack_timeout_ms=200)
    try:
        peer.start(silent)
        assert not bus.show(4, "E2")
        assert len(peer.wait_for_frames(2)) == 2  # retries=1 → two attempts
        assert recorder.health[-1] == DeviceHealth(
            False, "caller box 4 did not acknowledge the display"
        )
    finally:
        bus.stop()


def test_key_press_is_echoed_and_delivered(
    peer: PtyPeer, bus: CallerBus, recorder: Recorder[CallerKeyPress]
) -> None:
    frame = key_press_frame(3, CallerKey.CALL).encode()
    peer.write(frame)
    assert peer.read_exactly(len(frame)) == frame  # the acknowledgement
    press = recorder.presses.get(timeout=2)
    assert (press.address, press.key, press.target_window, press.label) == (
        3,
        CallerKey.CALL,
        None,
        "呼叫",
    )
    assert press.pressed_at.tzinfo is not None

    transfer = key_press_frame(4, CallerKey.TRANSFER, "12").encode()
    peer.write(transfer)
    assert peer.read_exactly(len(transfer)) == transfer
    press = recorder.presses.get(timeout=2)
    assert (press.address, press.key, press.target_window) == (4, CallerKey.TRANSFER, "12")
    assert bus.stats.key_presses == 2


def test_damaged_frame_is_not_echoed_and_its_resend_is_delivered_once(
    peer: PtyPeer, bus: CallerBus, recorder: Recorder[CallerKeyPress]
) -> None:
    damaged = bytes.fromhex("FF 68 03 03 68 03 51 02 00 16")  # checksum should be 0x56
    good = key_press_frame(3, CallerKey.RECALL).encode()
    peer.write(b"\x00\x55noise" + damaged)
    assert wait_until(lambda: bus.stats.damaged_frames == 1)
    peer.write(good)  # the box resends, having seen no echo
    press = recorder.presses.get(timeout=2)
    assert press.key is CallerKey.RECALL
    # Only the good frame comes back; nothing for the damaged one.
    assert peer.read_exactly(len(good) + 1, timeout=0.3) == good
    assert bus.stats.key_presses == 1
    assert recorder.presses.empty()


def test_unknown_keys_are_echoed_logged_and_dropped(
    peer: PtyPeer,
    bus: CallerBus,
    recorder: Recorder[CallerKeyPress],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="devices.callerbox")
    unknown = key_press_frame(3, 0x2A).encode()
    with_extra = Frame(3, FUNC_KEY_PRESS, b"\x01\x01").encode()
    peer.write(unknown + with_extra)
    # Echoed, so the box stops resending them.
    assert peer.read_exactly(len(unknown) + len(with_extra)) == unknown + with_extra
    assert wait_until(lambda: bus.stats.unknown_keys == 2)
    assert "box 3 sent unknown key data 2a" in caplog.text
    peer.write(key_press_frame(3, CallerKey.FINISH).encode())
    assert recorder.presses.get(timeout=2).key is CallerKey.FINISH
    assert recorder.presses.empty()


def test_late_display_echoes_and_unexpected_functions_are_not_keys(
    peer: PtyPeer,
    bus: CallerBus,
    recorder: Recorder[CallerKeyPress],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="devices.callerbox")
    late = show_text_frame(3, "A012").encode()  # nobody is waiting for this echo
    odd = Frame(4, 0x60, b"\x01").encode()
    peer.write(late + odd)
    assert wait_until(lambda: bus.stats.late_echoes == 1 and bus.stats.unexpected_frames == 1)
    assert "box 4 sent unexpected function 0x60" in caplog.text
    assert "box 3" not in caplog.text
    # Neither is acknowledged: only key presses are echoed by the host.
    assert peer.read_exactly(1, timeout=0.3) == b""
    assert recorder.presses.empty()


def test_transfer_without_digits_is_delivered_without_a_target(
    peer: PtyPeer, bus: CallerBus, recorder: Recorder[CallerKeyPress]
) -> None:
    peer.write(Frame(3, FUNC_KEY_PRESS, b"\x05\x33\x41").encode())  # "3A": not digits
    press = recorder.presses.get(timeout=2)
    assert (press.key, press.target_window) == (CallerKey.TRANSFER, None)


def test_frames_for_other_addresses_are_ignored(
    peer: PtyPeer, bus: CallerBus, recorder: Recorder[CallerKeyPress]
) -> None:
    foreign = key_press_frame(9, CallerKey.CALL).encode()
    ours = key_press_frame(4, CallerKey.EVALUATE).encode()
    peer.write(foreign + ours)
    # Only our box's frame is echoed: address 9 belongs to another host (or none).
    assert peer.read_exactly(len(ours) + 1, timeout=0.3) == ours
    press = recorder.presses.get(timeout=2)
    assert (press.address, press.key) == (4, CallerKey.EVALUATE)
    assert bus.stats.foreign_frames == 1
    assert recorder.presses.empty()


def test_a_resend_within_the_guard_is_echoed_but_not_delivered_twice(
    peer: PtyPeer, link: Path, recorder: Recorder[CallerKeyPress]
) -> None:
    bus = started_bus(link, recorder, repeat_guard_ms=5000)
    try:
        call = key_press_frame(3, CallerKey.CALL).encode()
        other_box = key_press_frame(4, CallerKey.CALL).encode()
        recall = key_press_frame(3, CallerKey.RECALL).encode()
        peer.write(call + call + other_box + recall)
        sent = call + call + other_box + recall
        assert peer.read_exactly(len(sent)) == sent  # every copy acknowledged
        delivered = [recorder.presses.get(timeout=2) for _ in range(3)]
        assert {(press.address, press.key) for press in delivered} == {
            (3, CallerKey.CALL),
            (4, CallerKey.CALL),
            (3, CallerKey.RECALL),
        }
        assert bus.stats.repeated_frames == 1
        assert recorder.presses.empty()
    finally:
        bus.stop()


def test_without_a_guard_every_press_is_delivered(
    peer: PtyPeer, bus: CallerBus, recorder: Recorder[CallerKeyPress]
) -> None:
    call = key_press_frame(3, CallerKey.CALL).encode()
    peer.write(call + call)
    assert peer.read_exactly(2 * len(call)) == call + call
    assert [recorder.presses.get(timeout=2).key for _ in range(2)] == [CallerKey.CALL] * 2


def test_a_slow_handler_stalls_neither_echoes_nor_other_boxes(
    peer: PtyPeer, link: Path, recorder: Recorder[CallerKeyPress]
) -> None:
    release = threading.Event()
    fast: queue.Queue[CallerKeyPress] = queue.Queue()
    slow_seen: list[CallerKeyPress] = []
    slow_entered = threading.Event()

    def handler(press: CallerKeyPress) -> None:
        if press.address == 3:
            slow_seen.append(press)
            slow_entered.set()
            release.wait(5)  # a backend call that hangs
        else:
            fast.put(press)

    bus = CallerBus(bus_settings(link), on_key=handler, on_health=recorder.on_health)
    bus.start()
    try:
        assert recorder.wait_health(True)
        frames = [key_press_frame(3, key).encode() for key in (1, 2, 3)]
        frames.append(key_press_frame(4, CallerKey.FINISH).encode())
        peer.write(b"".join(frames))
        assert peer.read_exactly(sum(map(len, frames))) == b"".join(frames)
        # Window of box 4 is served while box 3's first press is still in the backend.
        assert fast.get(timeout=2.0).key is CallerKey.FINISH
        assert slow_entered.wait(2.0)
        assert len(slow_seen) == 1  # still held: the others wait their turn
    finally:
        release.set()
        bus.stop()
    # Box 3's presses were all delivered, in the order pressed.
    assert [press.key for press in slow_seen] == [
        CallerKey.CALL,
        CallerKey.RECALL,
        CallerKey.EVALUATE,
    ]


def test_posted_work_runs_in_order_with_the_box_presses(
    peer: PtyPeer, link: Path, recorder: Recorder[CallerKeyPress]
) -> None:
    order: list[str] = []
    done = threading.Event()
    gate = threading.Event()

    def handler(press: CallerKeyPress) -> None:
        gate.wait(5)
        order.append(f"key {press.key.name}")

    bus = CallerBus(bus_settings(link), on_key=handler, on_health=recorder.on_health)
    bus.start()
    try:
        assert recorder.wait_health(True)
        frame = key_press_frame(3, CallerKey.CALL).encode()
        peer.write(frame)
        assert peer.read_exactly(len(frame)) == frame
        assert wait_until(lambda: bus.stats.key_presses == 1)

        def job() -> None:
            order.append("job")
            done.set()

        bus.post(3, job)
        gate.set()
        assert done.wait(2)
        assert order == ["key CALL", "job"]
        with pytest.raises(ValueError):
            bus.post(7, lambda: None)
    finally:
        bus.stop()


def test_port_vanishing_and_coming_back(link: Path, recorder: Recorder[CallerKeyPress]) -> None:
    first = PtyPeer(link)
    bus = CallerBus(
        bus_settings(link, ack_timeout_ms=200),
        on_key=recorder.on_key,
        on_health=recorder.on_health,
    )
    bus.start()
    try:
        assert recorder.wait_health(True)
        first.close()
        link.unlink()  # the adapter's udev symlink goes with it
        assert recorder.wait_health(False)
        assert not bus.show(3, "--")  # nothing to talk to: refused, not raised
        second = PtyPeer(link)
        try:
            assert recorder.wait_health(True)
            frame = key_press_frame(3, CallerKey.NO_SHOW).encode()
            second.write(frame)
            assert recorder.presses.get(timeout=2).key is CallerKey.NO_SHOW
            assert second.read_exactly(len(frame)) == frame
            second.start(echo)
            assert bus.show(3, "--")
        finally:
            second.close()
    finally:
        bus.stop()
