"""DeviceClient: the one MQTT connection every hall device app runs through.

What it takes care of so device apps don't have to:
- availability: retained `online` after every (re)connect, Last Will `offline`
  (retained, QoS 1) if the connection dies, explicit `offline` on stop();
- a persistent session with a stable client id, so QoS 1 messages sent while
  the device was briefly away are delivered when it comes back;
- reconnect with exponential backoff, but *no* retrying after the broker has
  refused the credentials (retrying can never succeed and floods broker logs);
- subscriptions are replayed in on_connect, and handlers run on a worker
  thread so a slow handler never stalls the network loop (keepalives, acks);
- request/response with correlation ids over MQTT 3.1.1 (and MQTT 5 properties
  when the connection speaks 5);
- TCP_NODELAY on the socket: without it Nagle's algorithm adds ~40-90 ms to
  each request/response round trip on small packets.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ValidationError

from hallbus.bus import IncomingMessage, MessageHandler, Payload, payload_bytes
from hallbus.codec import decode_reply, describe_validation_error, encode
from hallbus.errors import ContractError, ErrorCode
from hallbus.messages import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    DeviceInfo,
    ErrorDetail,
    ErrorReply,
    RequestBody,
    RequestEnvelope,
)
from hallbus.topics import DeviceRef
from hallbus.version import app_version

log = logging.getLogger(__name__)

ReplyT = TypeVar("ReplyT", bound=BaseModel)

# CONNACK reason codes after which reconnecting cannot help (MQTT 5 numbering;
# paho maps the MQTT 3.1.1 return codes 1, 2, 4, 5 onto 0x84, 0x85, 0x86, 0x87).
_FATAL_CONNACK: dict[int, str] = {
    0x84: "the broker does not speak this MQTT protocol version",
    0x85: "the broker rejected the client id",
    0x86: "the broker rejected the user name or password",
    0x87: "the broker says this client is not authorised to connect",
    0x8C: "the broker rejected the authentication method",
}

# Keep a device's session (subscriptions + queued QoS 1 messages) this long on
# MQTT 5 brokers; MQTT 3.1.1 brokers keep it until their own expiry setting.
DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600


class ClientState(Enum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # lost the connection; paho is retrying with backoff
    AUTH_FAILED = "auth_failed"  # refused by the broker; not retrying
    STOPPED = "stopped"


class AuthenticationFailed(RuntimeError):
    """The broker refused this device's credentials or identity; the client stopped retrying."""


class NotConnected(RuntimeError):
    """The client is stopped or was refused, so the operation cannot complete."""


class RequestTimeout(ContractError):
    def __init__(self, kind: str, timeout_s: float) -> None:
        super().__init__(ErrorCode.DEADLINE_EXCEEDED, f"no reply to {kind} within {timeout_s} s")


class PublishReceipt:
    """One QoS 1 publish, until the broker has acknowledged it (PUBACK).

    Used where a sender must know a message reached the broker before it moves
    on, e.g. the hub advancing its event cursor only after the displays' state
    was accepted.
    """

    def __init__(self, info: mqtt.MQTTMessageInfo) -> None:
        self._info = info

    def wait(self, timeout: float) -> bool:
        """True once the broker acknowledged; False on timeout or if it was never sent."""
        try:
            self._info.wait_for_publish(timeout)
            return self._info.is_published()
        except (RuntimeError, ValueError):
            # Not sent (no connection or paho's queue full); paho may still send it
            # after reconnecting, but the caller cannot count on it.
            return False


class RequestFailed(ContractError):
    """The hub answered a request with an error reply."""

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.code, detail.message)
        self.retry = detail.retry


@dataclass(frozen=True, slots=True)
class TlsSettings:
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where and how to connect; the password is already resolved from env/file."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None  # defaults to the device id
    password: str | None = None
    tls: TlsSettings | None = None
    keepalive_s: int = 30
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30


def _properties(packet_type: int) -> Properties:
    # paho's Properties constructor carries no annotations.
    return Properties(packet_type)  # type: ignore[no-untyped-call]


class DeviceClient:
    """MQTT connection of one device; implements the MessageBus interface."""

    def __init__(self, device: DeviceRef, settings: ConnectionSettings) -> None:
        self.device = device
        self.settings = settings
        self._state = ClientState.NEW
        self._state_lock = threading.Lock()
        self._connected = threading.Event()
        self._settled = threading.Event()  # set on first CONNACK outcome (either way)
        self._auth_error: AuthenticationFailed | None = None
        self._subscriptions: list[tuple[str, MessageHandler, int]] = []
        self._subscriptions_lock = threading.Lock()
        # correlation id -> (future the caller waits on, model of the success body)
        self._pending: dict[str, tuple[Future[BaseModel], type[BaseModel]]] = {}
        self._pending_lock = threading.Lock()
        # Handler jobs for the worker thread; None tells it to finish.
        self._work: queue.SimpleQueue[tuple[MessageHandler, IncomingMessage] | None] = (
            queue.SimpleQueue()
        )
        self._worker = threading.Thread(
            target=self._run_handlers, name=f"hallbus-handlers-{device.device_id}", daemon=True
        )
        self._connection_attempts = 0
        self._mqtt = self._build_paho_client()

    # ------------------------------------------------------------------ lifecycle

    @property
    def client_id(self) -> str:
        # Stable per device so the broker can resume the session; equal to the
        # user name because the generated Mosquitto config forces that anyway.
        return self.device.device_id

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def connection_attempts(self) -> int:
        return self._connection_attempts

    @property
    def is_v5(self) -> bool:
        return self.settings.protocol == "5"

    def start(self) -> None:
        """Connect in the background; returns at once (use wait_connected to block)."""
        if self._state is not ClientState.NEW:
            raise RuntimeError(f"DeviceClient.start() called in state {self._state.value}")
        self._set_state(ClientState.CONNECTING)
        self._worker.start()
        properties = None
        if self.is_v5:
            properties = _properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.settings.session_expiry_s
        self._mqtt.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive_s,
            clean_start=False if self.is_v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._mqtt.loop_start()

    def wait_connected(self, timeout: float) -> None:
        """Block until connected; raise AuthenticationFailed or TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if self._auth_error is not None:
                raise self._auth_error
            if self._connected.is_set():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{self.device.device_id} not connected to "
                    f"{self.settings.host}:{self.settings.port} within {timeout} s"
                )
            # Wakes on either outcome of a CONNACK, so no polling delay.
            self._settled.wait(remaining)
            self._settled.clear()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish `offline`, wait for the broker to have it, disconnect, stop threads."""
        if self._state in (ClientState.STOPPED, ClientState.NEW):
            self._set_state(ClientState.STOPPED)
            return
        if self._connected.is_set():
            info = self._mqtt.publish(
                self.device.status_topic(), AVAILABILITY_OFFLINE, qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                log.warning("%s: offline status not confirmed before stop", self.client_id)
        self._set_state(ClientState.STOPPED)
        self._mqtt.disconnect()
        self._mqtt.loop_stop()
        self._work.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout)
        self._fail_pending(NotConnected(f"{self.client_id} stopped"))

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def network_socket(self) -> socket.socket | None:
        """The live TCP socket (diagnostics: TCP_NODELAY check, fault injection in tests)."""
        sock = self._mqtt.socket()
        return sock if isinstance(sock, socket.socket) else None

    # -------------------------------------------------------------- publish / subscribe

    def publish(self, topic: str, payload: Payload, *, qos: int = 1, retain: bool = False) -> None:
        """Queue a message; QoS 1 messages queued while offline are sent after reconnecting."""
        if self._state in (ClientState.STOPPED, ClientState.AUTH_FAILED):
            raise NotConnected(f"{self.client_id} is {self._state.value}; cannot publish")
        self._mqtt.publish(topic, payload_bytes(payload), qos=qos, retain=retain)

    def publish_tracked(
        self, topic: str, payload: Payload, *, qos: int = 1, retain: bool = False
    ) -> PublishReceipt:
        """Like publish(), but returns a receipt to wait for the broker's acknowledgement."""
        if self._state in (ClientState.STOPPED, ClientState.AUTH_FAILED):
            raise NotConnected(f"{self.client_id} is {self._state.value}; cannot publish")
        return PublishReceipt(
            self._mqtt.publish(topic, payload_bytes(payload), qos=qos, retain=retain)
        )

    def subscribe(self, topic_filter: str, handler: MessageHandler, *, qos: int = 1) -> None:
        """Register a handler: subscribed again on every connect, run off the network thread."""
        with self._subscriptions_lock:
            self._subscriptions.append((topic_filter, handler, qos))
        if self._connected.is_set():
            self._mqtt.subscribe(topic_filter, qos)

    # ------------------------------------------------------------------- requests

    def request(
        self, body: RequestBody, reply_model: type[ReplyT], *, timeout: float = 5.0
    ) -> ReplyT:
        """Send a request to the hub and wait for its reply.

        Raises RequestFailed for an error reply, RequestTimeout when no reply came
        in time (the hub drops requests whose deadline has passed, so a late
        answer cannot arrive after the caller gave up and retried).
        """
        if reply_model is not body.REPLY:
            raise TypeError(
                f"{body.KIND.value} replies with {body.REPLY.__name__}, not {reply_model.__name__}"
            )
        if self._state in (ClientState.STOPPED, ClientState.AUTH_FAILED):
            raise NotConnected(f"{self.client_id} is {self._state.value}; cannot send requests")
        request_id = uuid.uuid4().hex
        envelope = RequestEnvelope(
            id=request_id,
            reply_to=self.device.reply_topic(),
            deadline=int((time.time() + timeout) * 1000),
            device=self.device.device_id,
            kind=body.KIND,
            body=body.model_dump(mode="json"),
        )
        future: Future[BaseModel] = Future()
        with self._pending_lock:
            self._pending[request_id] = (future, reply_model)
        properties = None
        if self.is_v5:
            properties = _properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = envelope.reply_to
            properties.CorrelationData = request_id.encode("ascii")
        try:
            self._mqtt.publish(
                self.device.request_topic(body.KIND), encode(envelope), qos=1, properties=properties
            )
            reply = future.result(timeout)
        except FutureTimeout:
            raise RequestTimeout(body.KIND.value, timeout) from None
        finally:
            with self._pending_lock:
                self._pending.pop(request_id, None)
        if isinstance(reply, ErrorReply):
            raise RequestFailed(reply.error)
        assert isinstance(reply, reply_model)
        return reply

    # ------------------------------------------------------------ paho callbacks

    def _build_paho_client(self) -> mqtt.Client:
        v5 = self.is_v5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else False,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        )
        client.username_pw_set(
            self.settings.username or self.device.device_id, self.settings.password
        )
        client.will_set(self.device.status_topic(), AVAILABILITY_OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(self.settings.reconnect_min_s, self.settings.reconnect_max_s)
        if self.settings.tls is not None:
            tls = self.settings.tls
            client.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.on_pre_connect = self._on_pre_connect
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_pre_connect(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._connection_attempts += 1

    def _on_socket_open(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            fatal = _FATAL_CONNACK.get(reason_code.value)
            if fatal is None:
                log.warning("%s: connect refused (%s); retrying", self.client_id, reason_code)
                return
            self._auth_error = AuthenticationFailed(
                f"{self.client_id} at {self.settings.host}:{self.settings.port}: {fatal} "
                f"({reason_code}). Not retrying: check broker.username and the password "
                "source in this device's config, and the broker's password and ACL files."
            )
            log.error("%s", self._auth_error)
            self._set_state(ClientState.AUTH_FAILED)
            # disconnect() inside the callback makes paho's loop exit instead of retrying.
            client.disconnect()
            self._settled.set()
            return
        self._set_state(ClientState.CONNECTED)
        client.publish(self.device.status_topic(), AVAILABILITY_ONLINE, qos=1, retain=True)
        version = app_version()
        if version:
            # Retained, so the hub learns what this device runs whenever it (re)starts.
            info = DeviceInfo(device=self.device.device_id, app_version=version[:32])
            client.publish(self.device.info_topic(), encode(info), qos=1, retain=True)
        with self._subscriptions_lock:
            filters = {self.device.reply_topic(): 1}
            for topic_filter, _handler, qos in self._subscriptions:
                filters[topic_filter] = max(qos, filters.get(topic_filter, 0))
        client.subscribe(list(filters.items()))
        log.info(
            "%s connected to %s:%s (session present: %s)",
            self.client_id,
            self.settings.host,
            self.settings.port,
            flags.session_present,
        )
        self._connected.set()
        self._settled.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if self._state is ClientState.CONNECTED:
            log.warning("%s disconnected (%s); reconnecting", self.client_id, reason_code)
            self._set_state(ClientState.DISCONNECTED)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs on the network thread: only cheap work here.
        if message.topic == self.device.reply_topic():
            self._resolve_reply(bytes(message.payload))
            return
        incoming = IncomingMessage(
            message.topic, bytes(message.payload), message.qos, bool(message.retain)
        )
        with self._subscriptions_lock:
            handlers = [
                handler
                for topic_filter, handler, _qos in self._subscriptions
                if mqtt.topic_matches_sub(topic_filter, message.topic)
            ]
        for handler in handlers:
            self._work.put((handler, incoming))

    def _resolve_reply(self, payload: bytes) -> None:
        try:
            reply = decode_reply(payload)
        except ContractError as exc:
            log.warning("%s: unreadable reply dropped: %s", self.client_id, exc)
            return
        if reply.id is None:
            log.warning("%s: error reply without id: %s", self.client_id, reply)
            return
        with self._pending_lock:
            waiting = self._pending.get(reply.id)
        if waiting is None:
            log.info("%s: reply %s arrived after its request gave up", self.client_id, reply.id)
            return
        future, reply_model = waiting
        if isinstance(reply, ErrorReply):
            future.set_result(reply)
            return
        try:
            future.set_result(reply_model.model_validate(reply.body))
        except ValidationError as exc:
            future.set_exception(
                ContractError(ErrorCode.BAD_SCHEMA, f"reply body: {describe_validation_error(exc)}")
            )

    # -------------------------------------------------------------------- helpers

    def _run_handlers(self) -> None:
        while True:
            job = self._work.get()
            if job is None:
                return
            handler, incoming = job
            try:
                handler(incoming)
            except Exception:
                log.exception("%s: handler for %s failed", self.client_id, incoming.topic)

    def _set_state(self, state: ClientState) -> None:
        with self._state_lock:
            if self._state is ClientState.STOPPED and state is not ClientState.STOPPED:
                return
            self._state = state

    def _fail_pending(self, error: Exception) -> None:
        with self._pending_lock:
            pending = [future for future, _model in self._pending.values()]
            self._pending.clear()
        for future in pending:
            if not future.done():
                future.set_exception(error)
