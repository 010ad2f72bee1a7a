"""Kiosk touch -> ticket shown: round trip through MQTT with a fake hub.

    .venv/bin/python bench/kiosk_ticket_roundtrip.py [--n 300]

Measures, per ticket, from the visitor's touch on 确认取号 (``act("ticket.confirm")``) to the
moment the rendered state the screen binds to shows the new ticket number. The path is the
production one: view-model -> ThreadRunner -> KioskClient (paho, TCP_NODELAY) -> Mosquitto
(private, 127.0.0.1, set_tcp_nodelay) -> fake hub (DeviceClient) -> reply -> view-model ->
UiModel listener. Printing (Dummy printer) runs afterwards and is not part of "shown".
Kivy's frame (<= 16 ms at 60 fps) comes on top in the real window.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kiosk.rig import start_rig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as directory:
        rig = start_rig(Path(directory))
        try:
            vm = rig.runtime.view_model
            model = rig.runtime.model
            shown = threading.Event()
            expected: list[str] = [""]

            def listener(values: dict[str, Any]) -> None:
                if (
                    values.get("screen") == "ticket_done"
                    and values.get("ticket_number") == expected[0]
                ):
                    shown.set()

            model.listen(listener)
            deadline = time.monotonic() + 5
            while not vm.render()["ticket_category_rows"] or vm.render()["offline"]:
                rig.runtime.poll_connection()
                if time.monotonic() > deadline:
                    raise RuntimeError("kiosk never saw the hub")
                time.sleep(0.01)
            for index in range(args.n + 20):  # the first 20 warm up
                vm.act("ticket.open")
                vm.act("ticket.category", "A")
                expected[0] = f"A{index + 1:03d}" if index < 999 else ""
                shown.clear()
                start = time.perf_counter()
                vm.act("ticket.confirm")
                if not shown.wait(5):
                    raise RuntimeError(f"ticket {expected[0]} not shown within 5 s")
                if index >= 20:
                    samples.append((time.perf_counter() - start) * 1000)
        finally:
            rig.close()
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"kiosk touch -> ticket shown, n={len(samples)}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"max {samples[-1]:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
