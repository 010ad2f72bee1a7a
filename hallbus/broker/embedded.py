"""Embedded pure-Python broker (amqtt) for a fresh machine with no Mosquitto.

Limits, all documented in docs/broker.md: MQTT 3.1.1 only, no password check
and no ACL (any user name is accepted, which is why it binds loopback only),
no persistence across restarts. Clients must send a user name: amqtt treats
sessions without one as anonymous and then drops their persistent session.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType
from typing import Any, Final

from amqtt.broker import Broker

log = logging.getLogger(__name__)

SESSION_EXPIRY_S: Final = 14 * 24 * 3600


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedBroker:
    """amqtt running on its own event loop thread; a context manager that stops it."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port if port is not None else free_loopback_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Broker | None = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "session_expiry_interval": SESSION_EXPIRY_S,
            # Passing plugins explicitly also leaves out amqtt's $SYS publisher.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}
            },
        }

    def start(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            raise RuntimeError("embedded broker already started")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            broker = Broker(self._config(), loop=loop)
            await broker.start()
            self._broker = broker

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="hallbus-embedded-broker", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError(f"embedded broker did not start within {timeout} s")
        if failure:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError(f"embedded broker failed to start: {failure[0]}") from failure[0]
        log.info("embedded MQTT broker listening on %s:%s", self.host, self.port)

    def stop(self, timeout: float = 5.0) -> None:
        loop, thread, broker = self._loop, self._thread, self._broker
        self._loop = self._thread = self._broker = None
        if loop is None or thread is None:
            return
        if broker is not None:
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
            try:
                future.result(timeout)
            except Exception:
                log.exception("embedded broker shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> EmbeddedBroker:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
