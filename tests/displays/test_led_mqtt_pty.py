"""End to end: retained WindowDisplayState on a real broker → LED frame out over a pty."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from devices.led import LedSettings, Rs485LedDriver
from devices.serialframes import Frame
from deviceui.screens import UiModel
from displays.controllers import WindowDisplayController
from displays.samples import window_state
from tests.devices.ptypeer import PtyPeer, echo, wait_until
from tests.displays.conftest import HUB, WINDOW_DISPLAY, Broker

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
# docs/led-protocol.md worked example: "暂停服务", red, static, speed 5, address 1.
WHITE_STATIC = bytes((0x07, 0x00, 0x05))
PAUSED_FRAME = bytes.fromhex("FF 68 0D 0D 68 01 31 01 00 05 D4 DD CD A3 B7 FE CE F1 CD 16")


def test_retained_state_reaches_the_led_bar_byte_for_byte(broker: Broker, tmp_path: Path) -> None:
    link = tmp_path / "ttyLED3"
    peer = PtyPeer(link).start(echo)
    hub = broker.client(HUB)
    # Published before the display exists: it must come from the retained copy.
    hub.publish(HUB.status_topic(), b"online", retain=True)
    hub.publish(
        WINDOW_DISPLAY.state_topic(),
        window_state(7, now=NOW, state="paused", pause_reason="会议"),
        retain=True,
    )
    display = broker.client(WINDOW_DISPLAY, start=False)
    controller = WindowDisplayController(display, WINDOW_DISPLAY, "3", UiModel())
    driver = Rs485LedDriver(
        LedSettings(port=str(link), address=1, ack_timeout_ms=100, reconnect_initial_ms=10)
    )
    controller.attach_led(driver, retry_s=0.05)
    controller.subscribe()
    try:
        display.start()
        display.wait_connected(5)
        controller.set_device_connected(True)  # what the app's connection poll reports
        assert wait_until(lambda: PAUSED_FRAME in peer.raw_frames, timeout=5)
        # Before the hub was heard from, the bar showed only the window number (white).
        assert peer.frames[0] == Frame(1, 0x31, WHITE_STATIC + "3号窗口".encode("gb18030"))
        assert peer.raw_frames[-1] == PAUSED_FRAME
        hub.publish(
            WINDOW_DISPLAY.state_topic(),
            window_state(8, now=NOW, state="resting"),
            retain=True,
        )
        frames = peer.wait_for_frames(len(peer.frames) + 1, timeout=5)
        assert frames[-1].data[3:].decode("gb18030") == "休息中"
        assert frames[-1].data[0] == 0x03  # yellow
    finally:
        controller.stop()
        peer.close()
