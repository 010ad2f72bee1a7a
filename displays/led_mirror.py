"""Mirror a window display's state to the window's LED bar (devices.led).

:func:`led_command_for` is the pure mapping (state → text, colour, effect), tested
byte-for-byte through the real driver over a pty. :class:`LedMirror` owns the driver
on a worker thread: the driver blocks for up to (retries + 1) × ack timeout per
command, which must never stall the MQTT handler thread or the Kivy clock.

The worker always sends the *latest* wanted command (intermediate states are skipped
when the bar is slow), resends after a failure once per ``retry_s`` while the bar is
unplugged, and passes the driver's health reports on (the window display shows them
in a small technician line; docs/displays.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import tzinfo

from devices.led import LedColour, LedDriver, LedEffect, LedSettings
from devices.seriallink import DeviceHealth
from displays.timefmt import time_text
from hallbus.config import LedConfig
from hallbus.localtime import pushed_zone
from hallbus.messages import WindowDisplayState

logger = logging.getLogger(__name__)


class UnsupportedLedConfig(ValueError):
    """The device config asks for an LED protocol the driver does not speak."""


def led_settings_from_config(config: LedConfig) -> LedSettings:
    """Device-config ``led`` section → driver settings (the driver speaks FF 68 only)."""
    if config.protocol != "ff68":
        raise UnsupportedLedConfig(
            f"led.protocol {config.protocol!r} is not supported by devices.led; use ff68"
        )
    if not 1 <= config.address <= 254:
        raise UnsupportedLedConfig(f"led.address {config.address} must be 1..254")
    return LedSettings(
        protocol="rs485-ff68",
        port=config.port,
        baudrate=config.baudrate,
        address=config.address,
    )


@dataclass(frozen=True, slots=True)
class LedCommand:
    text: str
    colour: LedColour
    effect: LedEffect = LedEffect.STATIC
    speed: int = 5
    # Show with FLASH for this long, then the same text static (a new call).
    flash_for_s: float = 0.0


def led_command_for(
    window: str,
    state: WindowDisplayState | None,
    *,
    live: bool,
    new_call: bool = False,
    zone: tzinfo | None = None,
) -> LedCommand:
    """What the bar should say. Offline, it shows only the window number: a stale ticket
    on a bright LED would be trusted more than any banner on the screen."""
    if state is None or not live:
        return LedCommand(f"{window}号窗口", LedColour.WHITE)
    if state.state == "open" and state.current_ticket is not None:
        return LedCommand(
            f"请{state.current_ticket}号办理",
            LedColour.GREEN,
            flash_for_s=6.0 if new_call else 0.0,
        )
    if state.state == "open":
        return LedCommand("欢迎光临", LedColour.GREEN)
    if state.state == "paused":
        if state.expected_back is not None:
            return LedCommand(
                f"暂停服务 预计{time_text(state.expected_back, zone or pushed_zone(None))}恢复",
                LedColour.RED,
                LedEffect.SCROLL_LEFT,
                speed=3,
            )
        return LedCommand("暂停服务", LedColour.RED)
    if state.state == "resting":
        return LedCommand("休息中", LedColour.YELLOW)
    return LedCommand("未开放", LedColour.RED)


class LedMirror:
    """Sends the latest LedCommand on a worker thread; thread-safe ``show``."""

    def __init__(
        self,
        driver: LedDriver,
        *,
        retry_s: float = 1.0,
        on_sent: Callable[[LedCommand, bool], None] | None = None,
    ) -> None:
        self._driver = driver
        self._retry_s = retry_s
        self._on_sent = on_sent
        self._wanted: LedCommand | None = None
        self._shown: LedCommand | None = None
        self._flash_pending = False
        self._flash_ends_at: float | None = None
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="led-mirror", daemon=True)
        self._thread.start()

    def show(self, command: LedCommand) -> None:
        with self._changed:
            if command == self._wanted and command.flash_for_s == 0:
                return
            self._wanted = command
            self._flash_pending = command.flash_for_s > 0  # a repeated call flashes again
            self._flash_ends_at = None
            self._changed.notify_all()

    def stop(self, timeout: float = 3.0) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout)
        self._driver.close()

    def _next(self) -> LedCommand | None:
        """Under the lock: the frame to send now, or None to keep waiting."""
        wanted = self._wanted
        if wanted is None:
            return None
        if self._flash_pending:
            return replace(wanted, effect=LedEffect.FLASH)
        if self._flash_ends_at is not None and time.monotonic() < self._flash_ends_at:
            return None
        steady = replace(wanted, flash_for_s=0.0)
        return None if steady == self._shown else steady

    def _wait_time(self) -> float | None:
        if self._flash_ends_at is None:
            return None
        return max(0.0, self._flash_ends_at - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._changed:
                command = self._next()
                while command is None and not self._stopping:
                    self._changed.wait(self._wait_time())
                    command = self._next()
                if self._stopping:
                    return
                wanted = self._wanted
            assert command is not None and wanted is not None
            sent = self._send(command)
            with self._changed:
                if self._wanted is not wanted:
                    continue  # superseded while the bar was busy
                if not sent:
                    self._changed.wait(self._retry_s)
                elif command.effect is LedEffect.FLASH and self._flash_pending:
                    self._flash_pending = False
                    self._flash_ends_at = time.monotonic() + wanted.flash_for_s
                else:
                    self._shown = command
                    self._flash_ends_at = None

    def _send(self, command: LedCommand) -> bool:
        try:
            sent = self._driver.show_text(
                command.text, colour=command.colour, effect=command.effect, speed=command.speed
            )
        except Exception:  # a text the bar cannot show must not kill the mirror
            logger.exception("LED command %r failed", command.text)
            sent = False
        if self._on_sent is not None:
            self._on_sent(command, sent)
        return sent


HealthListener = Callable[[DeviceHealth], None]
