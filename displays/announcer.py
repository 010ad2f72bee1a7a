"""Standalone announcer: ``python -m displays.announcer --config device-configs/announcer-1.yaml``.

Headless (no Kivy): subscribes to ``hall/<h>/all/call`` and speaks every call of its
floor through :class:`displays.voice.CallVoice` — in arrival order, ``repeat`` times,
never two at once, recalls with 再次. ``--wav-dir DIR`` keeps every announcement as
``<seq>-<ticket>-<n>.wav``; ``--no-play`` renders without a sound card.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from displays.voice import CallVoice
from hallbus.bus import IncomingMessage, MessageBus
from hallbus.codec import decode
from hallbus.errors import ContractError
from hallbus.messages import CallEvent
from hallbus.topics import Broadcast, broadcast_topic

logger = logging.getLogger(__name__)


class AnnouncerService:
    def __init__(self, bus: MessageBus, hall_id: str, voice: CallVoice | None) -> None:
        self.bus = bus
        self.hall_id = hall_id
        self.voice = voice

    def subscribe(self) -> None:
        self.bus.subscribe(broadcast_topic(self.hall_id, Broadcast.CALL), self._on_call)

    def _on_call(self, message: IncomingMessage) -> None:
        try:
            event = decode(CallEvent, message.payload)
        except ContractError as error:
            logger.warning("ignored call event: %s", error)
            return
        if self.voice is None:
            logger.info("call %s → window %s (voice engine: none)", event.ticket, event.window)
            return
        self.voice.handle(event)

    def stop(self) -> None:
        if self.voice is not None:
            self.voice.stop(drain=False)


def main(argv: Sequence[str] | None = None) -> int:
    from displays.launch import main as launch_main

    return launch_main(argv, prog="python -m displays.announcer")


if __name__ == "__main__":
    raise SystemExit(main())
