"""Call event → start of speech, through MQTT, for the announcer (espeak-ng engine).

    .venv/bin/python bench/display_voice_latency.py [--calls 50]

Private Mosquitto on a free loopback port; a fake hub publishes one CallEvent at a time
and waits for it to be spoken before the next (isolated calls, no queueing). Measured:
publish → start of the first repetition (render included). Playback is off (no sound
card on build machines): "start" is the moment aplay would be started.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.voice.announcer import Announcer
from devices.voice.engines import EspeakEngine
from displays.announcer import AnnouncerService
from displays.samples import call_event
from displays.voice import CallVoice
from hallbus.broker.mosquitto import start_mosquitto
from hallbus.client import ConnectionSettings, DeviceClient
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef, DeviceType

HUB = DeviceRef("bh", DeviceType.HUB, "hub-bh")
ANNOUNCER = DeviceRef("bh", DeviceType.ANNOUNCER, "announcer-1")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    passwords = {HUB.device_id: "hub-pw", ANNOUNCER.device_id: "announcer-pw"}
    port = free_loopback_port()
    with tempfile.TemporaryDirectory() as scratch:
        broker = start_mosquitto(Path(scratch) / "mq", [HUB, ANNOUNCER], passwords, port)
        hub = DeviceClient(HUB, ConnectionSettings(port=port, password=passwords["hub-bh"]))
        client = DeviceClient(
            ANNOUNCER, ConnectionSettings(port=port, password=passwords["announcer-1"])
        )
        announcer = Announcer(
            EspeakEngine(), repeat=2, output_dir=Path(scratch) / "wav", play=False
        )
        service = AnnouncerService(client, "bh", CallVoice(announcer))
        service.subscribe()
        try:
            hub.start()
            hub.wait_connected(5)
            client.start()
            client.wait_connected(5)
            time.sleep(0.5)  # let the SUBSCRIBE settle (benchmark only)
            latencies = []
            for seq in range(1, args.calls + 1):
                published = time.monotonic()
                hub.publish(
                    "hall/bh/all/call",
                    call_event(
                        seq, f"A{seq:03d}", str(seq % 20 + 1), now=datetime.now().astimezone()
                    ),
                )
                while len(announcer.timeline) < 2 * seq:
                    time.sleep(0.001)
                first = announcer.timeline[2 * seq - 2]
                latencies.append((first.start - published) * 1000)
        finally:
            service.stop()
            client.stop()
            hub.stop()
            broker.stop()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"calls: {len(latencies)}, engine espeak-ng, repeat 2, playback off")
    print(
        f"publish -> start of speech: p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
