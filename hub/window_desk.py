"""The window desk's types, as the issue 15 contract defines them.

PLACEHOLDER for the caller branch only: the hubcore branch writes the real
``hub/window_desk.py`` (with ``WindowDesk``); at merge that module replaces this one.
Only the contract's type definitions are here, so ``hub/callers.py`` can be written
and type-checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HallMode(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    REPLAYING = "replaying"


class DeskAction(StrEnum):
    CALL = "call"
    RECALL = "recall"
    NO_SHOW = "no_show"
    START = "start"
    FINISH = "finish"
    PAUSE = "pause"
    RESUME = "resume"
    INVITE_RATING = "invite_rating"
    TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class Clerk:
    employee_no: str
    name: str
    verifier: str
    windows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WindowView:
    window: str
    name: str
    state: str
    current: str | None
    current_state: str | None
    recall_count: int
    recall_limit: int
    waiting: int
    next_up: tuple[str, ...]
    served: int
    mode: HallMode


@dataclass(frozen=True, slots=True)
class DeskResult:
    ok: bool
    ticket: str | None
    message: str
    view: WindowView


class DeskRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
