"""A serial port that survives being unplugged: reopen with backoff, report health changes.

USB-RS485 adapters disappear when a cable is knocked or a hub resets, and come back
under the same (udev symlink) path. Device drivers talk through :class:`ReconnectingPort`
so that a lost port turns into a health report and a later reopen, never a crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

try:
    import termios

    # pyserial lets termios.error (not an OSError) escape from buffer resets on POSIX.
    _TERMIOS_ERRORS: tuple[type[Exception], ...] = (termios.error,)
except ImportError:  # Windows
    _TERMIOS_ERRORS = ()

logger = logging.getLogger(__name__)
# Everything a vanished or broken port can raise from pyserial.
PORT_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError, *_TERMIOS_ERRORS)
# ValueError: pyserial's answer to settings the adapter cannot take.
_OPEN_ERRORS: tuple[type[Exception], ...] = (*PORT_ERRORS, ValueError)
# TypeError: pyserial's cancel_read on a port its owner closed a moment ago.
_CANCEL_ERRORS: tuple[type[Exception], ...] = (*PORT_ERRORS, TypeError)


@dataclass(frozen=True)
class DeviceHealth:
    """What a device driver last knew about its hardware."""

    ok: bool
    detail: str


HealthCallback = Callable[[DeviceHealth], None]


class ReconnectingPort:
    """Owns one serial port; opens it lazily and reopens it with exponential backoff.

    Health is reported only when it changes (ok → not ok or back), so a dead port does
    not flood the callback on every retry. Not thread-safe by itself: each driver
    serialises its own access.
    """

    def __init__(
        self,
        port: str,
        baudrate: int,
        *,
        on_health: HealthCallback | None = None,
        read_timeout_s: float = 0.02,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self._on_health = on_health
        self._read_timeout_s = read_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._serial: serial.Serial | None = None
        self._backoff_s = backoff_initial_s
        self._next_attempt_at = 0.0
        self._health: DeviceHealth | None = None
        self._health_lock = threading.Lock()

    @property
    def health(self) -> DeviceHealth | None:
        return self._health

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def seconds_until_next_attempt(self) -> float:
        return max(0.0, self._next_attempt_at - self._clock())

    def ensure_open(self) -> serial.Serial | None:
        """Return the open port, trying to (re)open it if the backoff has elapsed."""
        if self._serial is not None:
            return self._serial
        if self._clock() < self._next_attempt_at:
            return None
        try:
            opened = serial.Serial(
                self.port,
                self.baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=self._read_timeout_s,
                write_timeout=1.0,
            )
        except _OPEN_ERRORS as error:
            self._schedule_retry()
            self.report(DeviceHealth(False, f"cannot open {self.port}: {error}"))
            return None
        self._serial = opened
        # Bytes that arrived while nobody listened belong to no current exchange.
        self.discard_input()
        if self._serial is None:
            return None
        self._backoff_s = self._backoff_initial_s
        self.report(DeviceHealth(True, f"{self.port} open"))
        return opened

    def mark_lost(self, reason: str) -> None:
        """Close the port after an I/O failure and schedule a reopen."""
        self._close_quietly()
        self._schedule_retry()
        self.report(DeviceHealth(False, f"{self.port} lost: {reason}"))

    def write(self, data: bytes) -> bool:
        port = self.ensure_open()
        if port is None:
            return False
        try:
            port.write(data)
            port.flush()
        except PORT_ERRORS as error:
            self.mark_lost(str(error))
            return False
        return True

    def interrupt_read(self) -> None:
        """Make a read blocked in another thread return now (e.g. to send a queued frame).

        The one call that may come from a thread other than the port's owner: pyserial's
        cancel_read only writes to an internal wake-up pipe.
        """
        port = self._serial
        if port is None or not hasattr(port, "cancel_read"):
            return
        try:
            port.cancel_read()
        except _CANCEL_ERRORS:
            logger.debug("cancel_read on %s failed", self.port, exc_info=True)

    def discard_input(self) -> None:
        """Drop unread bytes, e.g. a late echo of an earlier attempt."""
        port = self._serial
        if port is None:
            return
        try:
            port.reset_input_buffer()
        except PORT_ERRORS as error:
            self.mark_lost(str(error))

    def read(self, size: int = 256) -> bytes | None:
        """Bytes available within the read timeout; b"" on silence, None if the port is down."""
        port = self.ensure_open()
        if port is None:
            return None
        try:
            # Block for the first byte only, then take whatever else has already arrived.
            chunk: bytes = port.read(1)
            waiting = port.in_waiting if chunk else 0
            if waiting:
                chunk += port.read(min(size, waiting))
        except PORT_ERRORS as error:
            self.mark_lost(str(error))
            return None
        return chunk

    def report(self, health: DeviceHealth) -> None:
        with self._health_lock:
            changed = self._health is None or self._health.ok != health.ok
            self._health = health
        if not changed:
            return
        log = logger.info if health.ok else logger.warning
        log("serial device %s: %s", self.port, health.detail)
        if self._on_health is not None:
            try:
                self._on_health(health)
            except Exception:
                logger.exception("health callback failed for %s", self.port)

    def close(self) -> None:
        self._close_quietly()

    def _schedule_retry(self) -> None:
        self._next_attempt_at = self._clock() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self._backoff_max_s)

    def _close_quietly(self) -> None:
        port, self._serial = self._serial, None
        if port is None:
            return
        try:
            port.close()
        except PORT_ERRORS:
            logger.debug("closing %s failed", self.port, exc_info=True)
