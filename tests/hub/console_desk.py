"""A small in-memory `WindowDesk` for the front ends' tests (hub console, caller boxes)
and the console's screenshots.

It is not the hub's desk (hub/window_desk.py, integration-tested elsewhere): it keeps a
plain FIFO queue so a front end can be checked on its own — that every action reaches
the desk with the clerk's employee number (if any), window and `via`, that refusals
show, that the mode decides between this console and the backend's, that a slow or
failing desk stalls nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from argon2 import PasswordHasher

from hub.window_desk import (
    Clerk,
    DeskAction,
    DeskRefused,
    DeskResult,
    FrontEndDesk,
    HallMode,
    WindowView,
)

# Cheap Argon2id parameters: the console verifies whatever parameters the hash names,
# and the tests sign in many times.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "window-pass-2026"
BACKEND_CONSOLE = "http://backend.example:8000/console/"


@dataclass
class Call:
    window: str
    action: DeskAction
    employee_no: str | None
    via: str
    target_window: str | None
    reason: str | None


@dataclass
class Seat:
    name: str
    state: str = "open"
    current: str | None = None
    current_state: str | None = None
    recall_count: int = 0
    served: int = 0
    transfers: list[str] = field(default_factory=list)


class MemoryDesk:
    """Thread-safe: the console's server answers on several threads."""

    recall_limit = 3

    def __init__(
        self, *, windows: tuple[str, ...] = ("1", "2", "3"), waiting: Iterable[str] = ()
    ) -> None:
        self._lock = threading.Lock()
        self._mode = HallMode.OFFLINE
        self.pending_count = 0
        # The windows by number; a test may change a seat or add one (a snapshot came).
        self.seats = {w: Seat(name=f"{w}号窗口") for w in windows}
        self.waiting: list[str] = list(waiting)
        self.clerks: dict[str, Clerk] = {}
        self.calls: list[Call] = []
        self.sign_ins: list[tuple[str, str]] = []
        self.refuse_next: DeskRefused | None = None  # raised by the next act or sign-in
        self.fail_with: Exception | None = None  # raised by every act until cleared
        self.not_ok = False  # act answers DeskResult(ok=False), e.g. an online conflict
        # Set to hold act() (a backend call that hangs) until released.
        self.gate: threading.Event | None = None
        self.entered = threading.Event()  # act() was called

    # -- test controls
    def close(self, window: str) -> None:
        with self._lock:
            self.seats[window].state = "closed"

    def set_mode(self, mode: HallMode) -> None:
        with self._lock:
            self._mode = mode

    def add_clerk(
        self, employee_no: str, name: str, windows: tuple[str, ...], password: str = PASSWORD
    ) -> Clerk:
        clerk = Clerk(employee_no, name, FAST_HASHER.hash(password), windows)
        with self._lock:
            self.clerks[employee_no] = clerk
        return clerk

    def revoke(self, employee_no: str) -> None:
        with self._lock:
            self.clerks.pop(employee_no, None)

    def pending(self) -> int:
        return self.pending_count

    # -- the WindowDesk interface
    def mode(self) -> HallMode:
        with self._lock:
            return self._mode

    def windows(self) -> list[str]:
        return list(self.seats)

    def clerk(self, employee_no: str) -> Clerk | None:
        with self._lock:
            return self.clerks.get(employee_no)

    def backend_console_url(self) -> str:
        return BACKEND_CONSOLE

    def view(self, window: str) -> WindowView:
        with self._lock:
            return self._view(window)

    def _view(self, window: str) -> WindowView:
        seat = self.seats.get(window)
        if seat is None:
            raise DeskRefused("unknown_window", f"没有 {window} 号窗口 / no window {window}")
        queue = seat.transfers + self.waiting
        return WindowView(
            window=window,
            name=seat.name,
            state=seat.state,
            current=seat.current,
            current_state=seat.current_state,
            recall_count=seat.recall_count,
            recall_limit=self.recall_limit,
            waiting=len(queue),
            next_up=tuple(queue[:5]),
            served=seat.served,
            mode=self._mode,
        )

    def sign_in(self, window: str, employee_no: str) -> WindowView:
        """As the hub's desk: a clerk signing in opens a closed window."""
        with self._lock:
            self.sign_ins.append((window, employee_no))
            if self.refuse_next is not None:
                refused, self.refuse_next = self.refuse_next, None
                raise refused
            seat = self.seats[window]
            if seat.state == "closed":
                seat.state = "open"
            return self._view(window)

    def act(
        self,
        window: str,
        action: DeskAction,
        *,
        employee_no: str | None,
        via: str,
        target_window: str | None = None,
        reason: str | None = None,
    ) -> DeskResult:
        self.entered.set()
        gate = self.gate
        if gate is not None:
            gate.wait(10)
        with self._lock:
            self.calls.append(Call(window, action, employee_no, via, target_window, reason))
            if self.refuse_next is not None:
                refused, self.refuse_next = self.refuse_next, None
                raise refused
            if self.fail_with is not None:
                raise self.fail_with
            seat = self.seats.get(window)
            if seat is None:
                raise DeskRefused("unknown_window", f"没有 {window} 号窗口 / no window {window}")
            ticket = self._apply(seat, action, target_window)
            message = action.done()
            return DeskResult(not self.not_ok, ticket, message, self._view(window))

    def _apply(self, seat: Seat, action: DeskAction, target: str | None) -> str | None:
        if action is DeskAction.CALL:
            if seat.state != "open":
                raise DeskRefused("window_closed", "窗口未在服务 / the window is not open")
            if seat.current is not None:
                seat.served += 1
            queue = seat.transfers or self.waiting
            if not queue:
                seat.current = seat.current_state = None
                raise DeskRefused("nobody_waiting", "暂无等候 / nobody is waiting")
            seat.current, seat.current_state, seat.recall_count = queue.pop(0), "called", 0
            return seat.current
        if action is DeskAction.PAUSE:
            seat.state = "paused"
            return None
        if action is DeskAction.RESUME:
            seat.state = "open"
            return None
        if action is DeskAction.INVITE_RATING:
            return seat.current
        if seat.current is None:
            raise DeskRefused("no_current_ticket", "当前没有号票 / no current ticket")
        ticket = seat.current
        if action is DeskAction.RECALL:
            if seat.recall_count >= self.recall_limit:
                raise DeskRefused("recall_limit", "重呼次数已满 / recall limit reached")
            seat.recall_count += 1
        elif action is DeskAction.START:
            seat.current_state = "serving"
        elif action in (DeskAction.FINISH, DeskAction.NO_SHOW, DeskAction.TRANSFER):
            if action is DeskAction.FINISH:
                seat.served += 1
            if action is DeskAction.TRANSFER:
                assert target is not None
                self.seats[target].transfers.append(ticket)
            seat.current = seat.current_state = None
        return ticket


def _memory_desk_is_a_front_end_desk(desk: MemoryDesk) -> FrontEndDesk:
    return desk  # mypy: the fake has every method a front end calls
