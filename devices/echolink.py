"""An FF 68 link whose every frame is echoed as its acknowledgement, read by one thread.

The key boxes (:mod:`devices.buttonbox`, :mod:`devices.callerbox`) both speak this way:
a box sends a frame until the host echoes it, and the host sends a frame until the
box echoes it. :class:`EchoLink` is that shared machinery: one reader thread owning a
:class:`~devices.seriallink.ReconnectingPort` (open, read, write, reopen), a send queue
other threads feed, the send-with-retries that waits for an echo, and the decoding
loop that drops a frame left incomplete for too long as damaged.

Why a module of its own: :mod:`devices.serialframes` is framing without I/O and
:mod:`devices.seriallink` is the port without any protocol; the LED driver
(:mod:`devices.led`) uses both but talks synchronously (write, then read the echo)
and has no reader thread. The echo-acknowledged, reader-thread link sits on top of
both and is needed only by the drivers of boxes that also send unprompted.

The link's own settings (port, baud rate, retries, ack and partial-frame timeouts,
reopen backoff) are :class:`EchoLinkSettings`, which each driver's settings extend;
its counters are :class:`EchoLinkStats`, likewise extended.

What stays in each driver: which frames it accepts and how it delivers them
(``on_frame``), its own delivery threads, its addresses, and the per-send choices
``send`` takes (an attempt that may go out late or not, giving up on ``stop``).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from devices.serialframes import Frame, FrameDecoder, FrameError
from devices.seriallink import DeviceHealth, HealthCallback, ReconnectingPort


class EchoLinkSettings(BaseModel):
    """The settings of the link itself; a driver's settings class extends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str
    baudrate: int = Field(default=9600, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    ack_timeout_ms: int = Field(default=300, ge=10, le=10_000)
    # A frame still incomplete this long after its last byte is dropped as damaged.
    partial_frame_timeout_ms: int = Field(default=100, ge=10)
    reconnect_initial_ms: int = Field(default=500, ge=1)
    reconnect_max_ms: int = Field(default=10_000, ge=1)


@dataclass
class EchoLinkStats:
    """Counters the link keeps; a driver's stats class extends it with its own."""

    frames_received: int = 0  # valid frames for one of the link's addresses
    damaged_frames: int = 0  # started like a frame but failed a check: never echoed
    noise_bytes: int = 0


FrameCallback = Callable[[Frame, bytes], None]


class EchoLink:
    """One serial port carrying echo-acknowledged FF 68 frames for ``addresses``.

    ``on_frame(frame, encoded)`` runs on the reader thread for every valid frame to one
    of ``addresses`` that is not the echo a :meth:`send` waits for; it must not block
    (hand deliveries to another thread) and acknowledges with :meth:`acknowledge`.
    Frames for other addresses go to ``on_foreign`` (if given) and are otherwise ignored.
    ``device`` names one box in health reports (``"key box"`` → "key box 7 answering");
    ``log_name`` names the link in ``logger``'s messages.
    """

    def __init__(
        self,
        settings: EchoLinkSettings,
        *,
        addresses: Collection[int],
        on_frame: FrameCallback,
        stats: EchoLinkStats,
        device: str,
        log_name: str,
        logger: logging.Logger,
        on_foreign: Callable[[Frame], None] | None = None,
        on_health: HealthCallback | None = None,
    ) -> None:
        self._retries = settings.retries
        self._ack_timeout_s = settings.ack_timeout_ms / 1000
        self._addresses = frozenset(addresses)
        self._on_frame = on_frame
        self._on_foreign = on_foreign
        self._stats = stats
        self._device = device
        self._log_name = log_name
        self._logger = logger
        self._partial_timeout_s = settings.partial_frame_timeout_ms / 1000
        self._port = ReconnectingPort(
            settings.port,
            settings.baudrate,
            on_health=on_health,
            backoff_initial_s=settings.reconnect_initial_ms / 1000,
            backoff_max_s=settings.reconnect_max_ms / 1000,
        )
        # (frame, send-by time): an attempt past its send-by time is not sent late.
        self._outbox: queue.SimpleQueue[tuple[bytes, float]] = queue.SimpleQueue()
        self._awaiting_echo: dict[bytes, threading.Event] = {}
        self._awaiting_lock = threading.Lock()
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def health(self) -> DeviceHealth | None:
        return self._port.health

    @property
    def started(self) -> bool:
        return self._reader is not None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self, thread_name: str) -> None:
        self._reader = threading.Thread(target=self._read_loop, name=thread_name, daemon=True)
        self._reader.start()

    def stop(self, timeout: float = 2.0) -> None:
        """End the reader thread; the port stays open until :meth:`close`."""
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(timeout)

    def close(self) -> None:
        self._port.close()

    def report(self, health: DeviceHealth) -> None:
        self._port.report(health)

    def acknowledge(self, encoded: bytes) -> None:
        """Echo a received frame (reader thread only: from ``on_frame``)."""
        self._port.write(encoded)

    def send(
        self,
        encoded: bytes,
        *,
        expire_unsent: bool = False,
        give_up_on_stop: bool = False,
    ) -> bool | None:
        """Send ``encoded`` until it is echoed, at most ``retries + 1`` times.

        True once echoed, False when no attempt was echoed within ``ack_timeout_ms``
        (reporting health is the driver's, with its own words), None when
        ``give_up_on_stop`` and :meth:`stop` came first. With ``expire_unsent`` an
        attempt the reader could not send within its ack timeout is dropped rather
        than sent late. Blocks: never call it from ``on_frame``. Two identical
        frames in flight would share one echo: a driver that may send the same frame
        from two threads serialises them.
        """
        acknowledged = threading.Event()
        with self._awaiting_lock:
            self._awaiting_echo[encoded] = acknowledged
        try:
            for _ in range(self._retries + 1):
                if give_up_on_stop and self._stopping.is_set():
                    return None
                send_by = time.monotonic() + self._ack_timeout_s if expire_unsent else math.inf
                self._outbox.put((encoded, send_by))
                self._port.interrupt_read()  # send now rather than after the read timeout
                if acknowledged.wait(self._ack_timeout_s):
                    return True
        finally:
            with self._awaiting_lock:
                self._awaiting_echo.pop(encoded, None)
        return False

    # -- reader thread ------------------------------------------------------------------
    def _read_loop(self) -> None:
        decoder = FrameDecoder()
        last_byte_at = time.monotonic()
        while not self._stopping.is_set():
            self._send_queued()
            chunk = self._port.read()
            if chunk is None:
                # Port down: wait out the reopen backoff, but wake for stop().
                self._stopping.wait(min(0.5, max(0.005, self._port.seconds_until_next_attempt())))
                decoder = FrameDecoder()
                continue
            now = time.monotonic()
            if chunk:
                last_byte_at = now
                for item in decoder.feed(chunk):
                    self._handle(item)
            elif decoder.buffered and now - last_byte_at >= self._partial_timeout_s:
                flushed = decoder.flush_partial()
                if flushed is not None:
                    self._handle(flushed)

    def _send_queued(self) -> None:
        while True:
            try:
                encoded, send_by = self._outbox.get_nowait()
            except queue.Empty:
                return
            if time.monotonic() < send_by:
                self._port.write(encoded)

    def _handle(self, item: Frame | FrameError) -> None:
        if isinstance(item, FrameError):
            if item.is_damaged_frame:
                self._stats.damaged_frames += 1
                name, port = self._log_name, self._port.port
                self._logger.warning("%s %s: %s (%s)", name, port, item.reason, item.raw.hex(" "))
            else:
                self._stats.noise_bytes += len(item.raw)
            return
        if item.addr not in self._addresses:
            if self._on_foreign is not None:
                self._on_foreign(item)
            return
        self._stats.frames_received += 1
        self._port.report(DeviceHealth(True, f"{self._device} {item.addr} answering"))
        encoded = item.encode()
        with self._awaiting_lock:
            acknowledged = self._awaiting_echo.get(encoded)
        if acknowledged is not None:
            acknowledged.set()
            return
        self._on_frame(item, encoded)
