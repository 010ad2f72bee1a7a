"""HubService: one per hall, wiring MQTT, the backend, the local store and the threads.

Threads: the MQTT client's network and handler threads (hallbus), a relay pool
for device requests, the event reader, the outbox replay, the device registry
reporter and (optionally) the health endpoint. Nothing a device sends can stop
any of them: every message is handled inside a try that logs and answers.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hallbus.bus import IncomingMessage
from hallbus.client import ClientState, DeviceClient
from hallbus.codec import parse_availability
from hallbus.config import (
    ConfigFileError,
    ConfigProblem,
    HubConfig,
    connection_settings,
    load_registry,
    resolve_secret,
)
from hallbus.errors import ContractError
from hallbus.localtime import UnknownTimeZone, hall_zone
from hallbus.messages import ErrorReply
from hallbus.topics import Channel, DeviceTopic, TopicError, parse_topic
from hub.backend import BackendClient
from hub.callers import CallerBridge
from hub.console import HubConsoleServer
from hub.display import HallDisplayModel
from hub.events import EventReader
from hub.health import HealthServer
from hub.kiosk_state import CatalogDigest, KioskStatePublisher
from hub.metrics import HubMetrics
from hub.offline import BlockKeeper, OutboxReplayer, TicketBlocks
from hub.reachability import BackendReachability
from hub.registry import ComponentHealth, DeviceRecord, DeviceRegistry, RegistryReporter
from hub.relay import RequestRelay
from hub.store import HubStore
from hub.validation import (
    HealthRejected,
    RequestExpired,
    RequestRejected,
    validate_health,
    validate_info,
    validate_request,
)
from hub.window_desk import WindowDesk

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _relative_to_config(config: HubConfig, path: Path) -> Path:
    if path.is_absolute() or config.source_file is None:
        return path
    return (config.source_file.parent / path).resolve()


class HubService:
    """The hall hub. `start()` returns once the threads run; `stop()` ends them all."""

    def __init__(
        self,
        config: HubConfig,
        *,
        token: str | None = None,
        clock: Clock = _utc_now,
        health_port: int | None = None,
        long_poll_s: float | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        try:
            self.zone = hall_zone(config.timezone)
        except UnknownTimeZone:
            raise ConfigFileError(
                [
                    ConfigProblem(
                        str(config.source_file), "timezone", config.timezone, "unknown time zone"
                    )
                ]
            ) from None
        backend_token = token or resolve_secret(
            config, "backend.token", config.backend.token_env, config.backend.token_file
        )
        assert backend_token is not None  # the config model requires a token source
        configs_dir = _relative_to_config(config, config.device_configs_dir)
        self.registry = DeviceRegistry.from_configs(load_registry(configs_dir), config.hall_id)
        self.metrics = HubMetrics()
        self.store = HubStore(_relative_to_config(config, config.outbox_path))
        self.reachability = BackendReachability()
        self.backend = BackendClient(
            config.backend.url,
            backend_token,
            config.backend.hall_code or config.hall_id.upper(),
            timeout_s=config.backend.timeout_s,
        )
        self.client = DeviceClient(config.device_ref(), connection_settings(config))
        self._stopping = threading.Event()
        self._started_at = time.monotonic()
        self.model = HallDisplayModel(
            hall_id=config.hall_id,
            registry=self.registry,
            next_seq=self.store.next_seq,
            now=clock,
            timezone=config.timezone,
        )
        # Who decides the hall's queue (online / offline / replaying) and the window
        # actions through an outage (hub.window_desk).
        self.desk = WindowDesk(
            device_id=config.device_id,
            store=self.store,
            backend=self.backend,
            reachability=self.reachability,
            metrics=self.metrics,
            stopping=self._stopping,
            clock=clock,
            console_url=config.console.url() if config.console is not None else None,
            backend_console_url=config.backend_console_url(),
        )
        self.blocks = TicketBlocks(self.store, self.backend, config.reserved_block_size)
        self.block_keeper = BlockKeeper(self.blocks, self.backend, self._stopping)
        self.relay = RequestRelay(
            backend=self.backend,
            store=self.store,
            reachability=self.reachability,
            metrics=self.metrics,
            publisher=self.client,
            waiting=self,
            clock=clock,
            zone=self.zone,
            timeout_s=config.backend.timeout_s,
            public_base_url=config.public_base_url,
            hub_decides=self.desk.hub_decides,
            replaying=self.desk.replaying,
            on_offline_ticket=self.desk.note_offline_ticket,
        )
        reader_options: dict[str, Any] = {}
        if long_poll_s is not None:
            reader_options["long_poll_s"] = long_poll_s
        self.reader = EventReader(
            backend=self.backend,
            store=self.store,
            model=self.model,
            publisher=self.client,
            on_snapshot=self.block_keeper.request,
            reachability=self.reachability,
            metrics=self.metrics,
            stopping=self._stopping,
            on_ticket_seen=self.relay.learn_number,
            on_kiosk_change=self._kiosk_state_changed,
            on_catalog_change=self._catalog_changed,
            on_events=self.desk.events_seen,
            **reader_options,
        )
        self.desk.attach(self.reader)
        self.kiosk_states = KioskStatePublisher(
            registry=self.registry,
            backend=self.backend,
            publisher=self.client,
            hall_view=self.reader.hall_view,
            places=self.relay.places,
            on_digest=self._learn_catalog,
            reachability=self.reachability,
            next_seq=self.store.next_seq,
            metrics=self.metrics,
            stopping=self._stopping,
            degraded=self.desk.hub_decides,
        )
        self.replayer = OutboxReplayer(
            self.store,
            self.backend,
            self.reachability,
            self.metrics,
            self._stopping,
            hall_id=config.hall_id,
            publisher=self.client,
            on_replay_start=self.desk.replay_starting,
            on_drained=self.desk.drained,
        )
        self.reporter = RegistryReporter(
            self.registry, self._report_device, self._stopping, clock=clock
        )
        self.reachability.on_recovered(self.registry.mark_all_dirty)
        # KioskState.degraded follows the backend's reachability.
        self.reachability.on_recovered(self.kiosk_states.changed)
        self.reachability.on_lost(self.kiosk_states.changed)
        self.desk.on_mode_change(lambda _mode: self.kiosk_states.changed())
        port = health_port if health_port is not None else config.health_port
        self.health = HealthServer(port, self.health_report) if port is not None else None
        # The window console and the key boxes act through the desk only, so they
        # call through the backend online and on the hub's own queue offline.
        self.console = (
            HubConsoleServer(
                self.desk,
                host=config.console.host,
                port=config.console.port,
                secret_key=self._console_secret(),
            )
            if config.console is not None
            else None
        )
        self.callers = (
            CallerBridge.from_config(self.desk, config.callers)
            if config.callers is not None
            else None
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        hall = self.config.hall_id
        self.client.subscribe(f"hall/{hall}/+/+/{Channel.STATUS.value}", self._on_message)
        self.client.subscribe(f"hall/{hall}/+/+/{Channel.REQUEST.value}/+", self._on_message)
        self.client.subscribe(f"hall/{hall}/+/+/{Channel.HEALTH.value}/+", self._on_message)
        self.client.subscribe(f"hall/{hall}/+/+/{Channel.INFO.value}", self._on_message)
        self.desk.start()
        self.reader.start()
        self.kiosk_states.start()
        self.block_keeper.start()
        self.replayer.start()
        self.reporter.start()
        if self.health is not None:
            self.health.start()
        if self.console is not None:
            self.console.start()
        if self.callers is not None:
            self.callers.start()
        self.client.start()
        log.info(
            "hub %s started: %s devices, backend %s, event cursor %s, outbox %s",
            self.config.device_id,
            len(self.registry.records),
            self.config.backend.url,
            self.reader.cursor,
            self.store.outbox_depth(),
        )

    def wait_ready(self, timeout: float) -> None:
        """Block until connected to the broker, the displays have their first state and
        the offline number blocks were reserved once (the hub can then serve kiosks
        through a backend outage)."""
        deadline = time.monotonic() + timeout
        self.client.wait_connected(timeout)
        if not self.reader.ready.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"hub did not load the hall snapshot within {timeout} s")
        if not self.block_keeper.first_pass.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"hub did not reserve its offline numbers within {timeout} s")

    def stop(self) -> None:
        self._stopping.set()
        if self.callers is not None:
            self.callers.stop()  # no key press may reach a desk that is stopping
        if self.console is not None:
            self.console.stop()
        self.relay.shutdown()  # in-flight requests still get their replies
        self.kiosk_states.join(5)  # before the client: it may be publishing
        self.client.stop()
        self.replayer.join(5)
        self.desk.join(5)
        self.reporter.join(5)
        self.block_keeper.join(5)
        self.reader.join(1)  # may sit in a long-poll; it exits without saving anything
        if self.health is not None:
            self.health.stop()
        self.backend.close()
        log.info("hub %s stopped", self.config.device_id)

    def _console_secret(self) -> str:
        """The console's cookie key, kept in the hub's file: a hub restarted in the
        middle of an outage (even killed) does not sign every clerk out."""
        kept = self.store.document("console")
        if kept is not None and isinstance(kept.get("secret_key"), str):
            return str(kept["secret_key"])
        secret_key = secrets.token_urlsafe(32)
        self.store.save_document("console", {"secret_key": secret_key})
        return secret_key

    def close(self) -> None:
        """Release the local database (after stop(); separate so tests can inspect it)."""
        self.store.close()

    # ------------------------------------------------------------- the display view

    def waiting_for(self, prefix: str) -> Any:
        return self.reader.waiting_for(prefix)

    def note_offline_ticket(self, prefix: str) -> None:
        self.reader.note_offline_ticket(prefix)

    # ----------------------------------------------------------------- messages

    def _on_message(self, message: IncomingMessage) -> None:
        """Every device message; never raises (a bad message must not stop the hub)."""
        self.metrics.count("messages_in")
        try:
            if message.topic.endswith(f"/{Channel.STATUS.value}"):
                self._on_status(message)
            elif f"/{Channel.HEALTH.value}/" in message.topic:
                self._on_health(message)
            elif message.topic.endswith(f"/{Channel.INFO.value}"):
                self._on_info(message)
            else:
                self._on_request(message)
        except Exception:
            self.metrics.count("errors_internal")
            log.exception("message on %s could not be handled", message.topic)

    def _on_status(self, message: IncomingMessage) -> None:
        try:
            topic = parse_topic(message.topic)
            online = parse_availability(message.payload) == "online"
        except (TopicError, ContractError) as exc:
            self.metrics.count("errors_bad_status")
            log.warning("status message on %s ignored: %s", message.topic, exc)
            return
        if not isinstance(topic, DeviceTopic):
            return
        device_id = topic.device.device_id
        if not self.registry.mark(device_id, online=online, at=self.clock()):
            log.warning("status from unregistered device %s ignored", device_id)
            return
        if device_id == self.config.device_id and online and self.reader.ready.is_set():
            # Our own `online` comes back after every reconnect: the broker may
            # have restarted without persistence, so re-send all retained state.
            self.reader.republish_states()
            self.kiosk_states.republish()

    def _on_health(self, message: IncomingMessage) -> None:
        if not message.payload:
            return  # a retained health message being cleared
        try:
            health = validate_health(message.topic, message.payload, self.registry)
        except HealthRejected as exc:
            self.metrics.count("errors_bad_health")
            log.warning("health message on %s ignored: %s", message.topic, exc)
            return
        self.metrics.count(f"health_{health.state}")
        entry = ComponentHealth(health.component.value, health.state, health.detail, health.at)
        self.registry.record_health(health.device, entry)

    def _on_info(self, message: IncomingMessage) -> None:
        if not message.payload:
            return  # a retained info message being cleared
        try:
            info = validate_info(message.topic, message.payload, self.registry)
        except HealthRejected as exc:
            self.metrics.count("errors_bad_info")
            log.warning("info message on %s ignored: %s", message.topic, exc)
            return
        self.registry.record_app_version(info.device, info.app_version)

    def _kiosk_state_changed(self) -> None:
        self.kiosk_states.changed()

    def _catalog_changed(self) -> None:
        self.kiosk_states.catalog_changed()

    def _learn_catalog(self, digest: CatalogDigest) -> None:
        self.relay.learn_matter_categories(digest.matter_categories)

    def _on_request(self, message: IncomingMessage) -> None:
        received = time.monotonic()
        try:
            request = validate_request(
                message.topic, message.payload, self.registry, received_at=received
            )
        except RequestExpired as exc:
            self.metrics.count("requests_expired")
            log.info("dropped: %s", exc)
            return
        except RequestRejected as exc:
            self.metrics.count(f"errors_{exc.code.value}")
            log.warning("request on %s refused: %s", message.topic, exc)
            if exc.reply_topic is not None:
                reply = ErrorReply.for_code(exc.request_id, exc.code, exc.message)
                self.client.publish(exc.reply_topic, reply)
                self.metrics.count("messages_out")
            return
        self.relay.submit(request)

    # ------------------------------------------------------------------ reports

    def _report_device(self, record: DeviceRecord) -> None:
        self.backend.report_device(record.ref.device_id, record.report())

    def health_report(self) -> dict[str, Any]:
        counters = self.metrics.snapshot()
        return {
            "hub": self.config.device_id,
            "hall": self.config.hall_id,
            "uptime_s": round(time.monotonic() - self._started_at, 1),
            "mqtt_connected": self.client.state is ClientState.CONNECTED,
            "backend_reachable": self.reachability.reachable,
            "mode": self.desk.mode().value,
            "offline_queue": self.desk.queue_summary(),
            "event_cursor": self.reader.cursor,
            "outbox_depth": self.store.outbox_depth(),
            "dead_letters": self.store.dead_letter_count(),
            "devices_total": len(self.registry.records),
            "devices_online": self.registry.online_count(),
            "device_health": self.registry.health_summary(),
            "messages_in": counters.get("messages_in", 0),
            "messages_out": counters.get("messages_out", 0),
            "relay_latency": self.metrics.relay_latency.summary(),
            "event_publish_latency": self.metrics.event_latency.summary(),
            "counters": counters,
        }
