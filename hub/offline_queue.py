"""The hall's queue as the hub knows it: what the hub decides from while the backend is away.

Three sources, in this order:

1. the backend's offline snapshot (GET /offline-snapshot: windows with their
   current ticket, the waiting tickets, the policy, the clerks' verifiers),
   fetched while the hub is online after event batches that touch tickets
   (at most every ~2 s) and whenever the hub goes online;
2. the backend events read after the snapshot (`apply_event`), so a ticket
   called in the last seconds before the link went down is never called twice;
3. what the hub did itself while it decided: tickets issued from its blocks
   (`add_offline_ticket`) and every window action (`hub.window_desk`).

The whole state is one JSON document in the HubStore (meta key
`offline_queue`), written in the same transaction as the outbox entry of the
action that changed it: a hub restarted during an outage keeps both, and a crash
never leaves an action applied but not queued (or the reverse).

Pure model, no I/O and no locking: `hub.window_desk.WindowDesk` owns it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from hallbus.callorder import ORDINARY, PRIORITY, QueuedTicket, WindowSeat, call_order, choose

log = logging.getLogger(__name__)

STATE_KEY: Final = "offline_queue"
# Offline tickets get order 10**12 + a local counter (the contract's tie-break: after
# every backend ticket id); offline call events get seq 10**12 + a local counter too.
LOCAL_BASE: Final = 10**12
_STANDING_NAMES: Final = {"priority": 0, "appointment": 1, "ordinary": 2}
# Events that can change what the snapshot says about tickets or windows.
TICKET_EVENTS: Final = frozenset(
    {
        "ticket_issued",
        "ticket_called",
        "ticket_recalled",
        "ticket_serving",
        "ticket_finished",
        "ticket_no_show",
        "ticket_transferred",
        "ticket_cancelled",
        "ticket_held",
        "ticket_resumed",
        "ticket_requeued",
        "window_state",
        "day_closed",
        "staff_changed",
    }
)


@dataclass(slots=True)
class Waiting:
    ticket: str
    category: str
    standing: int
    sort_at: datetime
    order: int
    target_window: str | None = None
    matter: dict[str, Any] | None = None
    no_show_count: int = 0

    def queued(self) -> QueuedTicket:
        return QueuedTicket(
            self.ticket, self.category, self.standing, self.sort_at, self.order, self.target_window
        )


@dataclass(slots=True)
class Seat:
    number: str
    name: str
    state: str = "closed"
    floor: int | None = None
    area: str | None = None
    groups: list[list[str]] = field(default_factory=list)
    ordinary_streak: int | None = None
    signed_in: str | None = None
    staff: dict[str, str] | None = None
    pause_reason: str | None = None
    current: str | None = None
    current_state: str | None = None  # "called" | "serving"
    called_at: datetime | None = None
    recall_count: int = 0
    current_record: dict[str, Any] | None = None  # the Waiting the current ticket was
    last_served: str | None = None
    last_served_matter: dict[str, Any] | None = None
    served: int = 0

    def seat(self) -> WindowSeat:
        return WindowSeat(self.number, tuple(tuple(g) for g in self.groups), self.ordinary_streak)


@dataclass(frozen=True, slots=True)
class ClerkRecord:
    employee_no: str
    name: str
    verifier: str
    windows: tuple[str, ...]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value)
    # The backend keeps UTC; on SQLite its times come back without an offset.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class OfflineQueue:
    """The hall's queue, windows and clerks as the hub last knew them."""

    def __init__(self) -> None:
        self.loaded = False
        self.taken_at: datetime | None = None
        self.service_day: str | None = None
        self.last_event_seq = 0
        self.timezone: str | None = None
        self.policy: dict[str, Any] = {}
        self.categories: dict[str, dict[str, Any]] = {}
        self.windows: dict[str, Seat] = {}
        self.waiting: dict[str, Waiting] = {}
        self.clerks: dict[str, ClerkRecord] = {}
        self.local_counter = 0  # order of offline tickets and seq of offline calls
        # Tickets called since the snapshot (by the hub or seen in events): a late
        # ticket_issued (an offline ticket uploaded during the replay) never puts one
        # back in line.
        self.handled: set[str] = set()

    # --------------------------------------------------------------- policy

    @property
    def ratio(self) -> int | None:
        value = self.policy.get("ordinary_per_preferred", 2)
        return int(value) if isinstance(value, int) else None

    @property
    def recall_limit(self) -> int:
        value = self.policy.get("recall_limit", 5)
        return int(value) if isinstance(value, int) else 5

    @property
    def auto_invite_rating(self) -> bool:
        return bool(self.policy.get("auto_invite_rating", True))

    @property
    def rating_timeout_seconds(self) -> int:
        value = self.policy.get("rating_timeout_seconds", 60)
        return int(value) if isinstance(value, int) else 60

    def next_local(self) -> int:
        self.local_counter += 1
        return LOCAL_BASE + self.local_counter

    # ------------------------------------------------------------- snapshot

    def load_snapshot(self, body: dict[str, Any]) -> None:
        """Replace everything by the backend's snapshot (raises KeyError/ValueError/
        TypeError on a body that breaks the contract; nothing is changed then)."""
        windows: dict[str, Seat] = {}
        for item in body.get("windows", []):
            number = str(item["number"])
            current = item.get("current") or None
            seat = Seat(
                number=number,
                name=str(item.get("name") or f"{number}号窗口"),
                state=str(item.get("state") or "closed"),
                floor=item.get("floor") if isinstance(item.get("floor"), int) else None,
                area=str(item["area"]) if item.get("area") else None,
                groups=[[str(p) for p in group] for group in item.get("groups") or []],
                ordinary_streak=item.get("ordinary_streak"),
                signed_in=item.get("signed_in") or None,
                staff=_staff(item.get("staff")),
                pause_reason=item.get("pause_reason") or None,
            )
            if isinstance(current, dict) and current.get("ticket"):
                seat.current = str(current["ticket"])
                seat.current_state = str(current.get("state") or "called")
                seat.called_at = _when(current.get("called_at"))
                seat.recall_count = int(current.get("recall_count") or 0)
                seat.current_record = {
                    "ticket": seat.current,
                    "category": str(current.get("category") or ""),
                    "matter": current.get("matter"),
                }
            old = self.windows.get(number)
            if old is not None:
                # What the hub counted itself; the backend's figures are in its reports.
                seat.served = old.served
                seat.last_served = old.last_served
                seat.last_served_matter = old.last_served_matter
            windows[number] = seat
        waiting: dict[str, Waiting] = {}
        for item in body.get("waiting", []):
            sort_at = _when(item.get("sort_at")) or _when(item.get("issued_at"))
            if sort_at is None:
                raise ValueError(f"waiting ticket {item.get('ticket')!r} without sort_at")
            ticket = str(item["ticket"])
            waiting[ticket] = Waiting(
                ticket=ticket,
                category=str(item["category"]),
                standing=int(item["standing"]),
                sort_at=sort_at,
                order=int(item["order"]),
                target_window=str(item["target_window"]) if item.get("target_window") else None,
                matter=item.get("matter") if isinstance(item.get("matter"), dict) else None,
            )
        clerks: dict[str, ClerkRecord] = {}
        for item in body.get("clerks", []):
            if not item.get("verifier"):
                continue
            clerks[str(item["employee_no"])] = ClerkRecord(
                employee_no=str(item["employee_no"]),
                name=str(item.get("name") or ""),
                verifier=str(item["verifier"]),
                windows=tuple(str(w) for w in item.get("windows") or []),
            )
        revoked = set(self.clerks) - set(clerks)
        if revoked:
            # Count only: an employee number is not personal data, but nothing needs it here.
            log.info("%s clerk(s) absent from the new snapshot: forgotten", len(revoked))
        self.windows = windows
        self.waiting = waiting
        self.clerks = clerks
        self.policy = dict(body.get("policy") or {})
        self.categories = {
            str(c["prefix"]): dict(c) for c in body.get("categories", []) if c.get("prefix")
        }
        self.taken_at = _when(body.get("taken_at"))
        self.service_day = str(body.get("service_day") or "") or None
        self.last_event_seq = int(body.get("last_event_seq") or 0)
        self.timezone = str(body.get("timezone") or "") or None
        self.handled = set()
        self.loaded = True

    # ---------------------------------------------------------------- events

    def apply_event(self, event: dict[str, Any]) -> None:
        """Fold one backend event in (only those after the snapshot)."""
        seq = int(event.get("seq") or 0)
        if seq <= self.last_event_seq or not self.loaded:
            return
        self.last_event_seq = seq
        kind = str(event.get("kind"))
        data = event.get("data") or {}
        if data.get("offline"):
            return  # the echo of an action the hub applied itself
        try:
            self._apply(kind, data, event)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("event %s (%s) not applied to the offline queue: %s", seq, kind, exc)

    def _apply(self, kind: str, data: dict[str, Any], event: dict[str, Any]) -> None:
        ticket = data.get("ticket")
        number = str(data["window"]) if data.get("window") is not None else None
        if kind == "ticket_issued" and isinstance(ticket, str) and self.unknown(ticket):
            at = _when(event.get("at"))
            if at is None:
                return
            standing = _STANDING_NAMES.get(str(data.get("standing")), ORDINARY)
            self.waiting[ticket] = Waiting(
                ticket=ticket,
                category=str(data.get("category") or ticket.rstrip("0123456789")),
                standing=standing,
                sort_at=at,
                order=int(data.get("ticket_id") or self.next_local()),
            )
        elif kind in ("ticket_called", "ticket_resumed") and number is not None:
            record = self.waiting.pop(str(ticket), None)
            self.handled.add(str(ticket))
            seat = self.windows.get(number)
            if seat is None:
                return
            self._leave_everywhere(str(ticket))
            seat.current = str(ticket)
            seat.current_state = "called" if kind == "ticket_called" else "serving"
            seat.called_at = _when(data.get("called_at"))
            seat.recall_count = 0
            seat.current_record = _record(record, str(ticket), data.get("category"))
        elif kind == "ticket_recalled" and number is not None:
            seat = self.windows.get(number)
            if seat is not None and seat.current == ticket:
                seat.recall_count = int(data.get("recall") or seat.recall_count + 1)
        elif kind == "ticket_serving" and number is not None:
            seat = self.windows.get(number)
            if seat is not None and seat.current == ticket:
                seat.current_state = "serving"
        elif kind in ("ticket_finished", "ticket_held", "ticket_transferred", "ticket_no_show"):
            for seat in self.windows.values():
                if seat.current == ticket:
                    if kind == "ticket_finished":
                        seat.served += 1
                        seat.last_served = seat.current
                    self._clear(seat)
            # A transferred or requeued ticket waits again; the next snapshot has its place.
        elif kind == "ticket_cancelled" and isinstance(ticket, str):
            self.waiting.pop(ticket, None)
        elif kind == "window_state" and number is not None:
            seat = self.windows.get(number)
            if seat is not None:
                seat.state = str(data.get("state") or seat.state)
                seat.pause_reason = data.get("reason") or None
                staff = _staff(data.get("staff"))
                seat.staff = staff
                seat.signed_in = staff["employee_no"] if staff else None

    def _leave_everywhere(self, ticket: str) -> None:
        for seat in self.windows.values():
            if seat.current == ticket:
                self._clear(seat)

    @staticmethod
    def _clear(seat: Seat) -> None:
        seat.current = None
        seat.current_state = None
        seat.called_at = None
        seat.recall_count = 0
        seat.current_record = None

    # --------------------------------------------------------- offline tickets

    def add_offline_ticket(
        self, ticket: str, category: str, issued_at: datetime, priority_kind: str | None
    ) -> None:
        """A ticket the hub issued from its block joins the queue (idempotent)."""
        if not self.unknown(ticket):
            return
        self.waiting[ticket] = Waiting(
            ticket=ticket,
            category=category,
            standing=PRIORITY if priority_kind else ORDINARY,
            sort_at=issued_at,
            order=self.next_local(),
        )

    def unknown(self, ticket: str) -> bool:
        """Neither waiting, nor at a window, nor called since the snapshot."""
        return (
            ticket not in self.waiting
            and ticket not in self.handled
            and all(s.current != ticket for s in self.windows.values())
        )

    # ------------------------------------------------------------ call order

    def eligible(self, number: str) -> list[Waiting]:
        seat = self.windows[number]
        prefixes = {p for group in seat.groups for p in group}
        return [
            w
            for w in self.waiting.values()
            if w.target_window == number or (w.target_window is None and w.category in prefixes)
        ]

    def choose(self, number: str, now: datetime) -> tuple[Waiting | None, bool]:
        seat = self.windows[number]
        candidates = {w.ticket: w for w in self.eligible(number)}
        picked, as_ordinary = choose(
            seat.seat(), [w.queued() for w in candidates.values()], ratio=self.ratio, now=now
        )
        return (candidates[picked.ticket] if picked else None), as_ordinary

    def next_up(self, number: str, now: datetime, limit: int = 5) -> list[str]:
        seat = self.windows[number]
        order = call_order(
            seat.seat(),
            [w.queued() for w in self.eligible(number)],
            ratio=self.ratio,
            now=now,
            limit=limit,
        )
        return [t.ticket for t in order]

    # ---------------------------------------------------------- persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "service_day": self.service_day,
            "last_event_seq": self.last_event_seq,
            "timezone": self.timezone,
            "policy": self.policy,
            "categories": self.categories,
            "windows": [_seat_json(s) for s in self.windows.values()],
            "waiting": [_waiting_json(w) for w in self.waiting.values()],
            "clerks": [asdict(c) for c in self.clerks.values()],
            "local_counter": self.local_counter,
            "handled": sorted(self.handled),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OfflineQueue:
        queue = cls()
        queue.loaded = bool(data.get("loaded"))
        queue.taken_at = _when(data.get("taken_at"))
        queue.service_day = data.get("service_day")
        queue.last_event_seq = int(data.get("last_event_seq") or 0)
        queue.timezone = data.get("timezone")
        queue.policy = dict(data.get("policy") or {})
        queue.categories = dict(data.get("categories") or {})
        for item in data.get("windows", []):
            item = dict(item)
            item["called_at"] = _when(item.get("called_at"))
            seat = Seat(**item)
            queue.windows[seat.number] = seat
        for item in data.get("waiting", []):
            item = dict(item)
            item["sort_at"] = _when(item["sort_at"])
            waiting = Waiting(**item)
            queue.waiting[waiting.ticket] = waiting
        for item in data.get("clerks", []):
            clerk = ClerkRecord(
                employee_no=item["employee_no"],
                name=item["name"],
                verifier=item["verifier"],
                windows=tuple(item["windows"]),
            )
            queue.clerks[clerk.employee_no] = clerk
        queue.local_counter = int(data.get("local_counter") or 0)
        queue.handled = {str(t) for t in data.get("handled") or []}
        return queue


def _staff(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict) and value.get("name") and value.get("employee_no"):
        return {"name": str(value["name"]), "employee_no": str(value["employee_no"])}
    return None


def _record(record: Waiting | None, ticket: str, category: Any) -> dict[str, Any]:
    if record is not None:
        return _waiting_json(record)
    return {"ticket": ticket, "category": str(category or ticket.rstrip("0123456789"))}


def _waiting_json(waiting: Waiting) -> dict[str, Any]:
    data = asdict(waiting)
    data["sort_at"] = waiting.sort_at.isoformat()
    return data


def _seat_json(seat: Seat) -> dict[str, Any]:
    data = asdict(seat)
    data["called_at"] = seat.called_at.isoformat() if seat.called_at else None
    return data


def waiting_from_record(
    record: dict[str, Any] | None, ticket: str, at: datetime, order: int
) -> Waiting:
    """A current ticket's record back as a waiting ticket (transfer, no-show requeue).

    A ticket that was already called when the snapshot was taken has no place in
    line in it: it waits as an ordinary ticket from `at`, after every known ticket."""
    data = dict(record or {})
    if "sort_at" in data and "order" in data:
        data["sort_at"] = _when(data["sort_at"]) or at
        return Waiting(**data)
    return Waiting(
        ticket=ticket,
        category=str(data.get("category") or ticket.rstrip("0123456789")),
        standing=ORDINARY,
        sort_at=at,
        order=order,
        matter=data.get("matter") if isinstance(data.get("matter"), dict) else None,
    )
