"""The recorded-clip set for :class:`devices.voice.engines.ClipEngine`, and a default one.

A hall that wants a human voice records one WAV per word (same format for all, e.g.
22050 Hz 16-bit mono) named ``<word>.wav``: the words are :data:`CLIP_WORDS`.
Until then, ``python -m devices.voice.clips DIR`` (or :func:`record_clips_with_espeak`)
fills DIR with espeak-ng renderings, trimmed of their silent edges so joined clips
flow like one sentence.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from devices.voice.engines import PINYIN_VOICE, EspeakEngine
from devices.voice.text import DIGIT_PINYIN
from devices.voice.wavtools import Wav, trim_silence, write_wav_atomically

SENTENCE_WORDS = ("请", "号", "到", "窗口", "办理", "再次")
NUMBER_WORDS = ("十", "百", "千")
NAME_WORDS = ("某",)  # the spoken mask; names themselves are not in a clip set
CLIP_WORDS: tuple[str, ...] = (
    SENTENCE_WORDS
    + NUMBER_WORDS
    + NAME_WORDS
    + tuple(string.digits)
    + tuple(string.ascii_uppercase)
)


def clip_pinyin(word: str) -> str:
    """How espeak-ng's pinyin voice is asked to say one clip word."""
    if word.isdigit():
        return DIGIT_PINYIN[int(word)]
    if word.isascii() and word.isalpha():
        return word.upper()  # capitals are spoken by their letter names
    return " ".join(lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True))


def record_clips_with_espeak(
    clip_dir: Path,
    *,
    engine: EspeakEngine | None = None,
    words: tuple[str, ...] = CLIP_WORDS,
    overwrite: bool = False,
) -> list[Path]:
    """Render every clip word with espeak-ng into ``clip_dir``; keeps existing recordings
    unless ``overwrite``. Returns the paths of all clips for ``words``."""
    speaker = engine if engine is not None else EspeakEngine()
    clip_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for word in words:
        path = clip_dir / f"{word}.wav"
        if overwrite or not path.exists():
            spoken: Wav = speaker.synthesise(clip_pinyin(word), PINYIN_VOICE)
            write_wav_atomically(path, trim_silence(spoken))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the default espeak-ng clip set.")
    parser.add_argument("clip_dir", type=Path)
    parser.add_argument("--overwrite", action="store_true", help="replace recorded clips too")
    arguments = parser.parse_args(argv)
    written = record_clips_with_espeak(arguments.clip_dir, overwrite=arguments.overwrite)
    print(f"{len(written)} clips in {arguments.clip_dir}")


if __name__ == "__main__":
    main()
