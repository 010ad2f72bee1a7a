"""The announcer through MQTT: a burst of 20 CallEvents → WAVs in call order, no overlap."""

from __future__ import annotations

import itertools
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from devices.voice.announcer import Announcer
from devices.voice.engines import EspeakEngine, Pyttsx3Engine
from devices.voice.wavtools import read_wav
from displays.announcer import AnnouncerService
from displays.samples import call_event
from displays.voice import CallVoice, build_engine
from hallbus.client import DeviceClient
from tests.displays.conftest import ANNOUNCER, HUB, Broker

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
CALL_TOPIC = "hall/bh/all/call"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _listening_announcer(
    broker: Broker, announcer: Announcer
) -> tuple[DeviceClient, AnnouncerService]:
    """The hub's client (it publishes its retained `online` on connect) and an
    announcer service for floor 1, subscribed to the hall's calls."""
    hub = broker.client(HUB)
    client = broker.client(ANNOUNCER, start=False)
    service = AnnouncerService(client, "bh", CallVoice(announcer, floor=1))
    service.subscribe()
    # All filters go out in one SUBSCRIBE on connect: once the retained hub status
    # arrives, the call subscription is active too (a CONNACK alone does not say so).
    subscribed = threading.Event()
    client.subscribe(HUB.status_topic(), lambda _message: subscribed.set())
    client.start()
    assert subscribed.wait(5)
    return hub, service


def test_burst_of_20_calls_is_spoken_in_order_without_overlap(
    broker: Broker, tmp_path: Path
) -> None:
    announcer = Announcer(EspeakEngine(), repeat=2, output_dir=tmp_path, play=False)
    hub, service = _listening_announcer(broker, announcer)
    # Hub order deliberately not sorted by ticket: the announcer keeps call order.
    calls = [(f"{'AB'[index % 2]}{100 - index:03d}", str(index % 9 + 1)) for index in range(20)]
    for seq, (ticket, window) in enumerate(calls, start=1):
        is_recall = seq == 20
        hub.publish(
            CALL_TOPIC,
            call_event(seq, ticket, window, now=NOW + timedelta(seconds=seq), recall=is_recall),
        )
    hub.publish(CALL_TOPIC, call_event(5, *calls[4], now=NOW + timedelta(seconds=5)))  # dup
    hub.publish(CALL_TOPIC, call_event(99, "C001", "20", now=NOW, floor=2))  # other floor
    # The duplicate and the other-floor call are published last; once they are handled,
    # every call is queued, and wait_idle returns when all were rendered.
    try:
        deadline = 30.0
        assert _wait_for(lambda: len(announcer.timeline) >= 40, deadline)
        assert announcer.wait_idle(deadline)
    finally:
        service.stop()

    timeline = announcer.timeline
    assert [(record.seq, record.repetition) for record in timeline] == [
        (seq, repetition) for seq in range(1, 21) for repetition in (1, 2)
    ]
    assert [record.ticket for record in timeline[::2]] == [ticket for ticket, _ in calls]
    for earlier, later in itertools.pairwise(timeline):
        assert earlier.end <= later.start  # never two at once
    wavs = sorted(tmp_path.glob("*.wav"))
    assert len(wavs) == 40
    for record in timeline:
        assert record.path is not None and read_wav(record.path).duration_s > 0.5
    # The recall says 再次 (zai4 ci4): longer than the same sentence without it.
    first = read_wav(tmp_path / f"1-{calls[0][0]}-1.wav").duration_s
    recall = read_wav(tmp_path / f"20-{calls[19][0]}-1.wav").duration_s
    assert recall > first


def _wait_for(predicate: object, timeout: float) -> bool:
    import time

    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_announcer_speaks_with_the_pyttsx3_engine_its_config_names(
    broker: Broker, tmp_path: Path
) -> None:
    engine = build_engine("pyttsx3")
    assert isinstance(engine, Pyttsx3Engine)
    announcer = Announcer(engine, repeat=1, output_dir=tmp_path, play=False)
    hub, service = _listening_announcer(broker, announcer)
    calls = [("A001", "3"), ("B002", "12"), ("A003", "3")]
    for seq, (ticket, window) in enumerate(calls, start=1):
        hub.publish(CALL_TOPIC, call_event(seq, ticket, window, now=NOW + timedelta(seconds=seq)))
    try:
        assert _wait_for(lambda: len(announcer.timeline) >= len(calls), 30.0)
        assert announcer.wait_idle(30.0)
    finally:
        service.stop()
    assert [record.ticket for record in announcer.timeline] == [ticket for ticket, _ in calls]
    for record in announcer.timeline:
        assert record.path is not None and read_wav(record.path).duration_s > 0.5
