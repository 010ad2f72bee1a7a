"""Caller key box (呼叫器): the window clerk's hardware keys, many boxes on one RS-485 bus.

Protocol ``rs485-ff68-caller`` (see also docs/buttonbox-protocol.md, section "Caller
key box"), FF 68 framing of :mod:`devices.serialframes`, 9600 baud 8N1. One serial
port at the hub carries up to 254 boxes (addresses 1..254); the hub's configuration
maps each address to a window number.

========  ============  ==========  ==================================  =====================
function  name          direction   data                                acknowledgement
========  ============  ==========  ==================================  =====================
0x51      key press     box → host  key code (1 byte); transfer: key     host echoes the frame
                                    code + target window, ASCII digits
0x52      show text     host → box  ASCII text, 0..8 bytes 0x20..0x7E    box echoes the frame
                                    (empty = blank display)
========  ============  ==========  ==================================  =====================

Key codes:

====  ==========  ===============  ==============================================
code  key         label            meaning
====  ==========  ===============  ==============================================
0x01  call        呼叫 / 下一位     finish the current ticket, call the next one
0x02  recall      重呼             call the current ticket again (hall limit, e.g. 5)
0x03  evaluate    评价             invite the visitor to rate the service
0x04  pause       暂停             pause the window; pressed while paused: resume
0x05  transfer    转移             send the current ticket to another window; the
                                   target's number follows as ASCII digits
                                   (``05 33`` = to window 3, ``05 31 32`` = 12)
0x06  no-show     弃号 / 过号       the called visitor did not come: end the ticket
0x07  finish      办结             the service is finished
====  ==========  ===============  ==============================================

Example frames (box address 3): key call ``FF 68 03 03 68 03 51 01 55 16``; transfer to
window 12 ``FF 68 05 05 68 03 51 05 31 32 BC 16``; show "A012"
``FF 68 06 06 68 03 52 41 30 31 32 29 16``.

Acknowledgement rules (as for the rating key box, :mod:`devices.buttonbox`):

- The box resends a key frame until it sees the echo, so the host echoes every valid
  0x51 frame addressed to one of its boxes, even an unknown key code (counted, logged
  and dropped), and never echoes a damaged frame (the box sends it again). Frames for
  addresses not configured are ignored: another host may own them.
- A resend whose echo was lost looks exactly like a second press. A frame identical
  to the last one accepted from the same box within ``repeat_guard_ms`` is echoed but
  not delivered (``stats.repeated_frames``): a doubled "call" would skip a visitor.
- The host resends a show-text frame up to ``retries`` times when no echo arrives within
  ``ack_timeout_ms``, then reports ``DeviceHealth(ok=False, ...)``. An echo that comes
  after that is counted (``stats.late_echoes``) and ignored.

Each box has its own delivery thread: a key press reaches ``on_key`` there, so a slow
backend call never stalls the serial reader (and the echoes every box waits for), and
one window's slow call does not hold up another window's keys. Presses of one box are
delivered in the order pressed. :meth:`CallerBus.post` runs other work (refreshing a
display) on the same thread, in order with that box's presses.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Literal

from pydantic import Field, field_validator

from devices.echolink import EchoLink, EchoLinkSettings, EchoLinkStats
from devices.serialframes import MAX_ADDRESS, MIN_ADDRESS, Frame
from devices.seriallink import DeviceHealth, HealthCallback

logger = logging.getLogger(__name__)

FUNC_KEY_PRESS = 0x51
FUNC_SHOW_TEXT = 0x52
MAX_DISPLAY_LENGTH = 8
MAX_TARGET_DIGITS = 8


class CallerKey(IntEnum):
    CALL = 0x01
    RECALL = 0x02
    EVALUATE = 0x03
    PAUSE = 0x04
    TRANSFER = 0x05
    NO_SHOW = 0x06
    FINISH = 0x07


KEY_LABELS: dict[CallerKey, str] = {
    CallerKey.CALL: "呼叫",
    CallerKey.RECALL: "重呼",
    CallerKey.EVALUATE: "评价",
    CallerKey.PAUSE: "暂停",
    CallerKey.TRANSFER: "转移",
    CallerKey.NO_SHOW: "弃号",
    CallerKey.FINISH: "办结",
}


class CallerBusSettings(EchoLinkSettings):
    protocol: Literal["rs485-ff68-caller"] = "rs485-ff68-caller"
    port: str = Field(min_length=1)
    addresses: frozenset[int] = Field(min_length=1)
    # Identical frames from one box closer together than this are resends, not presses.
    repeat_guard_ms: int = Field(default=1000, ge=0, le=10_000)

    @field_validator("addresses")
    @classmethod
    def _addresses_on_the_bus(cls, addresses: frozenset[int]) -> frozenset[int]:
        for address in addresses:
            if not MIN_ADDRESS <= address <= MAX_ADDRESS:
                raise ValueError(f"box address {address}: addresses are 1..254")
        return addresses


@dataclass(frozen=True)
class CallerKeyPress:
    """One press of a caller key, as the box at ``address`` reported it."""

    address: int
    key: CallerKey
    # Transfer only: the target window's number as typed on the box; None when the
    # box sent no (or no valid) digits, so the host can answer with an error code.
    target_window: str | None
    pressed_at: datetime  # local time, timezone-aware
    monotonic: float  # time.monotonic() at reception

    @property
    def label(self) -> str:
        return KEY_LABELS[self.key]


@dataclass
class CallerBusStats(EchoLinkStats):
    key_presses: int = 0
    unknown_keys: int = 0
    repeated_frames: int = 0  # resends within repeat_guard_ms: echoed, not delivered
    late_echoes: int = 0  # display echoes nobody waits for any more
    unexpected_frames: int = 0
    foreign_frames: int = 0  # for addresses this host does not serve


CallerKeyCallback = Callable[[CallerKeyPress], None]


def key_press_frame(address: int, key: int, target_window: str | None = None) -> Frame:
    """The frame a box sends for ``key`` (``target_window`` digits only for transfer)."""
    data = bytes((key,))
    if target_window is not None:
        data += target_window.encode("ascii")
    return Frame(address, FUNC_KEY_PRESS, data)


def check_display_text(text: str) -> bytes:
    """The bytes for ``text`` on a box display; ValueError if the box cannot show it."""
    if len(text) > MAX_DISPLAY_LENGTH:
        raise ValueError(f"display text {text!r} is longer than {MAX_DISPLAY_LENGTH} characters")
    if any(not 0x20 <= ord(char) <= 0x7E for char in text):
        raise ValueError(f"display text {text!r}: the box shows printable ASCII only")
    return text.encode("ascii")


def show_text_frame(address: int, text: str) -> Frame:
    return Frame(address, FUNC_SHOW_TEXT, check_display_text(text))


def parse_key_press(frame: Frame) -> tuple[CallerKey, str | None] | None:
    """(key, transfer target) of a key frame; None for a key code or payload not known."""
    if frame.func != FUNC_KEY_PRESS or not frame.data:
        return None
    try:
        key = CallerKey(frame.data[0])
    except ValueError:
        return None
    extra = frame.data[1:]
    if key is not CallerKey.TRANSFER:
        return (key, None) if not extra else None
    digits = extra.decode("ascii", errors="replace")
    valid = 1 <= len(digits) <= MAX_TARGET_DIGITS and digits.isascii() and digits.isdigit()
    return key, digits if valid else None


_Job = Callable[[], None]
_Delivery = CallerKeyPress | _Job | None


class CallerBus:
    """Reads key presses from every caller box on one serial bus and drives their displays.

    One reader thread owns the port (opens, reads, writes, reopens); other threads only
    queue frames to it, so the port is never touched from two threads. Each box address
    has its own delivery thread.
    """

    def __init__(
        self,
        settings: CallerBusSettings,
        *,
        on_key: CallerKeyCallback,
        on_health: HealthCallback | None = None,
    ) -> None:
        self._settings = settings
        self._on_key = on_key
        self.stats = CallerBusStats()
        self._link = EchoLink(
            settings,
            addresses=settings.addresses,
            on_frame=self._handle,
            on_foreign=self._count_foreign,
            stats=self.stats,
            device="caller box",
            log_name="caller bus",
            logger=logger,
            on_health=on_health,
        )
        # One show() at a time per box: two identical frames in flight would share an echo.
        self._show_locks = {address: threading.Lock() for address in settings.addresses}
        self._deliveries: dict[int, queue.SimpleQueue[_Delivery]] = {
            address: queue.SimpleQueue() for address in settings.addresses
        }
        self._last_accepted: dict[int, tuple[bytes, float]] = {}
        self._dispatchers: list[threading.Thread] = []

    @property
    def settings(self) -> CallerBusSettings:
        return self._settings

    @property
    def health(self) -> DeviceHealth | None:
        return self._link.health

    def start(self) -> None:
        if self._link.started:
            raise RuntimeError("caller bus already started")
        name = f"callerbus-{self._settings.port}"
        for address in sorted(self._settings.addresses):
            thread = threading.Thread(
                target=self._dispatch_loop,
                args=(self._deliveries[address],),
                name=f"{name}-box{address}",
                daemon=True,
            )
            self._dispatchers.append(thread)
            thread.start()
        self._link.start(name)

    def stop(self, timeout: float = 2.0) -> None:
        self._link.stop(timeout)
        # Only now end deliveries: every press the host echoed still reaches on_key.
        for deliveries in self._deliveries.values():
            deliveries.put(None)
        for thread in self._dispatchers:
            thread.join(timeout)
        self._link.close()

    def post(self, address: int, job: Callable[[], None]) -> None:
        """Run ``job`` on the delivery thread of box ``address``, after its pending presses."""
        deliveries = self._deliveries.get(address)
        if deliveries is None:
            raise ValueError(f"box address {address} is not on this bus")
        if self._link.stopping:
            return
        deliveries.put(job)

    def show(self, address: int, text: str) -> bool:
        """Show ``text`` on box ``address``; True once the box echoed it.

        Blocks up to (retries + 1) x ack_timeout: call it from a delivery thread
        (:meth:`post`) or a worker, never from the reader's callbacks.
        """
        if not self._link.started:
            raise RuntimeError("start() the caller bus before sending to it")
        if address not in self._show_locks:
            raise ValueError(f"box address {address} is not on this bus")
        encoded = show_text_frame(address, text).encode()
        with self._show_locks[address]:
            # An attempt the reader could not send within its ack timeout is not sent late.
            echoed = self._link.send(
                encoded,
                expire_unsent=True,
                give_up_on_stop=True,
            )
        if echoed is None:
            return False  # stop() came first
        if echoed:
            return True
        self._link.report(
            DeviceHealth(False, f"caller box {address} did not acknowledge the display")
        )
        return False

    # -- reader thread ------------------------------------------------------------------
    def _count_foreign(self, item: Frame) -> None:
        self.stats.foreign_frames += 1

    def _handle(self, item: Frame, encoded: bytes) -> None:
        port = self._settings.port
        deliveries = self._deliveries[item.addr]
        if item.func == FUNC_SHOW_TEXT:
            # The echo of a display attempt show() already gave up on (or resent).
            self.stats.late_echoes += 1
            return
        if item.func != FUNC_KEY_PRESS:
            self.stats.unexpected_frames += 1
            logger.warning(
                "caller bus %s: box %s sent unexpected function %#04x", port, item.addr, item.func
            )
            return
        # Acknowledge first: the box keeps resending until it sees the echo.
        self._link.acknowledge(encoded)
        parsed = parse_key_press(item)
        if parsed is None:
            self.stats.unknown_keys += 1
            logger.warning(
                "caller bus %s: box %s sent unknown key data %s", port, item.addr, item.data.hex()
            )
            return
        now = time.monotonic()
        last = self._last_accepted.get(item.addr)
        guard_s = self._settings.repeat_guard_ms / 1000
        if last is not None and last[0] == encoded and now - last[1] < guard_s:
            # Measured from the latest copy, so a chain of resends stays one press.
            self._last_accepted[item.addr] = (encoded, now)
            self.stats.repeated_frames += 1
            logger.info("caller bus %s: box %s resent key %s", port, item.addr, parsed[0].name)
            return
        self._last_accepted[item.addr] = (encoded, now)
        key, target = parsed
        if key is CallerKey.TRANSFER and target is None:
            logger.warning(
                "caller bus %s: box %s sent transfer without a valid window number (%s)",
                port,
                item.addr,
                item.data[1:].hex(),
            )
        self.stats.key_presses += 1
        deliveries.put(
            CallerKeyPress(
                address=item.addr,
                key=key,
                target_window=target,
                pressed_at=datetime.now().astimezone(),
                monotonic=now,
            )
        )

    # -- delivery threads ---------------------------------------------------------------
    def _dispatch_loop(self, deliveries: queue.SimpleQueue[_Delivery]) -> None:
        while True:
            item = deliveries.get()
            if item is None:
                return
            try:
                if isinstance(item, CallerKeyPress):
                    self._on_key(item)
                else:
                    item()
            except Exception:
                logger.exception("caller box handler failed")
