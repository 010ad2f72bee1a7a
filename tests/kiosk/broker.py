"""A private Mosquitto for kiosk tests: 127.0.0.1, a free port, anonymous, no ACL.

No ACL (and no passwords), to keep the rig small; the generated ACL, which lists the kiosk's
topics (req/matter_detail, health/printer, ...), is tested in tests/hallbus and tests/hub.
"""

from __future__ import annotations

from pathlib import Path

from hallbus.broker.mosquitto import MosquittoProcess, find_mosquitto
from hallbus.ports import free_loopback_port


def start_private_mosquitto(directory: Path) -> MosquittoProcess:
    if find_mosquitto() is None:
        raise RuntimeError("mosquitto is not installed")
    port = free_loopback_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "set_tcp_nodelay true\n"
        "max_queued_messages 10000\n",
        encoding="utf-8",
    )
    process = MosquittoProcess(conf, "127.0.0.1", port)
    process.start()
    return process
