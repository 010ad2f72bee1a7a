"""The announcer: speaks ticket calls one at a time, in the order they were made.

One worker thread takes calls from a FIFO queue, renders each once through a
:class:`SpeechEngine`, and plays it ``repeat`` times. Because there is exactly one
worker and playback is synchronous, two calls can never sound at once, and calls are
spoken in enqueue order (the caller's order) — never re-sorted by ticket or seq.

Each repetition is also written as ``<seq>-<ticket>-<n>.wav`` in ``output_dir`` so the
audio can be checked (tests, audits). Without ``output_dir`` a private temporary
directory is used and files are removed after playing.

A playback failure (no sound card, aplay missing) is logged and recorded in the
timeline; it never blocks the queue. A render failure (e.g. a missing clip) skips that
call, likewise logged and recorded.

Timing: the timeline records for every repetition when the call was enqueued, when its
WAV was ready and when playback started and ended (``time.monotonic()``), so the
latency from call to start of speech can be measured.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from devices.voice.engines import SpeechEngine
from devices.voice.text import call_text, normalise_ticket

logger = logging.getLogger(__name__)

TIMELINE_LENGTH = 2000  # enough for a busy day's audit tail without growing forever


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class CallRequest:
    ticket: str
    window: str
    seq: int
    recall: bool = False
    called_at: datetime = field(default_factory=_now)
    name: str | None = None  # masked before it is spoken or shown


@dataclass(frozen=True)
class AnnouncementRecord:
    """One repetition of one call, as it happened."""

    seq: int
    ticket: str
    repetition: int  # 1-based
    path: Path | None
    enqueued_at: float
    rendered_at: float
    start: float  # playback start (or, with play=False, the moment it would have started)
    end: float
    played: bool
    error: str | None = None

    @property
    def render_latency_s(self) -> float:
        return self.rendered_at - self.enqueued_at

    @property
    def speech_latency_s(self) -> float:
        """From enqueue to the start of this repetition."""
        return self.start - self.enqueued_at


@dataclass(frozen=True)
class _Queued:
    call: CallRequest
    enqueued_at: float


class Announcer:
    def __init__(
        self,
        engine: SpeechEngine,
        *,
        repeat: int = 2,
        english: bool = False,
        output_dir: Path | None = None,
        play: bool = True,
        keep_files: bool | None = None,
    ) -> None:
        if repeat < 1:
            raise ValueError("repeat must be at least 1")
        self._engine = engine
        self._repeat = repeat
        self._english = english
        self._play = play
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if output_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="announcer-")
            output_dir = Path(self._scratch.name)
        output_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir = output_dir
        self._keep_files = keep_files if keep_files is not None else self._scratch is None
        self._queue: queue.Queue[_Queued | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._stopping = threading.Event()
        self._timeline: deque[AnnouncementRecord] = deque(maxlen=TIMELINE_LENGTH)
        self._timeline_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._worker.start()

    @property
    def timeline(self) -> list[AnnouncementRecord]:
        with self._timeline_lock:
            return list(self._timeline)

    def enqueue(self, call: CallRequest) -> None:
        if self._stopping.is_set():
            raise RuntimeError("announcer stopped")
        normalise_ticket(call.ticket)  # reject a bad ticket here, in the caller's thread
        with self._idle:
            self._pending += 1
        self._queue.put(_Queued(call, time.monotonic()))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every enqueued call has been spoken (or failed). False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, *, drain: bool = False, timeout: float = 10.0) -> None:
        """Stop the worker; with ``drain`` the queued calls are spoken first."""
        if drain:
            self.wait_idle(timeout)
        self._stopping.set()
        self._queue.put(None)
        self._worker.join(timeout)
        if self._scratch is not None:
            self._scratch.cleanup()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if not self._stopping.is_set():
                    self._announce(item)
            except Exception:
                logger.exception("announcing %s failed", item.call.ticket)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _announce(self, item: _Queued) -> None:
        call = item.call
        ticket = normalise_ticket(call.ticket)
        first_path = self.output_dir / f"{call.seq}-{ticket}-1.wav"
        try:
            text = call_text(ticket, call.window, recall=call.recall, name=call.name)
            self._engine.render(text if self._english else text.without_english(), first_path)
        except Exception as error:
            failed_at = time.monotonic()
            logger.error("cannot render call %s (%s): %s", call.seq, ticket, error)
            self._record(
                AnnouncementRecord(
                    seq=call.seq,
                    ticket=ticket,
                    repetition=1,
                    path=None,
                    enqueued_at=item.enqueued_at,
                    rendered_at=failed_at,
                    start=failed_at,
                    end=failed_at,
                    played=False,
                    error=f"render: {error}",
                )
            )
            return
        rendered_at = time.monotonic()
        for repetition in range(1, self._repeat + 1):
            path = self.output_dir / f"{call.seq}-{ticket}-{repetition}.wav"
            if repetition > 1:
                shutil.copyfile(first_path, path)
            start = time.monotonic()
            played, play_error = self._play_file(path)
            end = time.monotonic()
            self._record(
                AnnouncementRecord(
                    seq=call.seq,
                    ticket=ticket,
                    repetition=repetition,
                    path=path if self._keep_files else None,
                    enqueued_at=item.enqueued_at,
                    rendered_at=rendered_at,
                    start=start,
                    end=end,
                    played=played,
                    error=play_error,
                )
            )
        if not self._keep_files:
            for repetition in range(1, self._repeat + 1):
                (self.output_dir / f"{call.seq}-{ticket}-{repetition}.wav").unlink(missing_ok=True)

    def _play_file(self, path: Path) -> tuple[bool, str | None]:
        if not self._play:
            return False, None
        try:
            self._engine.play(path)
        except Exception as error:
            logger.warning("playback of %s failed: %s", path.name, error)
            return False, f"play: {error}"
        return True, None

    def _record(self, record: AnnouncementRecord) -> None:
        with self._timeline_lock:
            self._timeline.append(record)
