"""Choose the demo's broker: a configured one, else a local Mosquitto, else embedded amqtt."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

from hallbus.broker.embedded import EmbeddedBroker
from hallbus.broker.mosquitto import MosquittoProcess, find_mosquitto, start_mosquitto
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef

log = logging.getLogger(__name__)

BrokerKind = Literal["configured", "mosquitto", "embedded"]


@dataclass
class SelectedBroker:
    """Where devices should connect, and the process/thread to stop if we started one."""

    kind: BrokerKind
    host: str
    port: int
    tls: bool = False
    running: MosquittoProcess | EmbeddedBroker | None = None

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None

    def __enter__(self) -> SelectedBroker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """mqtt://host[:1883] or mqtts://host[:8883] -> (host, port, tls)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker URL {url!r} must look like mqtt://host:port or mqtts://host:port")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def pick_broker(
    configured_url: str | None,
    *,
    devices: Iterable[DeviceRef],
    passwords: Mapping[str, str],
    conf_dir: Path,
    port: int | None = None,
    allow_mosquitto: bool = True,
) -> SelectedBroker:
    """Configured URL -> use it; else start Mosquitto with generated config; else amqtt.

    Brokers started here listen on 127.0.0.1 only.
    """
    if configured_url:
        host, url_port, tls = parse_broker_url(configured_url)
        return SelectedBroker("configured", host, url_port, tls)
    chosen_port = port if port is not None else free_loopback_port()
    if allow_mosquitto and find_mosquitto() is not None:
        process = start_mosquitto(conf_dir, devices, passwords, chosen_port)
        log.info(
            "started Mosquitto on 127.0.0.1:%s with generated config in %s", chosen_port, conf_dir
        )
        return SelectedBroker("mosquitto", "127.0.0.1", chosen_port, running=process)
    reason = "Mosquitto not found" if allow_mosquitto else "the embedded broker was asked for"
    log.warning(
        "no broker configured and %s: starting the embedded broker on "
        "127.0.0.1:%s (no passwords, no ACL; for demos only)",
        reason,
        chosen_port,
    )
    embedded = EmbeddedBroker(chosen_port)
    embedded.start()
    return SelectedBroker("embedded", "127.0.0.1", chosen_port, running=embedded)
