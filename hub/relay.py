"""Device requests → backend API → replies, with the device's identity.

Each valid request runs on a worker thread of a small pool (a slow backend call
must not hold up other devices or the MQTT handler thread). The backend call
gets at most the time the device still waits (its `deadline`), so an answer is
never computed for a device that has already given up.

Degraded mode: when the backend cannot be reached, `take_ticket` is served
from the hub's reserved number block and `submit_rating` goes to the outbox;
both are delivered later, exactly once (see hub.offline).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from hallbus.errors import ErrorCode
from hallbus.messages import (
    CaseLookup,
    CatalogResults,
    CatalogSearch,
    ErrorReply,
    MatterDetail,
    MatterDetailRequest,
    RatingAccepted,
    Response,
    SubmitRating,
    TakeTicket,
    TicketIssued,
)
from hub.backend import BackendClient, BackendRejected, BackendUnavailable
from hub.display import CategoryView
from hub.metrics import HubMetrics
from hub.offline import KIND_RATING, offline_ticket_payload
from hub.reachability import BackendReachability
from hub.store import HubStore
from hub.translate import (
    CategoryPlace,
    case_status,
    catalog_item,
    contract_error,
    format_ticket_number,
    matter_detail,
    offline_ticket,
    rating_body,
    rejection_from_text,
    ticket_from_backend,
)
from hub.validation import RequestRejected, ValidRequest

log = logging.getLogger(__name__)

# Leave the device this much of its deadline for the offline fallback + reply.
REPLY_RESERVE_S: Final = 0.3
# While the backend is known to be away, probe it this briefly per request.
PROBE_TIMEOUT_S: Final = 1.0
MATTER_CACHE_S: Final = 300.0


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: BaseModel | bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None: ...


class WaitingView(Protocol):
    def waiting_for(self, prefix: str) -> CategoryView | None: ...

    def note_offline_ticket(self, prefix: str) -> None: ...


class RequestRelay:
    def __init__(
        self,
        *,
        backend: BackendClient,
        store: HubStore,
        reachability: BackendReachability,
        metrics: HubMetrics,
        publisher: Publisher,
        waiting: WaitingView,
        clock: Callable[[], datetime],
        zone: ZoneInfo,
        timeout_s: float,
        public_base_url: str,
        workers: int = 16,
        hub_decides: Callable[[], bool] = lambda: False,
        replaying: Callable[[], bool] = lambda: False,
        on_offline_ticket: Callable[[dict[str, Any]], None] = lambda _payload: None,
    ) -> None:
        # While the hub decides the queue (offline, or replaying what it did) ratings
        # wait in the outbox even if the backend answers: one answering an offline
        # invitation must reach it after the finish that made the invitation. While it
        # replays, kiosk tickets come from the blocks too (the hub calls them).
        self._hub_decides = hub_decides
        self._replaying = replaying
        self._on_offline_ticket = on_offline_ticket
        self._backend = backend
        self._store = store
        self._reachability = reachability
        self._metrics = metrics
        self._publisher = publisher
        self._waiting = waiting
        self._clock = clock
        self._zone = zone
        self._timeout_s = timeout_s
        self._public_base_url = public_base_url
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-relay")
        self._lock = threading.Lock()
        # Learnt from online tickets, used to print offline ones like the backend would.
        self._digits: dict[str, int] = {}
        self._places: dict[str, CategoryPlace] = {}
        # matter code -> (category, fetched at) from catalog answers, for offline tickets.
        self._matter_category: dict[str, str] = {}
        self._matters: dict[str, tuple[float, dict[str, Any]]] = {}

    def submit(self, request: ValidRequest) -> None:
        self._pool.submit(self._handle, request)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def places(self) -> dict[str, CategoryPlace]:
        """Where each category's windows are, as online tickets said (for KioskState)."""
        with self._lock:
            return dict(self._places)

    def learn_matter_categories(self, categories: dict[str, str]) -> None:
        """Matter code -> queue category, e.g. from the hub's catalog digest: lets an
        offline ticket be issued for a matter nobody searched for since the start."""
        with self._lock:
            self._matter_category.update(categories)

    def learn_number(self, ticket: str) -> None:
        """Remember how many digits a category's numbers have (from any ticket seen)."""
        prefix = ticket.rstrip("0123456789")
        with self._lock:
            self._digits[prefix] = len(ticket) - len(prefix)

    # ------------------------------------------------------------------ handling

    def _handle(self, request: ValidRequest) -> None:
        envelope = request.envelope
        reply: Response | ErrorReply
        try:
            body = self._dispatch(request)
            reply = Response(id=envelope.id, body=body.model_dump(mode="json"))
            self._metrics.count(f"requests_ok_{envelope.kind.value}")
        except RequestRejected as exc:
            log.info(
                "%s %s from %s refused: %s",
                envelope.kind.value,
                envelope.id,
                request.device_id,
                exc,
            )
            reply = ErrorReply.for_code(envelope.id, exc.code, exc.message)
            self._metrics.count(f"errors_{exc.code.value}")
        except Exception:
            log.exception(
                "%s %s from %s failed", envelope.kind.value, envelope.id, request.device_id
            )
            reply = ErrorReply.for_code(envelope.id, ErrorCode.INTERNAL, "hub failure; try again")
            self._metrics.count("errors_internal")
        try:
            self._publisher.publish(request.reply_topic, reply)
        except Exception:
            log.exception("reply to %s could not be queued", request.device_id)
            return
        self._metrics.count("messages_out")
        self._metrics.relay_latency.add(time.monotonic() - request.received_at)

    def _dispatch(self, request: ValidRequest) -> BaseModel:
        body = request.body
        if isinstance(body, TakeTicket):
            return self._take_ticket(request, body)
        if isinstance(body, SubmitRating):
            return self._submit_rating(request, body)
        if isinstance(body, CatalogSearch):
            return self._catalog_search(request, body)
        if isinstance(body, CaseLookup):
            return self._case_lookup(request, body)
        if isinstance(body, MatterDetailRequest):
            return self._matter_detail(request, body)
        raise RequestRejected(
            ErrorCode.BAD_SCHEMA, f"no handler for {type(body).__name__}", reply_topic=None
        )

    def _budget(self, request: ValidRequest) -> float:
        """Seconds the backend call may take: the device's remaining wait, capped."""
        budget = min(self._timeout_s, request.remaining_s() - REPLY_RESERVE_S)
        if not self._reachability.reachable:
            budget = min(budget, PROBE_TIMEOUT_S)
        return budget

    def _call(self, request: ValidRequest, call: Callable[[float], Any]) -> Any:
        """Run a backend call within the request's budget; map failures to contract errors."""
        budget = self._budget(request)
        if budget <= 0:
            raise BackendUnavailable("no time left before the device's deadline")
        try:
            result = call(budget)
        except BackendRejected as exc:
            self._reachability.succeeded()
            if exc.status in (401, 403):
                log.error("backend refused the hub's token: %s", exc)
            raise RequestRejected(
                contract_error(exc), exc.message or exc.code, reply_topic=None
            ) from None
        self._reachability.succeeded()
        return result

    def _unavailable(self, request: ValidRequest, exc: BackendUnavailable) -> RequestRejected:
        self._reachability.failed(str(exc))
        if request.remaining_s() <= REPLY_RESERVE_S:
            return RequestRejected(
                ErrorCode.DEADLINE_EXCEEDED, "the backend did not answer in time", reply_topic=None
            )
        return RequestRejected(
            ErrorCode.BACKEND_UNAVAILABLE, "the backend cannot be reached", reply_topic=None
        )

    # ------------------------------------------------------------------- tickets

    def _take_ticket(self, request: ValidRequest, body: TakeTicket) -> TicketIssued:
        device_id = request.device_id
        queued = self._store.queued(f"ticket:{request.envelope.id}")
        if queued is not None:  # a retry of a request already served offline
            return self._offline_reply(request, queued.payload)
        if self._replaying() and not body.is_check_in:
            return self._issue_offline(request, body)
        try:
            if body.is_check_in:
                # By the typed code when there is one, else by the ID card's lookup hash
                # (the hash identifies a person: it is relayed, never logged).
                check_in: dict[str, Any] = (
                    {"code": body.appointment_code}
                    if body.appointment_code is not None
                    else {"id_lookup_hash": body.id_lookup_hash}
                )
                check_in["request_id"] = request.envelope.id
                data = self._call(
                    request,
                    lambda t: (
                        self._backend.call(
                            "POST",
                            self._backend.hall_path("/appointments/check-in"),
                            body=check_in,
                            device_id=device_id,
                            timeout_s=t,
                        ).body
                    ),
                )
            else:
                issue = {
                    "category": body.category,
                    "matter_code": body.matter_code,
                    "priority_kind": body.priority_kind,
                    "channel": "kiosk",
                    "request_id": request.envelope.id,
                }
                if body.id_lookup_hash is not None:  # a real-name ticket
                    issue["id_lookup_hash"] = body.id_lookup_hash
                if body.notify_phone is not None:  # 到号提醒 by SMS; relayed, never logged
                    issue["notify_phone"] = body.notify_phone
                data = self._call(
                    request,
                    lambda t: (
                        self._backend.call(
                            "POST",
                            self._backend.hall_path("/tickets"),
                            body=issue,
                            device_id=device_id,
                            timeout_s=t,
                        ).body
                    ),
                )
        except BackendUnavailable as exc:
            self._reachability.failed(str(exc))
            return self._issue_offline(request, body)
        ticket = ticket_from_backend(data, public_base_url=self._public_base_url)
        self.learn_number(ticket.number)
        with self._lock:
            if data.get("area"):
                self._places[ticket.category] = CategoryPlace(data["area"], ticket.floor)
        return ticket

    def _issue_offline(self, request: ValidRequest, body: TakeTicket) -> TicketIssued:
        if body.is_check_in:
            raise self._unavailable(request, BackendUnavailable("appointments need the backend"))
        category = body.category
        if category is None and body.matter_code is not None:
            with self._lock:
                category = self._matter_category.get(body.matter_code)
        if category is None:
            raise self._unavailable(request, BackendUnavailable("matter category unknown offline"))
        issued_at = self._clock()
        day = issued_at.astimezone(self._zone).date()
        with self._lock:
            digits = self._digits.get(category, 3)
        payload = offline_ticket_payload(
            category=category,
            display_digits=digits,
            issued_at=issued_at,
            request_id=request.envelope.id,
            device_id=request.device_id,
            priority_kind=body.priority_kind,
        )
        key = f"ticket:{request.envelope.id}"
        number = self._store.take_offline_ticket(category, day, key, request.device_id, payload)
        if number is None:
            log.warning("no reserved numbers left for category %s; ticket refused", category)
            raise self._unavailable(request, BackendUnavailable("reserved block used up"))
        self._metrics.count("tickets_issued_offline")
        log.info(
            "issued %s offline to %s",
            format_ticket_number(category, number, digits),
            request.device_id,
        )
        queued = self._store.queued(key)
        assert queued is not None
        ticket = self._offline_reply(request, queued.payload)
        self._waiting.note_offline_ticket(category)
        try:
            self._on_offline_ticket(queued.payload)  # joins the hub's offline queue
        except Exception:
            log.exception("offline ticket %s not added to the offline queue", ticket.number)
        return ticket

    def _offline_reply(self, request: ValidRequest, payload: dict[str, Any]) -> TicketIssued:
        category = str(payload["category"])
        view = self._waiting.waiting_for(category)
        with self._lock:
            place = self._places.get(category)
        return offline_ticket(
            request_id=request.envelope.id,
            number=str(payload["display"]),
            category=category,
            category_name=view.name if view else category,
            ahead=view.waiting if view else 0,
            # The same forecast the kiosk's confirm screen showed for this queue.
            estimated_wait_minutes=view.forecast(view.waiting) if view else 0,
            issued_at=datetime.fromisoformat(payload["issued_at"]),
            place=place,
        )

    # ------------------------------------------------------------------- ratings

    def _submit_rating(self, request: ValidRequest, body: SubmitRating) -> RatingAccepted:
        device = request.topic.device
        key = f"rating:{body.rating_id}"
        if self._store.queued(key) is not None:  # a retry of a rating already in the outbox
            return RatingAccepted(rating_id=body.rating_id, duplicate=True, queued=True)
        refused = self._store.dead_letter_reason(key)
        if refused is not None:
            # Accepted offline, then refused by the backend for good: the resend
            # learns that final outcome instead of being queued again.
            rejection = rejection_from_text(refused)
            raise RequestRejected(contract_error(rejection), rejection.message, reply_topic=None)
        if self._hub_decides():
            return self._queue_rating(body, key, device.device_id, device.device_type.value)
        try:
            data = self._call(
                request,
                lambda t: (
                    self._backend.call(
                        "POST",
                        self._backend.hall_path("/ratings"),
                        body=rating_body(
                            body, device.device_type, self._backend, self._store.rate_request_ticket
                        ),
                        device_id=device.device_id,
                        timeout_s=t,
                    ).body
                ),
            )
        except BackendUnavailable as exc:
            self._reachability.failed(str(exc))
            return self._queue_rating(body, key, device.device_id, device.device_type.value)
        return RatingAccepted(rating_id=body.rating_id, duplicate=bool(data.get("duplicate")))

    def _queue_rating(
        self, body: SubmitRating, key: str, device_id: str, device_type: str
    ) -> RatingAccepted:
        # Kept durably and delivered when the backend returns; rating_id
        # makes a send that did reach the backend land only once.
        self._store.enqueue(
            KIND_RATING,
            key,
            device_id,
            {"rating": body.model_dump(mode="json"), "device_type": device_type},
        )
        self._metrics.count("ratings_queued_offline")
        return RatingAccepted(rating_id=body.rating_id, duplicate=False, queued=True)

    # ----------------------------------------------------------- catalog, cases

    def _catalog_search(self, request: ValidRequest, body: CatalogSearch) -> CatalogResults:
        # Only the matters this hall handles (a sub-centre's kiosk lists its own).
        query: dict[str, str | int | float] = {
            "q": body.query,
            "limit": body.limit,
            "hall": self._backend.hall_code,
        }
        if body.department:
            query["department"] = body.department
        if body.type:
            query["type"] = body.type
        if body.life_event:
            query["life_event"] = body.life_event
        try:
            hits = self._call(
                request,
                lambda t: (
                    self._backend.call(
                        "GET", "/api/v1/catalog/search", query=query, timeout_s=t
                    ).body
                ),
            )
            items = []
            for hit in hits.get("results", []):
                matter = self._matter(request, str(hit["code"]))
                try:
                    items.append(catalog_item(matter))
                except (KeyError, ValidationError) as exc:
                    log.warning("matter %s skipped in catalog answer: %s", hit.get("code"), exc)
        except BackendUnavailable as exc:
            raise self._unavailable(request, exc) from None
        return CatalogResults(items=items, total=len(items))

    def _matter(self, request: ValidRequest, code: str) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._matters.get(code)
        if cached is not None and now - cached[0] < MATTER_CACHE_S:
            return cached[1]
        path = f"/api/v1/catalog/matters/{quote(code, safe='')}"
        # With the hall: its queue category for the matter and its windows.
        hall: dict[str, str | int | float] = {"hall": self._backend.hall_code}
        matter: dict[str, Any] = self._call(
            request, lambda t: self._backend.call("GET", path, query=hall, timeout_s=t).body
        )
        with self._lock:
            self._matters[code] = (now, matter)
            if isinstance(matter.get("queue_category"), str):
                self._matter_category[code] = matter["queue_category"]
        return matter

    def _matter_detail(self, request: ValidRequest, body: MatterDetailRequest) -> MatterDetail:
        try:
            matter = self._matter(request, body.matter_code)
        except BackendUnavailable as exc:
            raise self._unavailable(request, exc) from None
        category = matter.get("queue_category")
        with self._lock:
            place = self._places.get(category) if isinstance(category, str) else None
        return matter_detail(matter, place)

    def _case_lookup(self, request: ValidRequest, body: CaseLookup) -> BaseModel:
        try:
            view = self._call(
                request,
                lambda t: (
                    self._backend.call(
                        "POST",
                        "/api/v1/public/case-lookup",
                        body={
                            "receipt_number": body.receipt_number,
                            "phone_last4": body.phone_last4,
                        },
                        device_id=request.device_id,
                        timeout_s=t,
                    ).body
                ),
            )
        except BackendUnavailable as exc:
            raise self._unavailable(request, exc) from None
        return case_status(view, self._zone)
