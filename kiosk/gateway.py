"""The kiosk's one adapter to the hall protocol: every topic, payload and request goes here.

Screen logic calls typed methods (``take_ticket``, ``search_catalog``, ...) and never sees
topics or JSON, so a change of the contract (e.g. the extensions proposed in
``kiosk.contract_ext`` moving into hallbus) stays inside this module.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from hallbus.bus import IncomingMessage, MessageBus
from hallbus.client import DeviceClient, NotConnected, RequestFailed, RequestTimeout
from hallbus.codec import decode, decode_reply, encode, parse_availability
from hallbus.errors import ContractError, ErrorCode
from hallbus.messages import (
    CaseLookup,
    CaseStatus,
    CatalogResults,
    CatalogSearch,
    ConfigPush,
    ErrorReply,
    RatingAccepted,
    RequestBody,
    SubmitRating,
    TakeTicket,
    TicketIssued,
)
from hallbus.topics import DeviceRef, DeviceType, RequestKind
from kiosk.contract_ext import (
    HEALTH_CHANNEL,
    MATTER_DETAIL_KIND,
    DeviceHealth,
    KioskState,
    MatterDetail,
    MatterDetailRequest,
)
from kiosk.printing import PrinterHealth, staff_message

ReplyT = TypeVar("ReplyT", bound=BaseModel)

# A visitor waits in front of the screen: answers that take longer than this are treated
# as "the hub is unreachable" and the kiosk says so instead of spinning.
TICKET_TIMEOUT_S = 5.0
QUERY_TIMEOUT_S = 4.0

# SubmitRating.window is required, but a case rated at the kiosk by receipt number has no
# window known to the kiosk (the hub knows it from the case). "-" matches the window-number
# pattern and means "not known"; proposed: make `window` optional when case_receipt is given.
UNKNOWN_WINDOW = "-"


class Requester(Protocol):
    """Sends one request and waits for its typed reply (raises ContractError on failure)."""

    def request_model(
        self, kind: str, body: BaseModel, reply_model: type[ReplyT], *, timeout: float
    ) -> ReplyT: ...


def _envelope(
    device: DeviceRef, kind: str, body: BaseModel, request_id: str, timeout: float
) -> bytes:
    # Same fields as hallbus.messages.RequestEnvelope, built by hand because that model only
    # accepts the request kinds already in the contract.
    return json.dumps(
        {
            "v": 1,
            "id": request_id,
            "reply_to": device.reply_topic(),
            "deadline": int((time.time() + timeout) * 1000),
            "device": device.device_id,
            "kind": kind,
            "body": body.model_dump(mode="json"),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def _request_topic(device: DeviceRef, kind: str) -> str:
    return f"{device.prefix}/req/{kind}"


class KioskClient(DeviceClient):
    """DeviceClient that can also send the proposed extension requests.

    Contract kinds go through ``DeviceClient.request`` unchanged. Extension kinds reuse its
    correlation table, so their replies arrive on the same reply topic; this subclass goes
    away once hallbus knows the new kinds.
    """

    def request_model(
        self, kind: str, body: BaseModel, reply_model: type[ReplyT], *, timeout: float
    ) -> ReplyT:
        if kind in RequestKind.__members__.values() and isinstance(body, RequestBody):
            return self.request(body, reply_model, timeout=timeout)
        request_id = uuid.uuid4().hex
        future: Future[BaseModel] = Future()
        with self._pending_lock:
            self._pending[request_id] = (future, reply_model)
        try:
            self.publish(
                _request_topic(self.device, kind),
                _envelope(self.device, kind, body, request_id, timeout),
            )
            reply = future.result(timeout)
        except FutureTimeout:
            raise RequestTimeout(kind, timeout) from None
        finally:
            with self._pending_lock:
                self._pending.pop(request_id, None)
        if isinstance(reply, ErrorReply):
            raise RequestFailed(reply.error)
        assert isinstance(reply, reply_model)
        return reply


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

    def request_model(
        self, kind: str, body: BaseModel, reply_model: type[ReplyT], *, timeout: float
    ) -> ReplyT:
        request_id = uuid.uuid4().hex
        future: Future[bytes] = Future()
        with self._lock:
            self._waiting[request_id] = future
        try:
            self._bus.publish(
                _request_topic(self._device, kind),
                _envelope(self._device, kind, body, request_id, timeout),
            )
            raw = future.result(timeout)
        except FutureTimeout:
            raise RequestTimeout(kind, timeout) from None
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
        self._clock = clock or (lambda: datetime.now().astimezone())
        self._last_state_seq = -1
        self._last_config_seq = -1

    # --------------------------------------------------------------------- requests

    def _call(
        self, kind: str, body: BaseModel, reply_model: type[ReplyT], timeout: float
    ) -> ReplyT:
        try:
            return self._requester.request_model(kind, body, reply_model, timeout=timeout)
        except NotConnected as exc:
            raise ContractError(ErrorCode.BACKEND_UNAVAILABLE, str(exc)) from None

    def take_ticket(self, request: TakeTicket) -> TicketIssued:
        return self._call(RequestKind.TAKE_TICKET.value, request, TicketIssued, TICKET_TIMEOUT_S)

    def search_catalog(
        self, query: str, *, department: str | None = None, limit: int = 30
    ) -> CatalogResults:
        body = CatalogSearch(query=query[:100], department=department, limit=limit)
        return self._call(RequestKind.CATALOG_SEARCH.value, body, CatalogResults, QUERY_TIMEOUT_S)

    def matter_detail(self, matter_code: str) -> MatterDetail:
        body = MatterDetailRequest(matter_code=matter_code)
        return self._call(MATTER_DETAIL_KIND, body, MatterDetail, QUERY_TIMEOUT_S)

    def case_lookup(self, receipt_number: str, phone_last4: str) -> CaseStatus:
        body = CaseLookup(receipt_number=receipt_number, phone_last4=phone_last4)
        return self._call(RequestKind.CASE_LOOKUP.value, body, CaseStatus, QUERY_TIMEOUT_S)

    def submit_rating(
        self, *, rating_id: str, case_receipt: str, level: int, reasons: list[str]
    ) -> RatingAccepted:
        body = SubmitRating(
            rating_id=rating_id,
            case_receipt=case_receipt,
            window=UNKNOWN_WINDOW,
            level=level,
            reasons=reasons,
            rated_at=self._clock(),
        )
        return self._call(RequestKind.SUBMIT_RATING.value, body, RatingAccepted, QUERY_TIMEOUT_S)

    # ----------------------------------------------------------------------- health

    def health_topic(self) -> str:
        return f"{self.device.prefix}/{HEALTH_CHANNEL}"

    def report_printer_health(self, health: PrinterHealth) -> None:
        """Publish the printer's condition (retained, so the hub sees it after a restart)."""
        message = DeviceHealth(
            device=self.device.device_id,
            printer=health.value,
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
    "UNKNOWN_WINDOW",
    "BusRequester",
    "HubGateway",
    "KioskClient",
    "Requester",
    "error_code",
    "is_unreachable",
]
