from __future__ import annotations

from collections.abc import Callable

import pytest

from devices.serialframes import (
    MAX_DATA_LENGTH,
    Frame,
    FrameDecoder,
    FrameError,
    FrameFault,
    encode_frame,
)


def test_worked_example_from_the_docstring() -> None:
    assert encode_frame(0x01, 0x33, b"\x08") == bytes.fromhex("FF 68 03 03 68 01 33 08 3C 16")


def test_checksum_wraps_modulo_256() -> None:
    frame = encode_frame(0xFE, 0xFF, b"\xff\x02")
    assert frame[-2] == (0xFE + 0xFF + 0xFF + 0x02) % 256


def test_round_trip_and_split_reads() -> None:
    frames = [
        Frame(1, 0x31, "请A001号".encode("gb18030")),
        Frame(254, 0x32),
        Frame(3, 0x41, b"\x05"),
    ]
    stream = b"".join(frame.encode() for frame in frames)
    decoder = FrameDecoder()
    decoded: list[Frame | FrameError] = []
    for index in range(len(stream)):  # one byte at a time, the worst case
        decoded.extend(decoder.feed(stream[index : index + 1]))
    assert decoded == frames
    assert decoder.buffered == 0


def test_garbage_before_a_frame_is_skipped() -> None:
    decoder = FrameDecoder()
    results = decoder.feed(b"\x00\x68\x16\xff\xfe" + encode_frame(2, 0x32))
    assert results[-1] == Frame(2, 0x32)
    assert all(isinstance(r, FrameError) and r.fault is FrameFault.NOISE for r in results[:-1])


@pytest.mark.parametrize(
    ("damage", "fault"),
    [
        (lambda b: b[:3] + b"\x04" + b[4:], FrameFault.LENGTH_MISMATCH),
        (lambda b: b[:4] + b"\x69" + b[5:], FrameFault.BAD_START),
        (lambda b: b[:-2] + bytes([(b[-2] + 1) % 256]) + b[-1:], FrameFault.BAD_CHECKSUM),
        (lambda b: b[:-1] + b"\x17", FrameFault.BAD_END),
    ],
)
def test_damaged_frame_is_reported_and_the_next_frame_still_decodes(
    damage: Callable[[bytes], bytes], fault: FrameFault
) -> None:
    good = encode_frame(7, 0x41, b"\x01")
    decoder = FrameDecoder()
    results = decoder.feed(damage(good) + good)
    errors = [r for r in results if isinstance(r, FrameError) and r.is_damaged_frame]
    assert [e.fault for e in errors] == [fault]
    assert results[-1] == Frame(7, 0x41, b"\x01")


def test_truncated_frame_is_flushed_after_silence() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(1, 0x31, b"abc")[:6]) == []
    flushed = decoder.flush_partial()
    assert flushed is not None and flushed.fault is FrameFault.INCOMPLETE
    assert decoder.flush_partial() is None


def test_limits() -> None:
    assert len(encode_frame(1, 0x31, bytes(MAX_DATA_LENGTH))) == MAX_DATA_LENGTH + 9
    with pytest.raises(ValueError):
        encode_frame(1, 0x31, bytes(MAX_DATA_LENGTH + 1))
    with pytest.raises(ValueError):
        encode_frame(256, 0x31)
