"""Serial ID-card reader and QR/barcode scanner (serial or keyboard wedge).

ID-card reader line protocol (for the demo; real readers vary, put an adapter in front):

    the reader sends one ASCII line per card:  ``IDCARD,<18-character number>\\r\\n``
    anything after a further comma (name, address, ...) is ignored and discarded.
    Other lines (``READY``, ``NOCARD``, noise) are ignored.

The number is turned into :class:`kiosk.identity.IdCardRead` (hash only) inside
:func:`parse_id_card_line`, so it never reaches the view-model.

Scanners send the code followed by CR and/or LF, over a serial port or as key presses
(keyboard wedge). :class:`WedgeBuffer` assembles key presses into codes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import serial

from kiosk.identity import IdCardRead

logger = logging.getLogger(__name__)

ID_CARD_PREFIX = "IDCARD,"
MAX_LINE = 512


def parse_id_card_line(line: bytes | str, lookup_key: bytes) -> IdCardRead | None:
    text = line.decode("ascii", errors="replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.upper().startswith(ID_CARD_PREFIX):
        return None
    number = text[len(ID_CARD_PREFIX) :].split(",", 1)[0]
    try:
        return IdCardRead.from_number(number, lookup_key)
    except ValueError:
        logger.info("ID card reader sent an invalid number (not logged)")
        return None


class SerialLineReader:
    """Reads CR/LF-terminated lines from a serial port on a daemon thread.

    The port is reopened after errors (unplugged reader), with a pause between attempts.
    """

    def __init__(
        self,
        port: str,
        baudrate: int,
        on_line: Callable[[bytes], None],
        *,
        name: str,
        retry_s: float = 3.0,
    ) -> None:
        self._port = port
        self._baudrate = baudrate
        self._on_line = on_line
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._serial: serial.SerialBase | None = None
        # Set once the port is open: pyserial flushes input on open, so anything the device
        # sent before that is lost (tests wait for this before writing).
        self.opened = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._serial is not None:
            with contextlib.suppress(OSError, AttributeError):
                self._serial.cancel_read()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._serial = serial.serial_for_url(self._port, self._baudrate, timeout=0.5)
                self.opened.set()
                self._read_lines(self._serial)
            except (serial.SerialException, OSError) as error:
                logger.warning("serial device %s unavailable: %s", self._port, error)
                self._stop.wait(self._retry_s)
            finally:
                if self._serial is not None:
                    self._serial.close()
                    self._serial = None

    def _read_lines(self, port: serial.SerialBase) -> None:
        buffer = bytearray()
        while not self._stop.is_set():
            chunk = port.read(port.in_waiting or 1)
            if not chunk:
                continue
            for byte in chunk:
                if byte in (0x0D, 0x0A):
                    if buffer:
                        self._deliver(bytes(buffer))
                        buffer.clear()
                elif len(buffer) < MAX_LINE:
                    buffer.append(byte)

    def _deliver(self, line: bytes) -> None:
        try:
            self._on_line(line)
        except Exception:
            logger.exception("handler for %s failed", self._port)


class WedgeBuffer:
    """Collects characters from a keyboard-wedge scanner until Enter.

    A scanner types a whole code within milliseconds; characters that arrive more than
    ``gap_s`` apart start a new code, so stray key presses do not corrupt a scan.
    """

    def __init__(self, *, gap_s: float = 0.3, min_length: int = 6) -> None:
        self._gap_s = gap_s
        self._min_length = min_length
        self._chars: list[str] = []
        self._last = 0.0

    def feed(self, char: str, now: float) -> None:
        if self._chars and now - self._last > self._gap_s:
            self._chars.clear()
        self._last = now
        if len(self._chars) < MAX_LINE:
            self._chars.append(char)

    def enter(self) -> str | None:
        code = "".join(self._chars)
        self._chars.clear()
        return code if len(code) >= self._min_length else None
