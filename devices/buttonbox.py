"""Serial key box: the hardware front end of a window's evaluation device (评价器).

Protocol ``rs485-ff68`` (see also docs/buttonbox-protocol.md), FF 68 framing of
:mod:`devices.serialframes`, 9600 baud 8N1, one address per box.

========  ==========  ==========  ===========================  ===========================
function  name        direction   data                         acknowledgement
========  ==========  ==========  ===========================  ===========================
0x41      key press   box → host  key code (1 byte, 1..5)      host echoes the frame
0x42      rate lamp   host → box  0x01 = keys lit, 0x00 = off  box echoes the frame
========  ==========  ==========  ===========================  ===========================

Key codes count the keys from the left of the panel, which is printed from best to
worst as national 好差评 panels are:

====  ===========  =====
key   label        level
====  ===========  =====
1     非常满意      5
2     满意          4
3     基本满意      3
4     不满意        2
5     非常不满意    1
====  ===========  =====

A box wired differently is described by ``key_levels`` in its settings.

The box resends a key frame until it sees the echo, so the host echoes every valid
0x41 frame addressed to it, even a key code it does not know (to stop the resending),
and never echoes a damaged frame (so the box sends it again). Frames for other
addresses on the bus are ignored.

The box reports every press; whether a rating is currently requested is the
evaluator's decision, so presses are always delivered, each with its time. Delivery
runs on its own thread: a slow ``on_key`` callback never stalls the serial reader
(and with it the echoes the box waits for).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from devices.echolink import EchoLink, EchoLinkSettings, EchoLinkStats
from devices.serialframes import Frame
from devices.seriallink import DeviceHealth, HealthCallback

logger = logging.getLogger(__name__)

FUNC_KEY_PRESS = 0x41
FUNC_RATE_LAMP = 0x42
LAMP_ON = 0x01
LAMP_OFF = 0x00

LEVEL_LABELS: dict[int, str] = {
    5: "非常满意",
    4: "满意",
    3: "基本满意",
    2: "不满意",
    1: "非常不满意",
}
DEFAULT_KEY_LEVELS: dict[int, int] = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1}


class ButtonBoxSettings(EchoLinkSettings):
    protocol: Literal["rs485-ff68"] = "rs485-ff68"
    address: int = Field(default=1, ge=1, le=254)
    key_levels: dict[int, int] = Field(default_factory=lambda: dict(DEFAULT_KEY_LEVELS))

    @field_validator("key_levels")
    @classmethod
    def _levels_are_ratings(cls, mapping: dict[int, int]) -> dict[int, int]:
        for code, level in mapping.items():
            if not 0 <= code <= 0xFF or level not in LEVEL_LABELS:
                raise ValueError(f"key {code} → level {level}: keys are 0..255, levels 1..5")
        return mapping


@dataclass(frozen=True)
class KeyPress:
    """One press of a rating key, as the box reported it."""

    level: int  # 5 = 非常满意 … 1 = 非常不满意
    key_code: int
    pressed_at: datetime  # local time, timezone-aware
    monotonic: float  # time.monotonic() at reception, for measuring reaction times

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]


@dataclass
class ButtonBoxStats(EchoLinkStats):
    key_presses: int = 0
    unknown_keys: int = 0
    unexpected_frames: int = 0


KeyCallback = Callable[[KeyPress], None]


def key_press_frame(address: int, key_code: int) -> Frame:
    return Frame(address, FUNC_KEY_PRESS, bytes((key_code,)))


def rate_lamp_frame(address: int, lit: bool) -> Frame:
    return Frame(address, FUNC_RATE_LAMP, bytes((LAMP_ON if lit else LAMP_OFF,)))


class ButtonBox:
    """Reads key presses from a serial key box and lights its keys on request.

    The :class:`~devices.echolink.EchoLink` reader thread owns the port; callers only
    queue frames to it, so the port is never touched from two threads.
    """

    def __init__(
        self,
        settings: ButtonBoxSettings,
        *,
        on_key: KeyCallback,
        on_health: HealthCallback | None = None,
    ) -> None:
        self._settings = settings
        self._on_key = on_key
        self.stats = ButtonBoxStats()
        self._link = EchoLink(
            settings,
            addresses=(settings.address,),
            on_frame=self._handle,
            stats=self.stats,
            device="key box",
            log_name="key box",
            logger=logger,
            on_health=on_health,
        )
        self._deliveries: queue.SimpleQueue[KeyPress | None] = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None

    @property
    def health(self) -> DeviceHealth | None:
        return self._link.health

    def start(self) -> None:
        if self._link.started:
            raise RuntimeError("button box already started")
        name = f"buttonbox-{self._settings.port}"
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name=f"{name}-keys", daemon=True
        )
        self._dispatcher.start()
        self._link.start(name)

    def stop(self, timeout: float = 2.0) -> None:
        self._link.stop(timeout)
        # Only now end deliveries: every press the box saw echoed still reaches on_key.
        self._deliveries.put(None)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
        self._link.close()

    def set_rating_lamp(self, lit: bool) -> bool:
        """Light (or darken) the keys; True once the box echoed the command."""
        if not self._link.started or self._link.stopping:
            raise RuntimeError("start() the button box before sending to it")
        encoded = rate_lamp_frame(self._settings.address, lit).encode()
        if self._link.send(encoded):
            return True
        self._link.report(
            DeviceHealth(False, f"key box {self._settings.address} did not acknowledge the lamp")
        )
        return False

    # -- reader thread ------------------------------------------------------------------
    def _handle(self, item: Frame, encoded: bytes) -> None:
        if item.func != FUNC_KEY_PRESS:
            self.stats.unexpected_frames += 1
            logger.warning("key box %s: unexpected function %#04x", self._settings.port, item.func)
            return
        # Acknowledge first: the box keeps resending until it sees the echo.
        self._link.acknowledge(encoded)
        level = self._settings.key_levels.get(item.data[0]) if len(item.data) == 1 else None
        if level is None:
            self.stats.unknown_keys += 1
            logger.warning("key box %s: unknown key data %s", self._settings.port, item.data.hex())
            return
        self.stats.key_presses += 1
        self._deliveries.put(
            KeyPress(
                level=level,
                key_code=item.data[0],
                pressed_at=datetime.now().astimezone(),
                monotonic=time.monotonic(),
            )
        )

    # -- dispatcher thread --------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while True:
            press = self._deliveries.get()
            if press is None:
                return
            try:
                self._on_key(press)
            except Exception:
                logger.exception("key press handler failed")
