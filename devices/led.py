"""LED strip drivers: window LED bars and the hall LED board on RS-485.

Protocol ``rs485-ff68`` (see also docs/led-protocol.md) rides on the FF 68 framing of
:mod:`devices.serialframes`; 9600 baud, 8N1, one address (1..254) per LED controller.

========  =================  ===============================================  =========
function  name               data                                             reply
========  =================  ===============================================  =========
0x31      show text          colour, effect, speed, text (GB18030 or GB2312)  echo
0x32      clear              (none)                                           echo
0x33      brightness         level 0..15 (0 = off, 15 = brightest)            echo
========  =================  ===============================================  =========

Colour byte (bit 0 red, bit 1 green, bit 2 blue; a red/green bar shows 0x03 as yellow):
0x01 red, 0x02 green, 0x03 yellow, 0x04 blue, 0x05 magenta, 0x06 cyan, 0x07 white.

Effect byte: 0x00 static, 0x01 scroll left, 0x02 flash. Speed byte: 1 (slowest) .. 15;
controllers ignore it for static text.

Text: GB18030 by default (a superset of GB2312 that covers every character a name or
matter title may contain); ``text_encoding: gb2312`` for older controllers. At most
``MAX_DATA_LENGTH - 3`` = 250 encoded bytes. Full-width punctuation (：，。) encodes as
two bytes like any Chinese character.

The controller executes a frame and then echoes it unchanged. The driver waits
``ack_timeout_ms`` for that echo, resends up to ``retries`` times, and reports
``DeviceHealth`` through ``on_health`` when the bar stops (or resumes) answering or the
port disappears. A lost port is reopened with exponential backoff; while it is down,
commands return False at once instead of blocking the caller.

Worked example, "暂停服务" in red, static, speed 5, address 1::

    FF 68 0D 0D 68 01 31 01 00 05 D4 DD CD A3 B7 FE CE F1 CD 16
"""

from __future__ import annotations

import logging
import threading
import time
from enum import IntEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices.serialframes import MAX_DATA_LENGTH, Frame, FrameDecoder
from devices.seriallink import DeviceHealth, HealthCallback, ReconnectingPort

logger = logging.getLogger(__name__)

FUNC_SHOW_TEXT = 0x31
FUNC_CLEAR = 0x32
FUNC_BRIGHTNESS = 0x33
MAX_BRIGHTNESS = 15
MIN_SPEED = 1
MAX_SPEED = 15
MAX_TEXT_BYTES = MAX_DATA_LENGTH - 3  # colour, effect and speed come first


class LedColour(IntEnum):
    RED = 0x01
    GREEN = 0x02
    YELLOW = 0x03
    BLUE = 0x04
    MAGENTA = 0x05
    CYAN = 0x06
    WHITE = 0x07


class LedEffect(IntEnum):
    STATIC = 0x00
    SCROLL_LEFT = 0x01
    FLASH = 0x02


class LedSettings(BaseModel):
    """Per-device LED configuration (one entry per window bar or hall board)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["rs485-ff68", "none"] = "rs485-ff68"
    port: str | None = None
    baudrate: int = Field(default=9600, gt=0)
    address: int = Field(default=1, ge=1, le=254)
    retries: int = Field(default=2, ge=0, le=10)
    ack_timeout_ms: int = Field(default=300, ge=10, le=10_000)
    text_encoding: Literal["gb18030", "gb2312"] = "gb18030"
    reconnect_initial_ms: int = Field(default=500, ge=1)
    reconnect_max_ms: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _port_required_for_serial(self) -> LedSettings:
        if self.protocol == "rs485-ff68" and not self.port:
            raise ValueError("protocol rs485-ff68 needs a port, e.g. /dev/ttyUSB0")
        return self


class LedTextError(ValueError):
    """The text cannot be sent: a character the encoding lacks, or too long."""


class LedDriver(Protocol):
    """What displays need from an LED strip. Methods return True once the strip confirmed."""

    def show_text(
        self,
        text: str,
        *,
        colour: LedColour = LedColour.RED,
        effect: LedEffect = LedEffect.STATIC,
        speed: int = 5,
        brightness: int | None = None,
    ) -> bool: ...

    def clear(self) -> bool: ...

    def set_brightness(self, level: int) -> bool: ...

    def close(self) -> None: ...


def encode_led_text(text: str, encoding: str = "gb18030") -> bytes:
    try:
        encoded = text.encode(encoding)
    except UnicodeEncodeError as error:
        bad = text[error.start : error.end]
        raise LedTextError(f"{bad!r} cannot be shown on a {encoding} LED controller") from None
    if len(encoded) > MAX_TEXT_BYTES:
        raise LedTextError(f"text is {len(encoded)} bytes in {encoding}; limit {MAX_TEXT_BYTES}")
    return encoded


def show_text_frame(
    address: int,
    text: str,
    *,
    colour: LedColour,
    effect: LedEffect,
    speed: int,
    encoding: str = "gb18030",
) -> Frame:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be {MIN_SPEED}..{MAX_SPEED}, got {speed}")
    header = bytes((int(colour), int(effect), speed))
    return Frame(address, FUNC_SHOW_TEXT, header + encode_led_text(text, encoding))


def clear_frame(address: int) -> Frame:
    return Frame(address, FUNC_CLEAR)


def brightness_frame(address: int, level: int) -> Frame:
    if not 0 <= level <= MAX_BRIGHTNESS:
        raise ValueError(f"brightness must be 0..{MAX_BRIGHTNESS}, got {level}")
    return Frame(address, FUNC_BRIGHTNESS, bytes((level,)))


class Rs485LedDriver:
    """LED controller on an RS-485 line speaking the rs485-ff68 command set above.

    Thread-safe: one command is on the wire at a time. Each command blocks for at most
    ``(retries + 1) * ack_timeout_ms``; callers on a UI thread should hand it to a worker.
    """

    def __init__(self, settings: LedSettings, *, on_health: HealthCallback | None = None) -> None:
        if settings.protocol != "rs485-ff68" or settings.port is None:
            raise ValueError("Rs485LedDriver needs protocol rs485-ff68 and a port")
        self._settings = settings
        self._link = ReconnectingPort(
            settings.port,
            settings.baudrate,
            on_health=on_health,
            backoff_initial_s=settings.reconnect_initial_ms / 1000,
            backoff_max_s=settings.reconnect_max_ms / 1000,
        )
        self._lock = threading.Lock()

    @property
    def health(self) -> DeviceHealth | None:
        return self._link.health

    def show_text(
        self,
        text: str,
        *,
        colour: LedColour = LedColour.RED,
        effect: LedEffect = LedEffect.STATIC,
        speed: int = 5,
        brightness: int | None = None,
    ) -> bool:
        # Build every frame first so a bad argument fails before anything is sent.
        text_frame = show_text_frame(
            self._settings.address,
            text,
            colour=colour,
            effect=effect,
            speed=speed,
            encoding=self._settings.text_encoding,
        )
        if brightness is not None:
            level_frame = brightness_frame(self._settings.address, brightness)
            if not self._transact(level_frame):
                return False
        return self._transact(text_frame)

    def clear(self) -> bool:
        return self._transact(clear_frame(self._settings.address))

    def set_brightness(self, level: int) -> bool:
        return self._transact(brightness_frame(self._settings.address, level))

    def check(self) -> bool:
        """Try to reopen a lost port now if its backoff has elapsed; True if it is open."""
        with self._lock:
            return self._link.ensure_open() is not None

    def close(self) -> None:
        with self._lock:
            self._link.close()

    def _transact(self, frame: Frame) -> bool:
        encoded = frame.encode()
        attempts = self._settings.retries + 1
        with self._lock:
            for attempt in range(1, attempts + 1):
                if self._link.ensure_open() is None:
                    return False
                self._link.discard_input()
                if not self._link.write(encoded):
                    return False
                acknowledged = self._await_echo(frame)
                if acknowledged is None:
                    return False  # the port went away while waiting
                if acknowledged:
                    self._link.report(DeviceHealth(True, f"address {frame.addr} answering"))
                    return True
                logger.debug(
                    "LED %s: no echo for func %#04x (attempt %d/%d)",
                    self._settings.port,
                    frame.func,
                    attempt,
                    attempts,
                )
            self._link.report(
                DeviceHealth(
                    False,
                    f"address {frame.addr} did not acknowledge func {frame.func:#04x} "
                    f"after {attempts} attempts",
                )
            )
            return False

    def _await_echo(self, frame: Frame) -> bool | None:
        """True on echo, False on timeout, None if the port failed while waiting."""
        decoder = FrameDecoder()
        deadline = time.monotonic() + self._settings.ack_timeout_ms / 1000
        while time.monotonic() < deadline:
            chunk = self._link.read()
            if chunk is None:
                return None
            for item in decoder.feed(chunk):
                # Other controllers share the bus; only our own echo counts.
                if item == frame:
                    return True
        return False


class NullLedDriver:
    """For windows without an LED strip (protocol "none"): accepts everything, sends nothing."""

    def show_text(
        self,
        text: str,
        *,
        colour: LedColour = LedColour.RED,
        effect: LedEffect = LedEffect.STATIC,
        speed: int = 5,
        brightness: int | None = None,
    ) -> bool:
        return True

    def clear(self) -> bool:
        return True

    def set_brightness(self, level: int) -> bool:
        return True

    def close(self) -> None:
        return None


def open_led(settings: LedSettings, *, on_health: HealthCallback | None = None) -> LedDriver:
    """Build the driver a device's config asks for."""
    if settings.protocol == "none":
        return NullLedDriver()
    return Rs485LedDriver(settings, on_health=on_health)
