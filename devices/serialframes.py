"""FF 68 serial framing shared by the hall's RS-485 devices (LED bars, key boxes, callers).

This is the framing used by the serial caller/rater devices found in halls (RS-485,
9600 baud, 8N1). Every device protocol in :mod:`devices` is a set of function codes
carried inside it.

Byte layout::

    offset  size  value
    0       1     0xFF      preamble (wakes RS-485 transceivers, marks a frame start)
    1       1     0x68      start
    2       1     L         length = 2 + len(data)  (counts addr, func and data)
    3       1     L         length repeated; the two bytes must be equal
    4       1     0x68      start repeated
    5       1     addr      device address, 1..254
    6       1     func      function code (meaning defined per device protocol)
    7       L-2   data      payload, 0..MAX_DATA_LENGTH bytes
    5+L     1     checksum  (addr + func + sum(data)) mod 256
    6+L     1     0x16      end

Worked example: set the brightness (function 0x33) of the LED at address 1 to 8::

    FF 68 03 03 68 01 33 08 3C 16
                            ^^ 0x01 + 0x33 + 0x08 = 0x3C

The receiver acknowledges a frame by echoing it back byte for byte.

:class:`FrameDecoder` is a streaming parser: feed it whatever bytes the port returns
and it yields complete frames, skipping line noise and resynchronising on the next
``FF 68`` after any malformed frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

PREAMBLE = 0xFF
START = 0x68
END = 0x16
HEADER_LENGTH = 5  # FF 68 L L 68
TRAILER_LENGTH = 2  # checksum, 16
# The length byte counts addr + func + data and must fit in one byte.
MAX_DATA_LENGTH = 0xFF - 2
MIN_ADDRESS = 1
MAX_ADDRESS = 254
_FRAME_START = bytes((PREAMBLE, START))


def checksum(addr: int, func: int, data: bytes) -> int:
    """Return (addr + func + data bytes) mod 256."""
    return (addr + func + sum(data)) & 0xFF


@dataclass(frozen=True)
class Frame:
    """One decoded frame: who it is for, what it asks, and its payload."""

    addr: int
    func: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode_frame(self.addr, self.func, self.data)


class FrameFault(Enum):
    """Why bytes were discarded. NOISE is line garbage; the others are damaged frames."""

    NOISE = "noise"
    LENGTH_MISMATCH = "length-mismatch"
    BAD_START = "bad-start"
    TOO_SHORT = "too-short"
    BAD_END = "bad-end"
    BAD_CHECKSUM = "bad-checksum"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class FrameError:
    """Bytes the decoder discarded, and why."""

    fault: FrameFault
    reason: str
    raw: bytes

    @property
    def is_damaged_frame(self) -> bool:
        """True for a frame that started correctly but was corrupt; False for plain noise."""
        return self.fault is not FrameFault.NOISE


def encode_frame(addr: int, func: int, data: bytes = b"") -> bytes:
    """Build one frame. Raises ValueError for an out-of-range address, function or payload."""
    if not 0 <= addr <= 0xFF:
        raise ValueError(f"address {addr} does not fit in one byte")
    if not 0 <= func <= 0xFF:
        raise ValueError(f"function code {func} does not fit in one byte")
    if len(data) > MAX_DATA_LENGTH:
        raise ValueError(f"payload of {len(data)} bytes exceeds the {MAX_DATA_LENGTH}-byte maximum")
    length = 2 + len(data)
    return (
        bytes((PREAMBLE, START, length, length, START, addr, func))
        + bytes(data)
        + bytes((checksum(addr, func, data), END))
    )


class FrameDecoder:
    """Streaming decoder: ``feed(chunk)`` returns the frames and errors found so far.

    Partial frames stay buffered until the rest arrives. A reader that sees the line go
    quiet with a partial frame still buffered should call :meth:`flush_partial`, so that
    a truncated frame cannot swallow the start of the next one for long.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Frame | FrameError]:
        self._buffer.extend(chunk)
        results: list[Frame | FrameError] = []
        while True:
            result = self._next()
            if result is None:
                return results
            results.append(result)

    def flush_partial(self) -> FrameError | None:
        """Discard an incomplete frame (e.g. after an inter-frame silence)."""
        if not self._buffer:
            return None
        raw = bytes(self._buffer)
        self._buffer.clear()
        return FrameError(
            FrameFault.INCOMPLETE, "incomplete frame discarded after line went quiet", raw
        )

    def _drop(self, count: int, fault: FrameFault, reason: str) -> FrameError:
        raw = bytes(self._buffer[:count])
        del self._buffer[:count]
        return FrameError(fault, reason, raw)

    def _drop_noise(self, count: int) -> FrameError:
        return self._drop(count, FrameFault.NOISE, "noise before frame start")

    def _next(self) -> Frame | FrameError | None:
        buffer = self._buffer
        start = buffer.find(_FRAME_START)
        if start < 0:
            # Keep a trailing FF: it may be the first half of a start split across reads.
            keep = 1 if buffer.endswith(bytes((PREAMBLE,))) else 0
            noise = len(buffer) - keep
            return self._drop_noise(noise) if noise > 0 else None
        if start > 0:
            return self._drop_noise(start)
        if len(buffer) < HEADER_LENGTH:
            return None
        length, length_again, second_start = buffer[2], buffer[3], buffer[4]
        # On any header fault, drop only the FF so a real frame starting inside the
        # rejected bytes is still found.
        if length != length_again:
            return self._drop(
                1,
                FrameFault.LENGTH_MISMATCH,
                f"length bytes differ ({length:#04x} != {length_again:#04x})",
            )
        if second_start != START:
            return self._drop(
                1, FrameFault.BAD_START, f"second start byte is {second_start:#04x}, expected 0x68"
            )
        if length < 2:
            return self._drop(
                1, FrameFault.TOO_SHORT, f"length {length} is shorter than addr + func"
            )
        total = HEADER_LENGTH + length + TRAILER_LENGTH
        if len(buffer) < total:
            return None
        addr, func = buffer[5], buffer[6]
        data = bytes(buffer[7 : HEADER_LENGTH + length])
        received_checksum, end = buffer[total - 2], buffer[total - 1]
        if end != END:
            return self._drop(1, FrameFault.BAD_END, f"end byte is {end:#04x}, expected 0x16")
        expected = checksum(addr, func, data)
        if received_checksum != expected:
            return self._drop(
                1,
                FrameFault.BAD_CHECKSUM,
                f"checksum {received_checksum:#04x} != computed {expected:#04x}",
            )
        del buffer[:total]
        return Frame(addr, func, data)
