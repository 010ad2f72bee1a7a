"""Headless hall devices speaking the real contract through hallbus.DeviceClient.

They do what the real apps do on the wire and record what they received (with
monotonic receive times for latency measurements), so tests, the demo and
benchmarks can drive and observe a hall without screens, printers or buttons.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from hallbus.bus import IncomingMessage
from hallbus.client import DeviceClient, RequestFailed, RequestTimeout
from hallbus.codec import decode
from hallbus.errors import ContractError
from hallbus.messages import (
    CallEvent,
    CaseLookup,
    CaseStatus,
    CatalogResults,
    CatalogSearch,
    ConfigPush,
    DeviceHealth,
    HallCallList,
    KioskState,
    MatterDetail,
    MatterDetailRequest,
    RateNow,
    RatingAccepted,
    RatingOutcome,
    SubmitRating,
    TakeTicket,
    TicketIssued,
    WindowDisplayState,
)
from hallbus.topics import Broadcast, Command, Component, broadcast_topic

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Received(Generic[ModelT]):
    message: ModelT
    received_at: float  # time.monotonic()


@dataclass
class Inbox(Generic[ModelT]):
    """What a device received on one topic, in order; waitable."""

    items: list[Received[ModelT]] = field(default_factory=list)
    _condition: threading.Condition = field(default_factory=threading.Condition)

    def add(self, message: ModelT) -> None:
        with self._condition:
            self.items.append(Received(message, time.monotonic()))
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[ModelT], bool], timeout: float) -> ModelT:
        """The first received message matching `predicate` (waiting up to `timeout`)."""
        return self.wait_for_received(predicate, timeout).message

    def wait_for_received(
        self, predicate: Callable[[ModelT], bool], timeout: float
    ) -> Received[ModelT]:
        """Like wait_for, with the receive time (for latency measurements)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for item in self.items:
                    if predicate(item.message):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message within {timeout} s")
                self._condition.wait(remaining)

    def clear(self) -> None:
        with self._condition:
            self.items.clear()

    def messages(self) -> list[ModelT]:
        with self._condition:
            return [item.message for item in self.items]


class SimKiosk:
    """Takes tickets, browses the guide, looks cases up and rates like the kiosk app;
    records the retained KioskState it is sent (lower `seq` ignored)."""

    def __init__(self, client: DeviceClient, *, timeout_s: float = 5.0) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.tickets: list[TicketIssued] = []
        self.states: Inbox[KioskState] = Inbox()
        self.shown: KioskState | None = None
        client.subscribe(client.device.state_topic(), self._on_state)

    def _on_state(self, message: IncomingMessage) -> None:
        state = decode(KioskState, message.payload)
        if self.shown is not None and state.seq < self.shown.seq:
            return
        self.shown = state
        self.states.add(state)

    def check_in(
        self, appointment_code: str | None = None, id_lookup_hash: str | None = None
    ) -> TicketIssued:
        body = TakeTicket(appointment_code=appointment_code, id_lookup_hash=id_lookup_hash)
        return self.client.request(body, TicketIssued, timeout=self.timeout_s)

    def search(
        self, query: str = "", *, life_event: str | None = None, limit: int = 20
    ) -> CatalogResults:
        body = CatalogSearch(query=query, life_event=life_event, limit=limit)
        return self.client.request(body, CatalogResults, timeout=self.timeout_s)

    def matter_detail(self, matter_code: str) -> MatterDetail:
        body = MatterDetailRequest(matter_code=matter_code)
        return self.client.request(body, MatterDetail, timeout=self.timeout_s)

    def case_lookup(self, receipt_number: str, phone_last4: str) -> CaseStatus:
        body = CaseLookup(receipt_number=receipt_number, phone_last4=phone_last4)
        return self.client.request(body, CaseStatus, timeout=self.timeout_s)

    def report_health(self, component: Component, state: str, detail: str = "") -> None:
        report = DeviceHealth.model_validate(
            {
                "device": self.client.device.device_id,
                "component": component,
                "state": state,
                "detail": detail,
                "at": datetime.now(UTC),
            }
        )
        self.client.publish(self.client.device.health_topic(component), report, retain=True)

    def take_ticket(self, category: str, *, priority_kind: str | None = None) -> TicketIssued:
        body = TakeTicket(category=category, priority_kind=priority_kind)  # type: ignore[arg-type]
        ticket = self.client.request(body, TicketIssued, timeout=self.timeout_s)
        self.tickets.append(ticket)
        return ticket

    def rate(self, rating: SubmitRating) -> RatingAccepted:
        return self.client.request(rating, RatingAccepted, timeout=self.timeout_s)


class SimWindowDisplay:
    """Records the retained WindowDisplayState it is sent; ignores lower `seq` (as devices must)."""

    def __init__(self, client: DeviceClient) -> None:
        self.client = client
        self.states: Inbox[WindowDisplayState] = Inbox()
        self.shown: WindowDisplayState | None = None
        client.subscribe(client.device.state_topic(), self._on_state)

    def _on_state(self, message: IncomingMessage) -> None:
        state = decode(WindowDisplayState, message.payload)
        if self.shown is not None and state.seq < self.shown.seq:
            return
        self.shown = state
        self.states.add(state)


class SimHallDisplay:
    """Records the call list state and the hall's call events (duplicates dropped by seq)."""

    def __init__(self, client: DeviceClient) -> None:
        self.client = client
        self.states: Inbox[HallCallList] = Inbox()
        self.calls: Inbox[CallEvent] = Inbox()
        self.repeated_calls = 0
        self.shown: HallCallList | None = None
        self._call_seqs: set[int] = set()
        client.subscribe(client.device.state_topic(), self._on_state)
        client.subscribe(broadcast_topic(client.device.hall_id, Broadcast.CALL), self._on_call)

    def _on_state(self, message: IncomingMessage) -> None:
        state = decode(HallCallList, message.payload)
        if self.shown is not None and state.seq < self.shown.seq:
            return
        self.shown = state
        self.states.add(state)

    def _on_call(self, message: IncomingMessage) -> None:
        call = decode(CallEvent, message.payload)
        if call.seq in self._call_seqs:
            self.repeated_calls += 1  # a redelivery: already announced
            return
        self._call_seqs.add(call.seq)
        self.calls.add(call)


@dataclass(frozen=True, slots=True)
class RatingChoice:
    """How a simulated person answers: levels and their weights, and how often at all."""

    levels: Sequence[int] = (5, 4, 3, 2, 1)
    weights: Sequence[float] = (70, 18, 7, 3, 2)
    answer_probability: float = 1.0
    bad_reasons: Sequence[str] = ("等候时间长", "态度不好", "一次告知不清")


class SimEvaluator:
    """Answers RateNow with a rating drawn from a seeded generator (never a default level).

    With `answer_probability` < 1 some requests are left to expire, as people
    sometimes walk away; those produce no rating at all.
    """

    def __init__(
        self,
        client: DeviceClient,
        rng: random.Random,
        choice: RatingChoice | None = None,
        *,
        auto_answer: bool = True,
        retries: int = 5,
        timeout_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.clock = clock
        self.rng = rng
        self.choice = choice or RatingChoice()
        self.auto_answer = auto_answer
        self.retries = retries
        self.timeout_s = timeout_s
        self.requests: Inbox[RateNow] = Inbox()
        # The idle screen's window state and the hub's configuration (both retained).
        self.states: Inbox[WindowDisplayState] = Inbox()
        self.configs: Inbox[ConfigPush] = Inbox()
        self.accepted: list[RatingAccepted] = []
        # (request id, acceptance) of every invitation answered, in order.
        self.answered: Inbox[tuple[str, RatingAccepted]] = Inbox()
        self.ignored: list[str] = []
        # Final outcomes of ratings the hub acknowledged `queued` (backend away).
        self.outcomes: Inbox[RatingOutcome] = Inbox()
        client.subscribe(client.device.command_topic(Command.RATE_NOW), self._on_rate_now)
        client.subscribe(
            client.device.command_topic(Command.RATING_OUTCOME),
            lambda message: self.outcomes.add(decode(RatingOutcome, message.payload)),
        )
        client.subscribe(client.device.state_topic(), self._on_state)
        client.subscribe(client.device.config_topic(), self._on_config)

    def _on_state(self, message: IncomingMessage) -> None:
        self.states.add(decode(WindowDisplayState, message.payload))

    def _on_config(self, message: IncomingMessage) -> None:
        self.configs.add(decode(ConfigPush, message.payload))

    def _on_rate_now(self, message: IncomingMessage) -> None:
        command = decode(RateNow, message.payload)
        self.requests.add(command)
        if not self.auto_answer:
            return
        if command.expires_at <= self.clock():
            self.ignored.append(command.request_id)  # arrived too late to ask anyone
            return
        if self.rng.random() >= self.choice.answer_probability:
            self.ignored.append(command.request_id)
            return
        level = self.rng.choices(list(self.choice.levels), list(self.choice.weights))[0]
        self.answer(command, level)

    def rating_for(self, command: RateNow, level: int) -> SubmitRating:
        reasons = [self.rng.choice(list(self.choice.bad_reasons))] if level <= 2 else []
        return SubmitRating(
            rating_id=uuid.uuid4().hex,
            ticket_number=command.ticket_number,
            case_receipt=command.case_receipt,
            window=command.window,
            level=level,
            reasons=reasons,
            rated_at=self.clock(),
            request_id=command.request_id,
        )

    def answer(self, command: RateNow, level: int) -> RatingAccepted:
        """Submit a rating for `command`; retried with the same rating_id until accepted."""
        accepted = self.submit(self.rating_for(command, level))
        self.answered.add((command.request_id, accepted))
        return accepted

    def submit(self, rating: SubmitRating) -> RatingAccepted:
        last: ContractError | None = None
        for _attempt in range(self.retries):
            try:
                accepted = self.client.request(rating, RatingAccepted, timeout=self.timeout_s)
            except RequestFailed as exc:
                if not exc.retry:
                    raise
                last = exc
                time.sleep(0.2)  # the contract's "pause before retrying"
                continue
            except RequestTimeout as exc:
                last = exc
                continue
            self.accepted.append(accepted)
            return accepted
        assert last is not None
        raise last
