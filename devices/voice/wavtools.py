"""Small PCM WAV helpers for the announcer: read, join, trim and write atomically.

Everything stays in the standard ``wave`` module: calls are short mono 16-bit clips,
and joining them needs no resampling as long as all parts share one format — which
:func:`concatenate` checks instead of producing chipmunk audio.
"""

from __future__ import annotations

import array
import os
import sys
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class WavFormatError(ValueError):
    """Parts that cannot be joined (different rate, width or channels), or not a PCM WAV."""


@dataclass(frozen=True)
class WavFormat:
    channels: int
    sample_width: int
    frame_rate: int

    def describe(self) -> str:
        return f"{self.frame_rate} Hz, {8 * self.sample_width}-bit, {self.channels} channel(s)"


@dataclass(frozen=True)
class Wav:
    format: WavFormat
    frames: bytes

    @property
    def frame_count(self) -> int:
        return len(self.frames) // (self.format.sample_width * self.format.channels)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.format.frame_rate


def read_wav(path: Path) -> Wav:
    try:
        with wave.open(str(path), "rb") as source:
            wav_format = WavFormat(
                source.getnchannels(), source.getsampwidth(), source.getframerate()
            )
            return Wav(wav_format, source.readframes(source.getnframes()))
    except (wave.Error, EOFError) as error:
        raise WavFormatError(f"{path}: not a PCM WAV file ({error})") from None


def write_wav_atomically(path: Path, wav: Wav) -> Path:
    """Write via a temporary file and rename, so a reader never sees a half-written WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".wav", dir=path.parent)
    os.close(handle)
    try:
        with wave.open(temporary, "wb") as target:
            target.setnchannels(wav.format.channels)
            target.setsampwidth(wav.format.sample_width)
            target.setframerate(wav.format.frame_rate)
            target.writeframes(wav.frames)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def silence(wav_format: WavFormat, milliseconds: int) -> bytes:
    frames = wav_format.frame_rate * milliseconds // 1000
    return b"\x00" * (frames * wav_format.sample_width * wav_format.channels)


def concatenate(parts: Sequence[Wav], *, gap_ms: int = 0, names: Sequence[str] = ()) -> Wav:
    """Join parts in order with ``gap_ms`` of silence between them."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0].format
    for index, part in enumerate(parts):
        if part.format != first:
            label = names[index] if index < len(names) else f"part {index + 1}"
            raise WavFormatError(
                f"{label} is {part.format.describe()} but the first part is {first.describe()}; "
                "all clips must share sample rate, sample width and channels"
            )
    gap = silence(first, gap_ms)
    return Wav(first, gap.join(part.frames for part in parts))


def trim_silence(wav: Wav, *, threshold: int = 400, pad_ms: int = 30) -> Wav:
    """Cut leading and trailing near-silence (16-bit only), keeping ``pad_ms`` either side."""
    if wav.format.sample_width != 2:
        return wav
    samples = array.array("h", wav.frames)
    if sys.byteorder == "big":
        samples.byteswap()  # WAV data is little-endian
    loud = [index for index, sample in enumerate(samples) if abs(sample) > threshold]
    if not loud:
        return wav
    channels = wav.format.channels
    pad = wav.format.frame_rate * pad_ms // 1000 * channels
    start = max(0, (loud[0] // channels) * channels - pad)
    end = min(len(samples), (loud[-1] // channels + 1) * channels + pad)
    width = wav.format.sample_width
    return Wav(wav.format, wav.frames[start * width : end * width])
