"""DeviceClient against real brokers: generated Mosquitto and the embedded amqtt."""

from __future__ import annotations

import queue
import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from hallbus.bus import IncomingMessage
from hallbus.client import (
    AuthenticationFailed,
    ClientState,
    DeviceClient,
    NotConnected,
    RequestFailed,
    RequestTimeout,
)
from hallbus.codec import decode, decode_request, encode
from hallbus.errors import ErrorCode
from hallbus.messages import (
    ErrorReply,
    RateNow,
    Response,
    TakeTicket,
    TicketIssued,
)
from hallbus.topics import Command, RequestKind

from .conftest import EVALUATOR_1, HUB, KIOSK_1, WAIT_S, RunningBroker

RATE_NOW = RateNow(
    request_id="f" * 32,
    window="1",
    ticket_number="A001",
    staff_name="王芳",
    employee_no="0107",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
)


def ticket_for(number: str) -> TicketIssued:
    return TicketIssued(
        ticket_id=f"t-{number}",
        number=number,
        category="A",
        category_name="综合受理",
        ahead=3,
        estimated_wait_minutes=9,
        issued_at=datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        window_area="A区",
        floor=1,
    )


def start_hub_responder(broker: RunningBroker, *, fail: bool = False) -> DeviceClient:
    """A minimal hub: answers take_ticket requests on the envelope's reply topic."""
    hub = broker.client(HUB, start=False)

    def answer(message: IncomingMessage) -> None:
        envelope, _body = decode_request(message.payload)
        reply: Response | ErrorReply
        if fail:
            reply = ErrorReply.for_code(envelope.id, ErrorCode.NOT_FOUND, "no such category")
        else:
            reply = Response(id=envelope.id, body=ticket_for("A001").model_dump(mode="json"))
        hub.publish(envelope.reply_to, reply)

    hub.subscribe("hall/bh/+/+/req/+", answer)
    hub.start()
    hub.wait_connected(WAIT_S)
    return hub


def test_online_is_retained_and_last_will_fires_on_abrupt_loss(any_broker: RunningBroker) -> None:
    kiosk = any_broker.client(KIOSK_1)
    status = KIOSK_1.status_topic()
    watcher = any_broker.watcher(status)
    try:
        first = watcher.next_on(status)
        assert (first.payload, first.retain) == (b"online", True)
        sock = kiosk.network_socket()
        assert sock is not None
        # Cut the connection without an MQTT DISCONNECT, as a pulled cable would.
        sock.shutdown(socket.SHUT_RDWR)
        assert watcher.next_on(status).payload == b"offline"
        # ... and the client comes back by itself, announcing itself again.
        assert watcher.next_on(status).payload == b"online"
    finally:
        watcher.stop()
    # A newcomer sees the retained state.
    late = any_broker.watcher(status)
    try:
        seen = late.next_on(status)
        assert (seen.payload, seen.retain) == (b"online", True)
    finally:
        late.stop()


def test_stop_publishes_offline(any_broker: RunningBroker) -> None:
    kiosk = any_broker.client(KIOSK_1)
    watcher = any_broker.watcher(KIOSK_1.status_topic())
    try:
        assert watcher.next_on(KIOSK_1.status_topic()).payload == b"online"
        kiosk.stop()
        assert kiosk.state is ClientState.STOPPED
        assert watcher.next_on(KIOSK_1.status_topic()).payload == b"offline"
        with pytest.raises(NotConnected):
            kiosk.publish(KIOSK_1.status_topic(), b"online")
    finally:
        watcher.stop()


def test_tcp_nodelay_is_set(any_broker: RunningBroker) -> None:
    kiosk = any_broker.client(KIOSK_1)
    sock = kiosk.network_socket()
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_persistent_session_delivers_qos1_sent_while_offline(any_broker: RunningBroker) -> None:
    received: queue.Queue[IncomingMessage] = queue.Queue()
    topic = EVALUATOR_1.command_topic(Command.RATE_NOW)
    evaluator = any_broker.client(EVALUATOR_1, start=False)
    evaluator.subscribe(topic, received.put)
    evaluator.start()
    evaluator.wait_connected(WAIT_S)
    evaluator.stop()

    hub = any_broker.client(HUB)
    hub.publish(topic, RATE_NOW, qos=1)

    again = any_broker.client(EVALUATOR_1, start=False)
    again.subscribe(topic, received.put)
    again.start()
    again.wait_connected(WAIT_S)
    message = received.get(timeout=WAIT_S)
    assert decode(RateNow, message.payload) == RATE_NOW


def test_request_response_with_correlation(any_broker: RunningBroker) -> None:
    start_hub_responder(any_broker)
    kiosk = any_broker.client(KIOSK_1)
    results: queue.Queue[TicketIssued] = queue.Queue()
    # Concurrent requests each get their own reply back.
    threads = [
        threading.Thread(
            target=lambda: results.put(
                kiosk.request(TakeTicket(category="A"), TicketIssued, timeout=WAIT_S)
            )
        )
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert results.qsize() == 5
    assert results.get_nowait().number == "A001"


def test_error_reply_raises_typed_error(any_broker: RunningBroker) -> None:
    start_hub_responder(any_broker, fail=True)
    kiosk = any_broker.client(KIOSK_1)
    with pytest.raises(RequestFailed) as excinfo:
        kiosk.request(TakeTicket(category="Z"), TicketIssued, timeout=WAIT_S)
    assert excinfo.value.code is ErrorCode.NOT_FOUND and excinfo.value.retry is False


def test_request_times_out_without_hub(any_broker: RunningBroker) -> None:
    kiosk = any_broker.client(KIOSK_1)
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as excinfo:
        kiosk.request(TakeTicket(category="A"), TicketIssued, timeout=0.3)
    assert excinfo.value.code is ErrorCode.DEADLINE_EXCEEDED
    assert 0.3 <= time.monotonic() - started < 2


def test_request_carries_deadline_and_reply_topic(any_broker: RunningBroker) -> None:
    watcher = any_broker.watcher(KIOSK_1.request_topic(RequestKind.TAKE_TICKET))
    kiosk = any_broker.client(KIOSK_1)
    try:
        before_ms = int(time.time() * 1000)
        with pytest.raises(RequestTimeout):
            kiosk.request(TakeTicket(category="A"), TicketIssued, timeout=0.2)
        envelope, _body = decode_request(watcher.next().payload, RequestKind.TAKE_TICKET)
        assert envelope.reply_to == KIOSK_1.reply_topic()
        assert envelope.device == "kiosk-1"
        assert before_ms + 150 <= envelope.deadline <= before_ms + 1500
    finally:
        watcher.stop()


def test_slow_handler_does_not_block_the_network_loop(any_broker: RunningBroker) -> None:
    release = threading.Event()
    kiosk = any_broker.client(KIOSK_1, start=False)

    def stuck_handler(_message: IncomingMessage) -> None:
        release.wait(WAIT_S)

    kiosk.subscribe(KIOSK_1.state_topic(), stuck_handler)
    kiosk.start()
    kiosk.wait_connected(WAIT_S)
    start_hub_responder(any_broker)
    hub_sender = any_broker.watcher("hall/bh/none")
    try:
        hub_sender.publish(KIOSK_1.state_topic(), b"{}")
        # The handler is stuck, yet a request/response still completes.
        reply = kiosk.request(TakeTicket(category="A"), TicketIssued, timeout=WAIT_S)
        assert reply.number == "A001"
    finally:
        release.set()
        hub_sender.stop()


def test_mqtt5_request_response_on_mosquitto(mosquitto_broker: RunningBroker) -> None:
    start_hub_responder(mosquitto_broker)
    kiosk = mosquitto_broker.client(KIOSK_1, protocol="5")
    assert kiosk.request(TakeTicket(category="A"), TicketIssued, timeout=WAIT_S).number == "A001"


def test_wrong_password_stops_retrying(mosquitto_broker: RunningBroker) -> None:
    kiosk = mosquitto_broker.client(KIOSK_1, start=False, password="wrong")
    kiosk.start()
    with pytest.raises(AuthenticationFailed, match=r"not authorised|user name or password"):
        kiosk.wait_connected(WAIT_S)
    assert kiosk.state is ClientState.AUTH_FAILED
    # Reconnect backoff starts at 1 s; give it well over that to (not) try again.
    deadline = time.monotonic() + 1.8
    while time.monotonic() < deadline and kiosk.connection_attempts == 1:
        threading.Event().wait(0.1)
    assert kiosk.connection_attempts == 1
    with pytest.raises(NotConnected):
        kiosk.request(TakeTicket(category="A"), TicketIssued, timeout=0.1)


def test_embedded_broker_refuses_clients_without_user_name(embedded_broker: RunningBroker) -> None:
    # The client always sends one (the device id); a bare paho client must not get in.
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    outcome: queue.Queue[bool] = queue.Queue()
    bare = mqtt.Client(CallbackAPIVersion.VERSION2, reconnect_on_failure=False)
    bare.on_connect = lambda _c, _u, _f, rc, _p: outcome.put(rc.is_failure)
    bare.connect("127.0.0.1", embedded_broker.port)
    bare.loop_start()
    try:
        assert outcome.get(timeout=WAIT_S) is True
    finally:
        bare.disconnect()
        bare.loop_stop()


def test_publish_model_encodes_json(any_broker: RunningBroker) -> None:
    watcher = any_broker.watcher(EVALUATOR_1.command_topic(Command.RATE_NOW))
    hub = any_broker.client(HUB)
    try:
        hub.publish(EVALUATOR_1.command_topic(Command.RATE_NOW), RATE_NOW)
        assert watcher.next().payload == encode(RATE_NOW)
    finally:
        watcher.stop()
