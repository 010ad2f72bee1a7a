"""The window desk's types (issue 15 contract), for the hub console's branch only.

The hubcore helper writes the real `hub/window_desk.py` (the `WindowDesk` that decides
the hall's queue offline); at merge that module replaces this file. It holds ONLY the
contract's type definitions, so the console can be built and tested against them.
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
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
