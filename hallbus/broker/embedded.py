"""Embedded pure-Python broker (amqtt) for a fresh machine with no Mosquitto.

Limits, all documented in docs/broker.md: MQTT 3.1.1 only, no password check
and no ACL (any user name is accepted, which is why it binds loopback only),
no persistence across restarts. Clients must send a user name: amqtt treats
sessions without one as anonymous and then drops their persistent session.

Stopping does not rely on amqtt's shutdown alone: in amqtt 0.12 it can hang for
good (a connection handler waits for a reader task that never reports it has
stopped), and everything after that point, closing the listener included, then
never happens. The port stayed bound ("address already in use" on restart) and
clients kept a socket to a broker that no longer served them, so they did not
reconnect. `stop()` therefore closes the listener first, gives amqtt's shutdown a
bounded time, then closes every client connection itself and cancels what is
left, so that when it returns the port is free and every client has seen its
connection end.

Two defects of amqtt 0.12's broker are mended in `_TrackingBroker`, both seen
in the demo hall: (1) it walks its table of subscriptions with awaits inside the
loop (when a session starts, and for every broadcast), so a client subscribing
at that moment ended the walk with "dictionary changed size during iteration",
which dropped the other client's connection; the table now hands out a snapshot
to every walk. (2) When a client connects it is sent the retained messages of
*every* subscription in the broker, also the ones other clients made; a device
then received topics it never subscribed to. It now gets only the retained
messages of its own subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Final

from amqtt.broker import Broker

from hallbus.ports import free_loopback_port

log = logging.getLogger(__name__)

SESSION_EXPIRY_S: Final = 14 * 24 * 3600
# amqtt's own shutdown normally takes milliseconds; past this it is taken as hung.
SHUTDOWN_GRACE_S: Final = 2.0
# Tasks cancelled after the shutdown get this long to unwind.
CANCEL_GRACE_S: Final = 1.0


class SnapshotSubscriptions(dict[str, list[Any]]):
    """amqtt's topic filter → subscribers table, safe to change while it is walked.

    Every walk (`for topic in table`, `table.items()`) goes over a copy taken when
    it starts, subscriber lists included, so a subscription added or removed
    while amqtt awaits inside the walk neither breaks it nor shifts it."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> list[tuple[str, list[Any]]]:  # type: ignore[override]
        return [(topic, list(subscribers)) for topic, subscribers in super().items()]


class _TrackingBroker(Broker):  # type: ignore[misc]  # amqtt ships no type hints
    """amqtt's Broker, remembering its client connections so stop() can close them,
    with the two amqtt defects the module docstring describes mended."""

    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(config, loop=loop)
        self.connections: set[asyncio.StreamWriter] = set()
        self._subscriptions = SnapshotSubscriptions()

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        # amqtt calls this for a new subscription (made just before, so it is in
        # the table) and, when a session starts, for every filter in the table,
        # whoever subscribed to it: the session's own filters pass, the others not.
        topic_filter = subscription[0]
        subscribers = self._subscriptions.get(topic_filter, [])
        if any(subscriber.client_id == session.client_id for subscriber, _qos in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        self.connections.add(writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            self.connections.discard(writer)

    def close_listeners(self) -> None:
        # amqtt 0.12 has no public call to stop accepting; its listener servers are
        # asyncio.Server objects kept in `_servers` (closing one twice is harmless).
        for server in getattr(self, "_servers", {}).values():
            instance = getattr(server, "instance", None)
            if isinstance(instance, asyncio.AbstractServer):
                instance.close()

    async def shutdown_completely(self) -> None:
        """Listener closed, amqtt shut down (bounded), connections closed, tasks ended."""
        self.close_listeners()
        # Connections first: each handler's reader then ends on its own, so amqtt's
        # shutdown finds them stopped instead of cancelling them mid-way (where it can
        # hang). abort(): no waiting for a peer that may not read; the client sees the
        # connection end at once and reconnects.
        for writer in list(self.connections):
            writer.transport.abort()
        shutdown = asyncio.ensure_future(self.shutdown())
        done, _pending = await asyncio.wait({shutdown}, timeout=SHUTDOWN_GRACE_S)
        if not done:
            log.warning("embedded broker shutdown hung for %s s; closing it down", SHUTDOWN_GRACE_S)
        elif shutdown.exception() is not None:
            log.warning("embedded broker shutdown failed: %r", shutdown.exception())
        current = asyncio.current_task()
        leftovers = [task for task in asyncio.all_tasks() if task is not current]
        for task in leftovers:
            task.cancel()
        if leftovers:
            # asyncio.wait, not gather: a task that swallows its cancellation must
            # not hold up the stop for ever.
            await asyncio.wait(leftovers, timeout=CANCEL_GRACE_S)


class EmbeddedBroker:
    """amqtt running on its own event loop thread; a context manager that stops it."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port if port is not None else free_loopback_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: _TrackingBroker | None = None

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
            broker = _TrackingBroker(self._config(), loop=loop)
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
            future = asyncio.run_coroutine_threadsafe(broker.shutdown_completely(), loop)
            try:
                future.result(timeout)
            except Exception:
                log.exception("embedded broker shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            log.error("embedded broker thread did not end within %s s", timeout)

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
