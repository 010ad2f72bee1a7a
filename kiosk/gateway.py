"""The kiosk's one adapter to the hall protocol: every topic, payload and request goes here.

Screen logic calls typed methods (``take_ticket``, ``search_catalog``, ...) and never sees
topics or JSON, so a change of the contract stays inside this module.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from hallbus.bus import IncomingMessage, MessageBus
from hallbus.client import NotConnected, RequestFailed, RequestTimeout
from hallbus.codec import decode, decode_reply, encode, parse_availability
from hallbus.errors import ContractError, ErrorCode
from hallbus.messages import (
    CaseLookup,
    CaseStatus,
    CatalogResults,
    CatalogSearch,
    ConfigPush,
    DeviceHealth,
    ErrorReply,
    KioskState,
    MatterDetail,
    MatterDetailRequest,
    RatingAccepted,
    RequestBody,
    RequestEnvelope,
    SubmitRating,
    TakeTicket,
    TicketIssued,
)
from hallbus.topics import Component, DeviceRef, DeviceType
from kiosk.printing import PrinterHealth, staff_message

ReplyT = TypeVar("ReplyT", bound=BaseModel)

# A visitor waits in front of the screen: answers that take longer than this are treated
# as "the hub is unreachable" and the kiosk says so instead of spinning.
TICKET_TIMEOUT_S = 5.0
QUERY_TIMEOUT_S = 4.0

HealthState = Literal["ok", "paper_near_end", "paper_out", "fault", "offline", "unknown"]
_PRINTER_STATES: dict[PrinterHealth, HealthState] = {
    PrinterHealth.OK: "ok",
    PrinterHealth.PAPER_NEAR_END: "paper_near_end",
    PrinterHealth.PAPER_OUT: "paper_out",
    PrinterHealth.OFFLINE: "offline",
    PrinterHealth.UNKNOWN: "unknown",
}


class Requester(Protocol):
    """Sends one request and waits for its typed reply (raises ContractError on failure);
    hallbus.client.DeviceClient is one."""

    def request(
        self, body: RequestBody, reply_model: type[ReplyT], *, timeout: float = 5.0
    ) -> ReplyT: ...


class BusRequester:
    """Request/response over any MessageBus that hands reply messages to subscribers
    (RecordingBus in tests, where the fake hub answers synchronously)."""

    def __init__(self, bus: MessageBus, device: DeviceRef) -> None:
        self._bus = bus
        self._device = device
        self._waiting: dict[str, Future[bytes]] = {}
        self._lock = threading.Lock()
        bus.subscribe(device.reply_topic(), self._on_reply)

    def _on_reply(self, message: IncomingMessage) -> None:
        try:
            request_id = json.loads(message.payload).get("id")
        except (ValueError, AttributeError):
            return
        with self._lock:
            future = self._waiting.get(request_id)
        if future is not None and not future.done():
            future.set_result(message.payload)

    def request(
        self, body: RequestBody, reply_model: type[ReplyT], *, timeout: float = 5.0
    ) -> ReplyT:
        request_id = uuid.uuid4().hex
        envelope = RequestEnvelope(
            id=request_id,
            reply_to=self._device.reply_topic(),
            deadline=int((time.time() + timeout) * 1000),
            device=self._device.device_id,
            kind=body.KIND,
            body=body.model_dump(mode="json"),
        )
        future: Future[bytes] = Future()
        with self._lock:
            self._waiting[request_id] = future
        try:
            self._bus.publish(self._device.request_topic(body.KIND), encode(envelope))
            raw = future.result(timeout)
        except FutureTimeout:
            raise RequestTimeout(body.KIND.value, timeout) from None
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        reply = decode_reply(raw)
        if isinstance(reply, ErrorReply):
            raise RequestFailed(reply.error)
        try:
            return reply_model.model_validate(reply.body)
        except ValidationError as exc:
            raise ContractError(ErrorCode.BAD_SCHEMA, f"reply body: {exc}") from None


StateListener = Callable[[KioskState], None]
ConfigListener = Callable[[ConfigPush], None]
HubStatusListener = Callable[[bool], None]


class HubGateway:
    """Typed calls to the hub, and the kiosk's subscriptions (state, config, hub status)."""

    def __init__(
        self,
        requester: Requester,
        bus: MessageBus,
        device: DeviceRef,
        *,
        hub_id: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if device.device_type is not DeviceType.KIOSK:
            raise ValueError(f"{device.device_id} is not a kiosk")
        self.device = device
        self._requester = requester
        self._bus = bus
        self._hub = DeviceRef(device.hall_id, DeviceType.HUB, hub_id)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_state_seq = -1
        self._last_config_seq = -1

    # --------------------------------------------------------------------- requests

    def _call(self, body: RequestBody, reply_model: type[ReplyT], timeout: float) -> ReplyT:
        try:
            return self._requester.request(body, reply_model, timeout=timeout)
        except NotConnected as exc:
            raise ContractError(ErrorCode.BACKEND_UNAVAILABLE, str(exc)) from None

    def take_ticket(self, request: TakeTicket) -> TicketIssued:
        """A ticket, or (no category/matter, an appointment code or ID hash) a check-in."""
        return self._call(request, TicketIssued, TICKET_TIMEOUT_S)

    def search_catalog(
        self,
        query: str,
        *,
        department: str | None = None,
        life_event: str | None = None,
        limit: int = 30,
    ) -> CatalogResults:
        body = CatalogSearch(
            query=query[:100], department=department, life_event=life_event, limit=limit
        )
        return self._call(body, CatalogResults, QUERY_TIMEOUT_S)

    def matter_detail(self, matter_code: str) -> MatterDetail:
        return self._call(
            MatterDetailRequest(matter_code=matter_code), MatterDetail, QUERY_TIMEOUT_S
        )

    def case_lookup(self, receipt_number: str, phone_last4: str) -> CaseStatus:
        body = CaseLookup(receipt_number=receipt_number, phone_last4=phone_last4)
        return self._call(body, CaseStatus, QUERY_TIMEOUT_S)

    def submit_rating(
        self, *, rating_id: str, case_receipt: str, level: int, reasons: list[str]
    ) -> RatingAccepted:
        # No window: the kiosk rates a case by its receipt; the backend knows where it
        # was handled.
        body = SubmitRating(
            rating_id=rating_id,
            case_receipt=case_receipt,
            level=level,
            reasons=reasons,
            rated_at=self._clock(),
        )
        return self._call(body, RatingAccepted, QUERY_TIMEOUT_S)

    # ----------------------------------------------------------------------- health

    def health_topic(self) -> str:
        return self.device.health_topic(Component.PRINTER)

    def report_printer_health(self, health: PrinterHealth) -> None:
        """Publish the printer's condition (retained, so the hub sees it after a restart)."""
        message = DeviceHealth(
            device=self.device.device_id,
            component=Component.PRINTER,
            state=_PRINTER_STATES[health],
            detail=staff_message(health),
            at=self._clock(),
        )
        self._bus.publish(self.health_topic(), encode(message), qos=1, retain=True)

    # ------------------------------------------------------------------ subscriptions

    def listen(
        self,
        *,
        on_state: StateListener,
        on_config: ConfigListener,
        on_hub_status: HubStatusListener,
    ) -> None:
        def state_handler(message: IncomingMessage) -> None:
            try:
                state = decode(KioskState, message.payload)
            except ContractError:
                return
            # Retained copies can be redelivered after a reconnect; never go back in time.
            if state.seq < self._last_state_seq:
                return
            self._last_state_seq = state.seq
            on_state(state)

        def config_handler(message: IncomingMessage) -> None:
            try:
                config = decode(ConfigPush, message.payload)
            except ContractError:
                return
            if config.seq < self._last_config_seq:
                return
            self._last_config_seq = config.seq
            on_config(config)

        def status_handler(message: IncomingMessage) -> None:
            try:
                on_hub_status(parse_availability(message.payload) == "online")
            except ContractError:
                return

        self._bus.subscribe(self.device.state_topic(), state_handler)
        self._bus.subscribe(self.device.config_topic(), config_handler)
        self._bus.subscribe(self._hub.status_topic(), status_handler)


def is_unreachable(error: BaseException) -> bool:
    """Whether a failed request means "the hub/backend cannot be reached right now"."""
    if isinstance(error, ContractError):
        return error.code in (
            ErrorCode.DEADLINE_EXCEEDED,
            ErrorCode.BACKEND_UNAVAILABLE,
            ErrorCode.INTERNAL,
        )
    return isinstance(error, (NotConnected, OSError))


def error_code(error: BaseException) -> ErrorCode | None:
    return error.code if isinstance(error, ContractError) else None


__all__ = [
    "BusRequester",
    "HubGateway",
    "Requester",
    "error_code",
    "is_unreachable",
]
