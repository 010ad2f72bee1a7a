"""The call order at a window, as a pure function: what call-next would call.

The rule is the hall policy's, documented once in backend/services/policy.py (the
module docstring) and applied by the backend in `backend.services.queue._choose`.
This module applies the same rule to a list of waiting tickets, without a database,
so the hall hub can call tickets while the backend is unreachable (issue 15) and
pick the ticket the backend would have picked from what the hub knows: its last
offline snapshot plus the tickets it issued offline. A test
(tests/hallbus/test_callorder.py) compares the two on the same queues, so a change
to one side that is not made to the other fails. docs/callorder.md describes it for
the hub's operators.

How the backend applies the rule, step by step (and so this module):

1. Sources, in order: tickets transferred to this very window (any category),
   then the window's categories grouped by weight, highest weight first. A ticket
   transferred to another window belongs to no source of this window; one
   transferred to this window is in the first source only.
2. Ratio (`ordinary_per_preferred` = N): when N is set and the window's
   `ordinary_streak` is not None and below N, the first source that has an
   ordinary ticket gives its first one (by sort_at, then order). The streak is None
   from the window's opening until its first call, so that first call takes a
   waiting priority ticket first.
3. Otherwise the best standing wins: priority, then appointments whose slot has
   begun (sort_at <= now), then ordinary. Between sources a later source is only
   asked for a strictly better standing than the best found so far, so at equal
   standing the earlier source (transfers, then higher weight) wins; within one
   source the order is sort_at, then order (the backend's ticket id).
4. Appointments checked in before their slot (sort_at > now) are taken only when
   nothing else of any standing waits in any source: the first source with one
   gives the one with the earliest slot. It counts as an ordinary call.

A call that counts as ordinary adds one to the streak (capped at 1000), any other
call sets it to 0 (see `next_streak`); a call that finds nobody leaves it as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

PRIORITY, APPOINTMENT, ORDINARY = 0, 1, 2
STANDINGS = (PRIORITY, APPOINTMENT, ORDINARY)
# The backend caps the streak so the column never grows without bound.
STREAK_CAP = 1000


@dataclass(frozen=True, slots=True)
class QueuedTicket:
    """A waiting ticket as the call order sees it (the offline snapshot's fields)."""

    ticket: str  # display number "A013"
    category: str  # the queue category's prefix
    standing: int  # PRIORITY, APPOINTMENT or ORDINARY
    sort_at: datetime  # aware; its place in line (an appointment: its slot start)
    order: int  # backend ticket id; offline tickets: 10**12 + local sequence
    target_window: str | None = None  # transferred to this window number

    def __post_init__(self) -> None:
        # A wrong field would silently reorder the hall's queue: refuse it here.
        if not self.ticket:
            raise ValueError("ticket number is empty")
        if not self.category:
            raise ValueError(f"ticket {self.ticket}: category prefix is empty")
        if self.standing not in STANDINGS:
            raise ValueError(f"ticket {self.ticket}: standing {self.standing!r} is not 0, 1 or 2")
        if self.sort_at.tzinfo is None or self.sort_at.utcoffset() is None:
            raise ValueError(f"ticket {self.ticket}: sort_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class WindowSeat:
    """What the call order needs to know of the window that calls."""

    window: str  # window number
    groups: tuple[tuple[str, ...], ...]  # category prefixes by weight, highest first
    ordinary_streak: int | None  # None from opening until the first call

    def __post_init__(self) -> None:
        if self.ordinary_streak is not None and self.ordinary_streak < 0:
            raise ValueError(f"window {self.window}: ordinary_streak must not be negative")


def next_streak(streak: int | None, as_ordinary: bool) -> int:
    """The window's streak after a call (as `queue.call_next` stores it)."""
    return min((streak or 0) + 1, STREAK_CAP) if as_ordinary else 0


def _check(ratio: int | None, now: datetime) -> None:
    if ratio is not None and ratio < 1:
        raise ValueError(f"ordinary_per_preferred must be None or at least 1, not {ratio}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _sources(seat: WindowSeat, waiting: Iterable[QueuedTicket]) -> list[list[QueuedTicket]]:
    """The window's sources in the order call-next asks them (step 1)."""
    source_of: dict[str, int] = {}
    for index, group in enumerate(seat.groups, start=1):
        for prefix in group:
            source_of.setdefault(prefix, index)  # a prefix in two groups: the first wins
    sources: list[list[QueuedTicket]] = [[] for _ in range(len(seat.groups) + 1)]
    for ticket in waiting:
        if ticket.target_window is not None:
            if ticket.target_window == seat.window:
                sources[0].append(ticket)
        elif ticket.category in source_of:
            sources[source_of[ticket.category]].append(ticket)
    return sources


def _place(ticket: QueuedTicket) -> tuple[datetime, int]:
    return ticket.sort_at, ticket.order


def serves(seat: WindowSeat, ticket: QueuedTicket) -> bool:
    """Whether the window can call this ticket at all (transferred to it, or of a
    category it serves and not transferred elsewhere)."""
    if ticket.target_window is not None:
        return ticket.target_window == seat.window
    return any(ticket.category in group for group in seat.groups)


def _choose(
    seat: WindowSeat, sources: Sequence[list[QueuedTicket]], ratio: int | None, now: datetime
) -> tuple[QueuedTicket | None, bool]:
    streak = seat.ordinary_streak
    if ratio is not None and streak is not None and streak < ratio:
        # Fewer than N ordinary calls since the last preferred one: ordinary first.
        for source in sources:
            ordinary = [t for t in source if t.standing == ORDINARY]
            if ordinary:
                return min(ordinary, key=_place), True
    best: QueuedTicket | None = None
    for source in sources:
        heads = [
            t
            for t in source
            if (t.standing != APPOINTMENT or t.sort_at <= now)
            and (best is None or t.standing < best.standing)
        ]
        if heads:
            best = min(heads, key=lambda t: (t.standing, t.sort_at, t.order))
            if best.standing == PRIORITY:
                break
    if best is not None:
        return best, best.standing == ORDINARY
    # Nobody else waits: an appointment checked in before its slot may come early.
    for source in sources:
        early = [t for t in source if t.standing == APPOINTMENT and t.sort_at > now]
        if early:
            return min(early, key=_place), True
    return None, False


def choose(
    seat: WindowSeat, waiting: Iterable[QueuedTicket], *, ratio: int | None, now: datetime
) -> tuple[QueuedTicket | None, bool]:
    """The ticket call-next would call, and whether it counts as ordinary for the ratio
    (so the caller sets streak = min(streak+1, 1000) if True else 0: `next_streak`).
    `waiting` may hold tickets of the whole hall; those the window cannot call are
    left out. (None, False) when the window has nobody to call."""
    _check(ratio, now)
    return _choose(seat, _sources(seat, waiting), ratio, now)


def call_order(
    seat: WindowSeat,
    waiting: Iterable[QueuedTicket],
    *,
    ratio: int | None,
    now: datetime,
    limit: int = 5,
) -> list[QueuedTicket]:
    """The next `limit` tickets in the order successive calls would take them (at
    `now`, with nothing issued meanwhile), the streak following each call."""
    _check(ratio, now)
    if limit < 0:
        raise ValueError(f"limit must not be negative, not {limit}")
    sources = _sources(seat, waiting)
    taken: list[QueuedTicket] = []
    while len(taken) < limit:
        ticket, as_ordinary = _choose(seat, sources, ratio, now)
        if ticket is None:
            break
        taken.append(ticket)
        for source in sources:
            # By identity: two equal tickets in the input are two tickets.
            index = next((i for i, t in enumerate(source) if t is ticket), None)
            if index is not None:
                del source[index]
                break
        seat = WindowSeat(seat.window, seat.groups, next_streak(seat.ordinary_streak, as_ordinary))
    return taken
