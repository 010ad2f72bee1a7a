"""The windows' caller key boxes (呼叫器) at the hub: key presses become desk actions.

The hub owns one RS-485 bus of boxes (devices.callerbox; HubConfig.callers maps each
box address to a window). A key pressed on the box at address A acts on window
W = boxes[A] through the hub's :class:`~hub.window_desk.WindowDesk`, exactly as a
console button would, with ``via="caller_box"`` and no employee number: online the
desk relays it to the backend (as the clerk signed in at W), offline the hub applies
it itself. Then the box's display shows the outcome. It is decided by the action,
not read back from the window view, because online the hub's view of the window
follows the backend's events a moment later:

========================  ========  ===============================================
outcome                   display   when
========================  ========  ===============================================
ticket called             A012      call: the ticket now called
no ticket called          ``--``    call with nobody waiting (the current ticket, if
                                    any, was finished), or refused: nobody_waiting
ticket recalled           A012      recall
window holds none         ``--``    finish, no-show, transfer done
window paused             PAUS      pause done; the key resumes a paused or resting
                                    window (by the window view's state)
window state              A012/--   evaluate, resume done: the ticket the window holds
unknown window            E1        unknown_window (box mapped to a window the hub
                                    does not know: a configuration fault)
recall limit reached      E2        recall_limit
no current ticket         E3        no_current_ticket
window not open           E4        window_closed, not_paused
nobody (valid) signed in  E5        not_signed_in, unknown_clerk, not_your_window
bad transfer target       E6        no/invalid digits, this window, a window not in
                                    the hall (checked here: desk not asked), or
                                    bad_target
finish first              E7        finish_first (pause while holding a ticket)
hub failure               E8        the desk raised something else (logged)
other refusal             E9        any other code (e.g. a backend error online),
                                    or a result not ok (an online conflict)
========================  ========  ===============================================

At start, when the line comes back and on :meth:`CallerBridge.refresh` a box shows
its window's state: PAUS when paused or resting, else the ticket held, else ``--``
(also ``--`` while the desk knows no windows at all: before the hub's first snapshot).

Every refusal is logged with the window, the key and the desk's code (no personal
data: ticket numbers and window numbers only) and changes nothing.

Presses of one box are handled one at a time, in order, on that box's own thread
(devices.callerbox), so a slow backend call delays neither the echoes nor the other
windows' boxes. :meth:`CallerBridge.refresh` re-shows a window's state when something
else (a console) changed it; the hub should call it on window changes it sees.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping

from devices.callerbox import (
    MAX_DISPLAY_LENGTH,
    CallerBus,
    CallerBusSettings,
    CallerKey,
    CallerKeyPress,
)
from devices.seriallink import DeviceHealth, HealthCallback
from hallbus.config import CallerBusConfig
from hub.window_desk import DeskAction, DeskRefused, DeskResult, FrontEndDesk, WindowView

log = logging.getLogger(__name__)

VIA = "caller_box"

DISPLAY_IDLE = "--"
DISPLAY_PAUSED = "PAUS"
DISPLAY_BAD_TARGET = "E6"
DISPLAY_DESK_FAILURE = "E8"
DISPLAY_OTHER_REFUSAL = "E9"
REFUSAL_DISPLAY: dict[str, str] = {
    "nobody_waiting": DISPLAY_IDLE,
    "unknown_window": "E1",
    "recall_limit": "E2",
    "no_current_ticket": "E3",
    "window_closed": "E4",
    "not_paused": "E4",
    "not_signed_in": "E5",
    "unknown_clerk": "E5",
    "not_your_window": "E5",
    "bad_target": DISPLAY_BAD_TARGET,
    "finish_first": "E7",
}
# Window states (backend WindowState values) in which the pause key resumes.
_PAUSED_STATES = frozenset({"paused", "resting"})

KEY_ACTIONS: dict[CallerKey, DeskAction] = {
    CallerKey.CALL: DeskAction.CALL,
    CallerKey.RECALL: DeskAction.RECALL,
    CallerKey.EVALUATE: DeskAction.INVITE_RATING,
    CallerKey.TRANSFER: DeskAction.TRANSFER,
    CallerKey.NO_SHOW: DeskAction.NO_SHOW,
    CallerKey.FINISH: DeskAction.FINISH,
    # CallerKey.PAUSE toggles: PAUSE or RESUME by the window's state.
}


def display_text(text: str | None) -> str:
    """``text`` as the box can show it (a ticket number is ASCII); E9 if it cannot."""
    if not text:
        return DISPLAY_IDLE
    if len(text) > MAX_DISPLAY_LENGTH or any(not 0x20 <= ord(char) <= 0x7E for char in text):
        return DISPLAY_OTHER_REFUSAL
    return text


def display_for_view(view: WindowView) -> str:
    """What a box shows for its window's state: PAUS, the ticket held, or --."""
    if view.state in _PAUSED_STATES:
        return DISPLAY_PAUSED
    return display_text(view.current)


def _display_after(action: DeskAction, result: DeskResult) -> str:
    if action is DeskAction.CALL:
        return display_text(result.ticket)
    if action is DeskAction.RECALL:
        return display_text(result.ticket or result.view.current)
    if action in (DeskAction.FINISH, DeskAction.NO_SHOW, DeskAction.TRANSFER):
        return DISPLAY_IDLE
    if action is DeskAction.PAUSE:
        return DISPLAY_PAUSED
    return display_text(result.view.current)


class _BadTarget(Exception):
    pass


class CallerBridge:
    """Turns the presses on the hub's caller boxes into WindowDesk actions."""

    def __init__(
        self,
        desk: FrontEndDesk,
        settings: CallerBusSettings,
        boxes: Mapping[int, str],
        *,
        on_health: HealthCallback | None = None,
    ) -> None:
        if frozenset(boxes) != settings.addresses:
            raise ValueError(
                f"boxes {sorted(boxes)} and bus addresses {sorted(settings.addresses)} differ"
            )
        self._desk = desk
        self._boxes = dict(boxes)
        self._on_health = on_health
        self._health_ok: bool | None = None
        self._health_lock = threading.Lock()
        self.bus = CallerBus(settings, on_key=self._on_key, on_health=self._health_changed)

    @classmethod
    def from_config(
        cls,
        desk: FrontEndDesk,
        config: CallerBusConfig,
        *,
        on_health: HealthCallback | None = None,
    ) -> CallerBridge:
        settings = CallerBusSettings(
            port=config.port,
            baudrate=config.baudrate,
            addresses=frozenset(config.boxes),
            repeat_guard_ms=config.repeat_guard_ms,
        )
        return cls(desk, settings, config.boxes, on_health=on_health)

    @property
    def boxes(self) -> dict[int, str]:
        return dict(self._boxes)

    def start(self) -> None:
        self.bus.start()
        self.refresh()

    def stop(self, timeout: float = 2.0) -> None:
        self.bus.stop(timeout)

    def refresh(self, window: str | None = None) -> None:
        """Re-show the state of ``window`` (None: every window) on its box; returns at once."""
        for address, boxed in self._boxes.items():
            if window is None or boxed == window:
                self.bus.post(address, functools.partial(self._show_state, address))

    # -- on a box's delivery thread -----------------------------------------------------
    def _on_key(self, press: CallerKeyPress) -> None:
        window = self._boxes[press.address]
        try:
            text = self._act(window, press)
        except _BadTarget as problem:
            log.info(
                "caller box %s (window %s): transfer refused: %s", press.address, window, problem
            )
            text = DISPLAY_BAD_TARGET
        except DeskRefused as refused:
            log.info(
                "caller box %s (window %s): %s refused: %s",
                press.address,
                window,
                press.key.name.lower(),
                refused.code,
            )
            text = REFUSAL_DISPLAY.get(refused.code, DISPLAY_OTHER_REFUSAL)
        except Exception:
            log.exception(
                "caller box %s (window %s): %s failed", press.address, window, press.key.name
            )
            text = DISPLAY_DESK_FAILURE
        self._show(press.address, text)

    def _act(self, window: str, press: CallerKeyPress) -> str:
        target: str | None = None
        if press.key is CallerKey.PAUSE:
            state = self._desk.view(window).state
            action = DeskAction.RESUME if state in _PAUSED_STATES else DeskAction.PAUSE
        else:
            action = KEY_ACTIONS[press.key]
        if action is DeskAction.TRANSFER:
            target = self._transfer_target(window, press.target_window)
        result = self._desk.act(window, action, employee_no=None, via=VIA, target_window=target)
        if not result.ok:
            log.info(
                "caller box %s (window %s): %s not done: %s",
                press.address,
                window,
                action.value,
                result.message,
            )
            return DISPLAY_OTHER_REFUSAL
        log.info(
            "caller box %s (window %s): %s done (ticket %s)",
            press.address,
            window,
            action.value,
            result.ticket or "-",
        )
        return _display_after(action, result)

    def _transfer_target(self, window: str, target: str | None) -> str:
        if target is None:
            raise _BadTarget("no valid window number was typed")
        if target == window:
            raise _BadTarget(f"window {target} is this window")
        if target not in self._desk.windows():
            raise _BadTarget(f"window {target} is not a window of this hall")
        return target

    def _show_state(self, address: int) -> None:
        window = self._boxes[address]
        try:
            text = display_for_view(self._desk.view(window))
        except DeskRefused as refused:
            if refused.code == "unknown_window" and not self._desk.windows():
                # The desk knows no hall yet (no snapshot): not a configuration fault.
                text = DISPLAY_IDLE
            else:
                log.warning("caller box %s (window %s): %s", address, window, refused.code)
                text = REFUSAL_DISPLAY.get(refused.code, DISPLAY_OTHER_REFUSAL)
        except Exception:
            log.exception("caller box %s (window %s): reading the window failed", address, window)
            text = DISPLAY_DESK_FAILURE
        self._show(address, text)

    def _show(self, address: int, text: str) -> None:
        if not self.bus.show(address, text):
            log.warning("caller box %s did not acknowledge %r", address, text)

    # -- health, from the bus reader ----------------------------------------------------
    def _health_changed(self, health: DeviceHealth) -> None:
        with self._health_lock:
            recovered = health.ok and self._health_ok is False
            self._health_ok = health.ok
        if self._on_health is not None:
            self._on_health(health)
        if recovered:
            # Whatever a console did while the line was down is not on the displays yet.
            self.refresh()
