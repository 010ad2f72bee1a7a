"""Call events in → spoken announcements out (devices.voice does the speaking).

Used by the hall display (its config's ``announcer`` section) and by the standalone
announcer (``python -m displays.announcer``). :class:`CallVoice` decides *whether* to
speak an event; :class:`devices.voice.Announcer` speaks one call at a time in arrival
order, ``repeat`` times each, and writes every repetition as a WAV.

* Duplicates are dropped: a QoS 1 CallEvent may be delivered twice after a reconnect
  (same seq, ticket, window and time). A recall is a new event (new seq and time) and
  is announced with 再次.
* Floor filter (hallbus.messages.serves_floor): an announcer with ``floor`` set speaks
  only calls at that floor's windows (and calls naming no floor); without ``floor`` it
  speaks every call of the hall.
* Repetitions follow the device config (``repeat``), as the issue asks; the event's own
  ``repeat`` field is not used (see docs/displays.md).
* Privacy: CallEvents carry no name; CallRequest.name stays None.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

from devices.voice.announcer import Announcer, CallRequest
from devices.voice.clips import record_clips_with_espeak
from devices.voice.engines import ClipEngine, EspeakEngine, Pyttsx3Engine, SpeechEngine
from hallbus.config import VoiceEngineName
from hallbus.messages import CallEvent, serves_floor

logger = logging.getLogger(__name__)

REMEMBERED_CALLS = 500  # far more than can be redelivered after one reconnect


def build_engine(kind: VoiceEngineName, *, clip_dir: Path | None = None) -> SpeechEngine | None:
    """``espeak`` | ``pyttsx3`` | ``clips`` | ``none`` (None: this device stays silent)."""
    if kind == "none":
        return None
    if kind == "espeak":
        return EspeakEngine()
    if kind == "pyttsx3":
        return Pyttsx3Engine()
    if kind == "clips":
        directory = clip_dir or Path("var/voice-clips")
        # Missing clips are filled with espeak-ng renderings; recorded ones are kept.
        record_clips_with_espeak(directory)
        return ClipEngine(directory, english_engine=EspeakEngine())
    raise ValueError(f"unknown voice engine {kind!r}")


class CallVoice:
    """Filters call events and hands the ones to speak to an Announcer."""

    def __init__(self, announcer: Announcer, *, floor: int | None = None) -> None:
        self.announcer = announcer
        self.floor = floor
        self._seen: OrderedDict[tuple[int, str, str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def handle(self, event: CallEvent) -> bool:
        """Queue the event for speaking; False when it is a duplicate or for another floor."""
        if not serves_floor(self.floor, event.floor):
            return False
        key = (event.seq, event.ticket, event.window, event.called_at.isoformat())
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > REMEMBERED_CALLS:
                self._seen.popitem(last=False)
        self.announcer.enqueue(
            CallRequest(
                ticket=event.ticket,
                window=event.window,
                seq=event.seq,
                recall=event.recall,
                called_at=event.called_at,
            )
        )
        return True

    def stop(self, *, drain: bool = False) -> None:
        self.announcer.stop(drain=drain)
