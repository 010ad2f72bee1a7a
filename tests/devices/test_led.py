from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.led import (
    LedColour,
    LedEffect,
    LedSettings,
    LedTextError,
    NullLedDriver,
    Rs485LedDriver,
    open_led,
)
from devices.seriallink import DeviceHealth
from tests.devices.ptypeer import PtyPeer, echo, silent, wait_until


def settings_for(link: Path, **overrides: object) -> LedSettings:
    values: dict[str, object] = {
        "protocol": "rs485-ff68",
        "port": str(link),
        "address": 5,
        "retries": 2,
        "ack_timeout_ms": 60,
        "reconnect_initial_ms": 1,
        "reconnect_max_ms": 20,
    }
    values.update(overrides)
    return LedSettings.model_validate(values)


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyLED5"


def test_show_text_sends_exact_gb18030_frame_and_accepts_echo(link: Path, peer: PtyPeer) -> None:
    peer.start(echo)
    health: list[DeviceHealth] = []
    driver = Rs485LedDriver(settings_for(link), on_health=health.append)
    try:
        acknowledged = driver.show_text(
            "请A001号到5号窗口：",
            colour=LedColour.GREEN,
            effect=LedEffect.SCROLL_LEFT,
            speed=3,
        )
    finally:
        driver.close()
    text = "C7 EB 41 30 30 31 BA C5 B5 BD 35 BA C5 B4 B0 BF DA A3 BA"  # 请A001号到5号窗口：
    data = bytes.fromhex("02 01 03 " + text)
    length = 2 + len(data)
    expected = (
        bytes([0xFF, 0x68, length, length, 0x68, 0x05, 0x31])
        + data
        + bytes([(0x05 + 0x31 + sum(data)) % 256, 0x16])
    )
    assert acknowledged
    assert bytes(peer.received) == expected
    assert expected.hex(" ").upper().startswith("FF 68 18 18 68 05 31 02 01 03 C7 EB")
    assert health[-1].ok


def test_brightness_and_clear_exact_bytes(link: Path, peer: PtyPeer) -> None:
    peer.start(echo)
    driver = Rs485LedDriver(settings_for(link, address=1))
    try:
        assert driver.set_brightness(8)
        assert driver.clear()
    finally:
        driver.close()
    assert bytes(peer.received) == bytes.fromhex(
        "FF 68 03 03 68 01 33 08 3C 16"  # brightness 8
        "FF 68 02 02 68 01 32 33 16"  # clear
    )


def test_show_text_with_brightness_sends_brightness_first(link: Path, peer: PtyPeer) -> None:
    peer.start(echo)
    driver = Rs485LedDriver(settings_for(link, address=1))
    try:
        assert driver.show_text("暂停服务", brightness=15)
    finally:
        driver.close()
    assert bytes(peer.received) == bytes.fromhex(
        "FF 68 03 03 68 01 33 0F 43 16FF 68 0D 0D 68 01 31 01 00 05 D4 DD CD A3 B7 FE CE F1 CD 16"
    )


def test_no_acknowledgement_retries_then_reports_unhealthy(link: Path, peer: PtyPeer) -> None:
    peer.start(silent)
    health: list[DeviceHealth] = []
    driver = Rs485LedDriver(settings_for(link, retries=2), on_health=health.append)
    try:
        assert not driver.set_brightness(3)
    finally:
        driver.close()
    frames = peer.wait_for_frames(3)
    assert [frame.encode() for frame in frames] == [bytes.fromhex("FF68030368053303 3B16")] * 3
    assert not health[-1].ok
    assert "did not acknowledge" in health[-1].detail


def test_echo_from_another_address_is_not_an_acknowledgement(link: Path, peer: PtyPeer) -> None:
    peer.start(lambda frame: echo(frame.__class__(frame.addr + 1, frame.func, frame.data)))
    driver = Rs485LedDriver(settings_for(link, retries=0))
    try:
        assert not driver.clear()
    finally:
        driver.close()


def test_garbage_before_the_echo_is_skipped(link: Path, peer: PtyPeer) -> None:
    peer.start(lambda frame: b"\x00\x13\xff\xfe\x68garbage" + echo(frame))
    driver = Rs485LedDriver(settings_for(link, retries=0))
    try:
        assert driver.show_text("暂停服务")
    finally:
        driver.close()


def test_port_vanishes_then_recovers(link: Path) -> None:
    health: list[DeviceHealth] = []
    first = PtyPeer(link).start(echo)
    driver = Rs485LedDriver(settings_for(link), on_health=health.append)
    try:
        assert driver.clear()
        assert health[-1].ok

        first.close()  # adapter unplugged
        assert not driver.clear()
        assert not health[-1].ok
        assert "lost" in health[-1].detail or "cannot open" in health[-1].detail

        second = PtyPeer(link).start(echo)  # plugged back in, same udev path
        try:
            assert wait_until(driver.check)
            assert driver.show_text("请A002号到5号窗口")
            assert health[-1].ok
            assert [h.ok for h in health] == [True, False, True]
        finally:
            second.close()
    finally:
        driver.close()


def test_missing_port_reports_unhealthy_until_it_appears(link: Path) -> None:
    health: list[DeviceHealth] = []
    driver = Rs485LedDriver(settings_for(link), on_health=health.append)
    try:
        assert not driver.clear()
        assert health == [DeviceHealth(False, health[0].detail)]
        assert "cannot open" in health[0].detail
        peer = PtyPeer(link).start(echo)
        try:
            assert wait_until(driver.check)
            assert driver.clear()
            assert health[-1].ok
        finally:
            peer.close()
    finally:
        driver.close()


def test_text_validation() -> None:
    driver = Rs485LedDriver(settings_for(Path("/nonexistent/ttyLED"), text_encoding="gb2312"))
    with pytest.raises(LedTextError, match="gb2312"):
        driver.show_text("请𠀀先生")  # CJK extension B: GB18030 only
    with pytest.raises(LedTextError, match="limit"):
        driver.show_text("号" * 126)
    with pytest.raises(ValueError, match="brightness"):
        driver.set_brightness(16)
    driver.close()


def test_settings_select_the_driver() -> None:
    assert isinstance(open_led(LedSettings(protocol="none")), NullLedDriver)
    serial_led = open_led(settings_for(Path("/dev/ttyUSB9")))
    assert isinstance(serial_led, Rs485LedDriver)
    with pytest.raises(ValidationError):
        LedSettings(protocol="rs485-ff68")  # no port
    with pytest.raises(ValidationError):
        LedSettings.model_validate({"protocol": "none", "colour": "red"})  # extra="forbid"
    with pytest.raises(ValidationError):
        LedSettings(protocol="none", address=255)
