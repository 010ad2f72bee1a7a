"""Speech engines: turn a :class:`CallText` into a WAV file, and play a WAV.

* :class:`EspeakEngine` (default) runs the ``espeak-ng`` program with the
  ``cmn-latn-pinyin`` voice. It is the robust choice: each call is an isolated process
  (a crash or hang cannot take the announcer down; a timeout kills it), output goes
  straight to a file whose completeness is known when the process exits, and it
  renders a call in about 15 ms.
* :class:`Pyttsx3Engine` drives the same espeak-ng library in-process through pyttsx3.
  pyttsx3 keeps process-wide state (one espeak callback, one engine per driver) and
  its ``runAndWait()`` can return before the utterance is done, so this engine waits
  for the finished-utterance event (sent after the file is written), checks the file
  has audio, tries again when pyttsx3 abandoned the utterance, and serialises all use
  behind one lock. pyttsx3 2.99 also prints "Audio saved to …" on stdout per file.
* :class:`ClipEngine` joins WAV clips a hall recorded (one per word) — for halls that
  prefer a human voice. :func:`devices.voice.clips.record_clips_with_espeak` makes a
  default set so it works out of the box.

All engines write the finished WAV atomically (temporary file + rename). Chinese comes
first; when ``text.en`` is not empty an English line follows after a short pause,
spoken by espeak-ng's ``en`` voice.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from devices.voice.text import CallText
from devices.voice.wavtools import (
    Wav,
    concatenate,
    read_wav,
    write_wav_atomically,
)

logger = logging.getLogger(__name__)

# pyttsx3's race (see Pyttsx3Engine.synthesise) was never seen twice in a row.
UTTERANCE_ATTEMPTS = 3

PINYIN_VOICE = "cmn-latn-pinyin"
ENGLISH_VOICE = "en"
DEFAULT_SPEED_WPM = 150  # a little slower than espeak's 175: halls are echoing rooms
LINE_GAP_MS = 500


class SpeechError(RuntimeError):
    """The engine could not produce audio."""


class PlaybackError(RuntimeError):
    """The speaker could not play a file."""


class SpeechEngine(Protocol):
    def render(self, text: CallText, path: Path) -> Path:
        """Write the spoken call to ``path`` (a complete WAV once this returns)."""
        ...

    def play(self, path: Path) -> None:
        """Play ``path`` on the speaker; return when playback has finished."""
        ...


def play_with_aplay(path: Path, *, timeout_s: float | None = None) -> None:
    """Play a WAV through ALSA's ``aplay``; raises PlaybackError on any failure."""
    executable = shutil.which("aplay")
    if executable is None:
        raise PlaybackError("aplay not found (Debian package alsa-utils)")
    if timeout_s is None:
        # Never let a wedged sound device hold the announcement queue for long.
        timeout_s = read_wav(path).duration_s + 5.0
    try:
        completed = subprocess.run(
            [executable, "-q", str(path)], capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise PlaybackError(f"aplay did not finish {path.name} within {timeout_s:.1f} s") from None
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip()
        raise PlaybackError(f"aplay failed for {path.name}: {detail}")


class EspeakEngine:
    """espeak-ng as a subprocess: ``espeak-ng -v cmn-latn-pinyin -w out.wav <pinyin>``."""

    def __init__(
        self,
        *,
        executable: str = "espeak-ng",
        voice: str = PINYIN_VOICE,
        english_voice: str = ENGLISH_VOICE,
        speed_wpm: int = DEFAULT_SPEED_WPM,
        timeout_s: float = 10.0,
    ) -> None:
        resolved = shutil.which(executable)
        if resolved is None:
            raise SpeechError(f"{executable} not found (Debian package espeak-ng)")
        self._executable = resolved
        self._voice = voice
        self._english_voice = english_voice
        self._speed_wpm = speed_wpm
        self._timeout_s = timeout_s

    def synthesise(self, text: str, voice: str) -> Wav:
        """Speak ``text`` with ``voice`` into memory."""
        with tempfile.TemporaryDirectory(prefix="espeak-") as scratch:
            target = Path(scratch) / "speech.wav"
            command = [
                self._executable,
                "-v",
                voice,
                "-s",
                str(self._speed_wpm),
                "-w",
                str(target),
                "--",  # the text is data, never an option
                text,
            ]
            try:
                completed = subprocess.run(
                    command, capture_output=True, timeout=self._timeout_s, check=False
                )
            except subprocess.TimeoutExpired:
                raise SpeechError(f"espeak-ng took longer than {self._timeout_s} s") from None
            if completed.returncode != 0:
                detail = completed.stderr.decode(errors="replace").strip()
                raise SpeechError(f"espeak-ng failed ({completed.returncode}): {detail}")
            wav = read_wav(target)
        if wav.frame_count == 0:
            raise SpeechError(f"espeak-ng produced no audio for {text!r}")
        return wav

    def render(self, text: CallText, path: Path) -> Path:
        parts = [self.synthesise(text.pinyin, self._voice)]
        if text.en:
            parts.append(self.synthesise(text.en, self._english_voice))
        return write_wav_atomically(path, concatenate(parts, gap_ms=LINE_GAP_MS))

    def play(self, path: Path) -> None:
        play_with_aplay(path)


# pyttsx3's espeak driver keeps one synthesis callback per process.
_PYTTSX3_LOCK = threading.Lock()


class Pyttsx3Engine:
    """pyttsx3 with its espeak driver and the cmn-latn-pinyin voice.

    ``save_to_file`` + ``runAndWait``, then wait for the finished-utterance event and a
    complete WAV file before returning — ``runAndWait()`` alone is not a guarantee.
    """

    def __init__(
        self,
        *,
        voice: str = PINYIN_VOICE,
        english_voice: str = ENGLISH_VOICE,
        speed_wpm: int = DEFAULT_SPEED_WPM,
        finish_timeout_s: float = 10.0,
    ) -> None:
        self._voice = voice
        self._english_voice = english_voice
        self._speed_wpm = speed_wpm
        self._finish_timeout_s = finish_timeout_s
        self._engine: Any = None

    def _driver(self) -> Any:
        if self._engine is None:
            import pyttsx3  # imported lazily: halls using espeak-ng or clips need not install it

            try:
                engine = pyttsx3.init("espeak")
            except Exception as error:
                raise SpeechError(f"pyttsx3 could not start espeak: {error}") from error
            engine.setProperty("rate", self._speed_wpm)
            self._engine = engine
        return self._engine

    def _wait_until_espeak_is_idle(self) -> None:
        """espeak synthesises on its own thread and reports IsPlaying() for a moment
        after the finished-utterance callback. pyttsx3's runAndWait() starts its loop
        with stop(), which, while espeak still plays, leaves a "stopping" flag that
        cancels the utterance about to start. espeak offers no event for going idle,
        so poll briefly; this makes the race rare, not impossible (see synthesise)."""
        from pyttsx3.drivers import _espeak

        deadline = time.monotonic() + self._finish_timeout_s
        while _espeak.IsPlaying():
            if time.monotonic() >= deadline:
                raise SpeechError("espeak is still busy with an earlier utterance")
            time.sleep(0.002)

    def synthesise(self, text: str, voice: str, scratch: Path) -> Wav:
        """One utterance, tried up to UTTERANCE_ATTEMPTS times.

        Waiting for espeak to go idle did not close pyttsx3's race: a CI run under
        load still had an utterance reported completed and, a moment later, from the
        stale flag, abandoned. What counts is what we can check: a completed report
        and a WAV with audio. An attempt without both (abandoned, or cut to an empty
        file) is tried again; pyttsx3 clears its flag when it reports the abandon,
        so the next attempt starts clean. A call announcement is not dropped for a
        library race, and a genuine failure still ends in SpeechError."""
        problems: list[str] = []
        for attempt in range(1, UTTERANCE_ATTEMPTS + 1):
            self._wait_until_espeak_is_idle()
            target = scratch / f"{voice.replace('/', '_')}-{attempt}.wav"
            result = self._attempt(text, voice, target)
            if isinstance(result, Wav):
                return result
            problems.append(result)
            logger.warning("pyttsx3 attempt %d for %r: %s", attempt, text, result)
        raise SpeechError(f"pyttsx3 could not render {text!r}: {'; '.join(problems)}")

    def _attempt(self, text: str, voice: str, target: Path) -> Wav | str:
        """The rendered WAV, or why this attempt gave none."""
        engine = self._driver()
        finished = threading.Event()
        outcomes: list[bool] = []

        # pyttsx3 calls back with keyword arguments: the parameter names matter.
        def on_finished(name: str | None, completed: bool) -> None:
            outcomes.append(completed)
            finished.set()

        token = engine.connect("finished-utterance", on_finished)
        try:
            engine.setProperty("voice", voice)
            engine.save_to_file(text, str(target))
            engine.runAndWait()
            if not finished.wait(self._finish_timeout_s):
                raise SpeechError(f"pyttsx3 never finished {text!r}")
            if True not in outcomes:
                return "abandoned before it completed"
            # The driver writes the file before it reports completion.
            wav = read_wav(target) if target.exists() else None
            if wav is None or wav.frame_count == 0:
                return "reported completed with no audio"
            return wav
        finally:
            engine.disconnect(token)

    def render(self, text: CallText, path: Path) -> Path:
        with _PYTTSX3_LOCK, tempfile.TemporaryDirectory(prefix="pyttsx3-") as scratch:
            parts = [self.synthesise(text.pinyin, self._voice, Path(scratch))]
            if text.en:
                parts.append(self.synthesise(text.en, self._english_voice, Path(scratch)))
        return write_wav_atomically(path, concatenate(parts, gap_ms=LINE_GAP_MS))

    def play(self, path: Path) -> None:
        play_with_aplay(path)


class MissingClipError(SpeechError):
    """The clip set lacks a word the call needs (e.g. a window named in characters)."""


class ClipEngine:
    """Joins per-word clips ``<clip_dir>/<word>.wav`` in the order of ``text.clip_words``.

    The clip set: 请 号 到 窗口 办理 再次 十 百 千 某, digits ``0``–``9`` and letters
    ``A``–``Z``. All clips must share sample rate, sample width and channels. The English
    line, if any, comes from ``english_engine`` and must match the clips' format too.
    Clips are read once and cached: restart after re-recording.
    """

    def __init__(
        self,
        clip_dir: Path,
        *,
        gap_ms: int = 0,
        english_engine: EspeakEngine | None = None,
    ) -> None:
        self._clip_dir = clip_dir
        self._gap_ms = gap_ms
        self._english_engine = english_engine
        self._cache: dict[str, Wav] = {}
        self._cache_lock = threading.Lock()

    def _clip(self, word: str) -> Wav:
        with self._cache_lock:
            cached = self._cache.get(word)
            if cached is None:
                cached = read_wav(self._clip_dir / f"{word}.wav")
                self._cache[word] = cached
            return cached

    def render(self, text: CallText, path: Path) -> Path:
        missing = sorted(
            {word for word in text.clip_words if not (self._clip_dir / f"{word}.wav").is_file()}
        )
        if missing:
            raise MissingClipError(
                f"no clip for {', '.join(missing)} in {self._clip_dir}; record "
                f"<word>.wav for each, or use a speech engine for such calls"
            )
        words = list(text.clip_words)
        speech = concatenate([self._clip(word) for word in words], gap_ms=self._gap_ms, names=words)
        if text.en and self._english_engine is not None:
            english = self._english_engine.synthesise(text.en, ENGLISH_VOICE)
            speech = concatenate(
                [speech, english], gap_ms=LINE_GAP_MS, names=["clips", "English line"]
            )
        return write_wav_atomically(path, speech)

    def play(self, path: Path) -> None:
        play_with_aplay(path)
