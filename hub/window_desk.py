"""The hall's window desk: who decides the queue, and window actions through an outage.

Exactly one side decides the hall's queue at a time (docs/hub.md, "Calling
through an outage"):

- online: the backend. A key press (hub console, caller key box) is relayed to
  POST /window-actions with offline false; the backend calls, the hub relays
  its events to the displays as always.
- offline: the backend cannot be reached (BackendReachability). The hub applies
  every action to its offline queue (hub.offline_queue: the last snapshot, the
  events after it, the tickets it issued), queues it in the outbox (kind
  `action`, the POST /window-actions body with offline true, the original `at`
  and an `action_id`) in the same transaction as the queue state, and feeds the
  display model with events in the backend's shape: window and hall displays,
  announcers and evaluators get what they get online.
- replaying: the backend answers again but the outbox is not empty. The hub
  still decides (kiosk tickets from the blocks, ratings queued, actions local)
  until the replay has drained the outbox, and tells the backend so (PUT
  /hub-state) before the first entry is replayed: the backend refuses staff
  window actions of the hall meanwhile (409 hall_replaying). Then the hub posts
  `online`, reloads the displays and the snapshot from the backend, and relays.

Offline calls are announced with seq = 10**12 + a counter persisted with the
queue. Announcers (displays.voice) and the simulated hall display drop a call
whose seq they have seen (a QoS 1 redelivery); backend event seqs count from 1
and never come near 10**12, so an offline call is never taken for a backend
call (nor the reverse), across hub restarts too. The backend's replayed copies
of the hub's calls come back through the event reader marked data.offline: they
are not announced again (hub.display).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol

from hub.backend import BackendClient, BackendRejected, BackendUnavailable
from hub.metrics import HubMetrics
from hub.offline import KIND_ACTION, KIND_TICKET
from hub.offline_queue import (
    STATE_KEY,
    TICKET_EVENTS,
    OfflineQueue,
    Seat,
    Waiting,
    waiting_from_record,
)
from hub.reachability import BackendReachability
from hub.store import HubStore

log = logging.getLogger(__name__)

SNAPSHOT_MIN_INTERVAL_S: Final = 2.0
SNAPSHOT_RETRY_S: Final = 30.0
HUB_STATE_HEARTBEAT_S: Final = 60.0
DEFAULT_PAUSE_REASON: Final = "暂停服务"
# A key press relayed online waits at most this long for the backend, then is
# applied locally (the press is never lost; its action_id keeps it single).
ONLINE_ACT_TIMEOUT_S: Final = 3.0
RECENT_EVENTS: Final = 500


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

    @property
    def label(self) -> str:
        """What the button says (the backend console's words)."""
        return _ACTION_LABELS[self]

    def done(self, ticket: str | None = None) -> str:
        """The console's line after the action succeeded, e.g. "办结 A012 完成 / finish done"."""
        chinese, english = self.label.split(" / ")
        number = f" {ticket}" if ticket else ""
        return f"{chinese}{number} 完成 / {english}{number} done"


_ACTION_LABELS: dict[DeskAction, str] = {
    DeskAction.CALL: "叫号 / call",
    DeskAction.RECALL: "重呼 / recall",
    DeskAction.NO_SHOW: "过号 / no-show",
    DeskAction.START: "开始办理 / start",
    DeskAction.FINISH: "办结 / finish",
    DeskAction.PAUSE: "暂停服务 / pause",
    DeskAction.RESUME: "恢复服务 / resume",
    DeskAction.INVITE_RATING: "邀请评价 / invite rating",
    DeskAction.TRANSFER: "转移 / transfer",
}


@dataclass(frozen=True, slots=True)
class Clerk:
    """A clerk who may sign in at the hub (from the offline snapshot)."""

    employee_no: str
    name: str
    verifier: str  # the Argon2id password hash as the backend stores it
    windows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WindowView:
    """What a console shows for one window."""

    window: str
    name: str
    state: str  # backend WindowState value
    current: str | None
    current_state: str | None  # "called" | "serving" | None
    recall_count: int
    recall_limit: int
    waiting: int  # tickets this window could call
    next_up: tuple[str, ...]  # next ≤5 in the order call will use
    served: int  # finished at this window today (known to the hub)
    mode: HallMode


@dataclass(frozen=True, slots=True)
class DeskResult:
    ok: bool
    ticket: str | None
    message: str  # "中文 / English"
    view: WindowView


class DeskRefused(Exception):
    """A window action refused; nothing was changed. `code`: unknown_window,
    nobody_waiting, no_current_ticket, recall_limit, window_closed,
    use_backend_console, not_signed_in, unknown_clerk, not_your_window,
    finish_first, not_paused, bad_target, or a backend error code online."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class FrontEndDesk(Protocol):
    """What a front end of the desk (the hub console, the caller key boxes) calls.

    The one declaration of that interface: :class:`WindowDesk` satisfies it (checked
    by mypy below, ``_window_desk_is_a_front_end_desk``), and so do the tests' fakes.
    """

    def mode(self) -> HallMode: ...

    def windows(self) -> list[str]: ...

    def view(self, window: str) -> WindowView: ...

    def clerk(self, employee_no: str) -> Clerk | None: ...

    def backend_console_url(self) -> str: ...

    def act(
        self,
        window: str,
        action: DeskAction,
        *,
        employee_no: str | None,
        via: str,
        target_window: str | None = None,
        reason: str | None = None,
    ) -> DeskResult: ...


class DisplayFeed(Protocol):
    """The event reader's side the desk uses (hub.events.EventReader)."""

    def apply_local(self, events: list[dict[str, Any]]) -> None: ...

    def set_hall_mode(self, mode: str | None, *, hub_decides: bool) -> None: ...

    def seed_windows(self, seats: list[dict[str, Any]]) -> None: ...

    def rebuild_now(self) -> None: ...


@dataclass(slots=True)
class _Applied:
    ok: bool
    ticket: str | None
    message: str
    events: list[dict[str, Any]]
    payload: dict[str, Any] | None  # the outbox entry; None: nothing for the backend


def _uid() -> str:
    return uuid.uuid4().hex


def _natural(number: str) -> tuple[int, str]:
    return (int(number), "") if number.isdigit() else (10**9, number)


class WindowDesk:
    """The hub's window desk; thread-safe. `start()` runs thread `hub-desk` (snapshot
    refresh, PUT /hub-state); mode changes come from the reachability and the replay."""

    def __init__(
        self,
        *,
        device_id: str,
        store: HubStore,
        backend: BackendClient,
        reachability: BackendReachability,
        metrics: HubMetrics,
        stopping: threading.Event,
        clock: Callable[[], datetime],
        console_url: str | None,
        backend_console_url: str,
        snapshot_interval_s: float = SNAPSHOT_MIN_INTERVAL_S,
        heartbeat_s: float = HUB_STATE_HEARTBEAT_S,
    ) -> None:
        self._device_id = device_id
        self._store = store
        self._backend = backend
        self._reachability = reachability
        self._metrics = metrics
        self._stopping = stopping
        self._clock = clock
        self._console_url = console_url
        self._backend_console_url = backend_console_url
        self._snapshot_interval_s = snapshot_interval_s
        self._heartbeat_s = heartbeat_s
        self._lock = threading.RLock()
        saved = store.document(STATE_KEY)
        self._queue = OfflineQueue.from_json(saved) if saved else OfflineQueue()
        self._reconcile_offline_tickets()
        # Unknown until the backend first answers: the hub decides meanwhile (it
        # cannot relay), exactly as when the backend went away.
        self._mode = HallMode.OFFLINE
        self._feed: DisplayFeed | None = None
        self._listeners: list[Callable[[HallMode], None]] = []
        self._wake = threading.Event()
        self._post_due = True  # tell the backend the mode as soon as it answers
        self._posted_mode: HallMode | None = None
        self._posted_at = 0.0
        self._snapshot_wanted = True
        self._snapshot_at = -1e9
        self._snapshot_failed_at: float | None = None
        self._rebuild_due = False
        # Recent ticket events: re-applied over a snapshot that was taken before them.
        self._recent_events: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="hub-desk", daemon=True)
        reachability.on_recovered(self._recovered)
        reachability.on_lost(self._lost)

    # ------------------------------------------------------------------ wiring

    def attach(self, feed: DisplayFeed) -> None:
        """The display model's feed (the event reader), before start()."""
        self._feed = feed

    def on_mode_change(self, callback: Callable[[HallMode], None]) -> None:
        self._listeners.append(callback)

    def start(self) -> None:
        with self._lock:
            if self._feed is not None and self._queue.loaded and self.pending():
                # The hub was deciding when it stopped (a restart during an outage):
                # its own queue is what the displays show until the replay is done.
                self._feed.seed_windows([_seat_json(s) for s in self._queue.windows.values()])
            self._tell_displays()
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ mode

    def mode(self) -> HallMode:
        return self._mode

    def hub_decides(self) -> bool:
        return self._mode is not HallMode.ONLINE

    def replaying(self) -> bool:
        """The backend answers but the hub still decides: kiosk tickets from the blocks
        (offline the relay still tries the backend first, as before)."""
        return self._mode is HallMode.REPLAYING

    def pending(self) -> int:
        return self._store.outbox_depth()

    def queue_summary(self) -> dict[str, Any]:
        """What the hub knows of the queue, for its health report (no personal data)."""
        with self._lock:
            queue = self._queue
            return {
                "loaded": queue.loaded,
                "taken_at": queue.taken_at.isoformat() if queue.taken_at else None,
                "waiting": len(queue.waiting),
                "windows": len(queue.windows),
                "clerks": len(queue.clerks),
            }

    def _set_mode(self, mode: HallMode) -> None:
        with self._lock:
            if mode is self._mode:
                return
            previous, self._mode = self._mode, mode
            # What the backend was told is stale now (it may never have heard "offline").
            self._post_due, self._posted_mode = True, None
            if mode is HallMode.ONLINE:
                # The backend decides again: its view replaces what the hub showed.
                self._snapshot_wanted = True
                self._rebuild_due = previous is HallMode.REPLAYING
            self._tell_displays()
        log.warning("hall mode %s -> %s (outbox %s)", previous, mode, self.pending())
        self._metrics.count(f"mode_{mode.value}")
        for callback in self._listeners:
            try:
                callback(mode)
            except Exception:
                log.exception("mode listener failed")
        self._wake.set()

    def _tell_displays(self) -> None:
        if self._feed is None:
            return
        mark = None if self._mode is HallMode.ONLINE else self._mode.value
        self._feed.set_hall_mode(mark, hub_decides=self._mode is not HallMode.ONLINE)

    def _recovered(self) -> None:
        with self._lock:
            self._set_mode(HallMode.REPLAYING if self.pending() else HallMode.ONLINE)

    def _lost(self) -> None:
        self._set_mode(HallMode.OFFLINE)

    def replay_starting(self) -> None:
        """The outbox replay is about to send its first entry: the backend must know the
        hall is replaying before it sees the first replayed action (raises
        BackendUnavailable: the replay waits)."""
        if self._mode is HallMode.ONLINE:
            self._set_mode(HallMode.REPLAYING)  # e.g. a ticket queued in a race with recovery
        if self._posted_mode is not HallMode.REPLAYING:
            self._post_hub_state(HallMode.REPLAYING)

    def drained(self) -> None:
        """The outbox is empty: once the backend answers, it decides again."""
        if self._mode is HallMode.ONLINE or not self._reachability.reachable or self.pending():
            return
        # Before the hub relays again: a key press relayed now must not meet a backend
        # that still refuses window actions as `hall_replaying`.
        self._post_hub_state(HallMode.ONLINE)
        with self._lock:
            if self._reachability.reachable and not self.pending():
                self._set_mode(HallMode.ONLINE)

    # ----------------------------------------------------------- the console API

    def windows(self) -> list[str]:
        with self._lock:
            return sorted(self._queue.windows, key=_natural)

    def view(self, window: str) -> WindowView:
        with self._lock:
            seat = self._seat(window)
            return self._view(seat)

    def clerk(self, employee_no: str) -> Clerk | None:
        """The clerk's sign-in record; None: unknown or revoked (absent from the snapshot)."""
        with self._lock:
            record = self._queue.clerks.get(employee_no)
        if record is None:
            return None
        return Clerk(record.employee_no, record.name, record.verifier, record.windows)

    def backend_console_url(self) -> str:
        return self._backend_console_url

    def console_url(self) -> str | None:
        return self._console_url

    def sign_in(self, window: str, employee_no: str) -> WindowView:
        """A clerk signed in at the hub console (offline): the window's display shows
        them. Local only: the replayed actions name the clerk themselves."""
        with self._lock:
            seat = self._seat(window)
            clerk = self._clerk_for(seat, employee_no)
            if self._mode is HallMode.ONLINE:
                return self._view(seat)  # the backend console signs clerks in online
            events = self._sign_in(seat, clerk)
            if events:
                self._save_state()
        if events and self._feed is not None:
            self._feed.apply_local(events)
        return self.view(window)

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
        """One window action (see the module docstring). Raises DeskRefused (nothing
        changed, logged with the reason)."""
        try:
            action = DeskAction(action)
        except ValueError:
            log.info("unknown window action via %s refused", via)
            raise DeskRefused("bad_action", f"未知操作 / unknown action {action!r}") from None
        action_id = _uid()
        try:
            if self._mode is HallMode.ONLINE:
                relayed = self._act_online(
                    action_id, window, action, employee_no, target_window, reason
                )
                if relayed is not None:
                    return relayed
            return self._act_offline(
                action_id, window, action, employee_no, via, target_window, reason
            )
        except DeskRefused as exc:
            self._metrics.count(f"desk_refused_{exc.code}")
            log.info("%s at window %s via %s refused: %s", action.value, window, via, exc.code)
            raise

    # ---------------------------------------------------------------- online

    def _act_online(
        self,
        action_id: str,
        window: str,
        action: DeskAction,
        employee_no: str | None,
        target_window: str | None,
        reason: str | None,
    ) -> DeskResult | None:
        """Relay to the backend; None when it turned out unreachable (apply locally)."""
        body = {
            "action_id": action_id,
            "window": window,
            "action": action.value,
            "ticket": None,
            "target_window": target_window,
            "reason": reason,
            "employee_no": employee_no,
            "at": None,
            "offline": False,
            "rating_request_id": None,
        }
        try:
            reply = self._backend.window_action(body, timeout_s=ONLINE_ACT_TIMEOUT_S)
        except BackendUnavailable as exc:
            self._reachability.failed(str(exc))  # -> offline
            return None
        except BackendRejected as exc:
            self._reachability.succeeded()
            raise DeskRefused(exc.code, exc.message or exc.code) from None
        self._reachability.succeeded()
        self._metrics.count(f"desk_online_{action.value}")
        ticket_view = reply.body.get("ticket")
        ticket = ticket_view.get("number") if isinstance(ticket_view, dict) else None
        ok = reply.body.get("outcome", "applied") == "applied"
        detail = reply.body.get("detail")
        message = _online_message(action, ticket) if ok else str(detail or "冲突 / conflict")
        with self._lock:
            view = (
                self._view(self._queue.windows[window])
                if window in self._queue.windows
                else (_unknown_view(window, self._mode))
            )
        return DeskResult(ok, ticket if isinstance(ticket, str) else None, message, view)

    # --------------------------------------------------------------- offline

    def _act_offline(
        self,
        action_id: str,
        window: str,
        action: DeskAction,
        employee_no: str | None,
        via: str,
        target_window: str | None,
        reason: str | None,
    ) -> DeskResult:
        with self._lock:
            seat = self._seat(window)
            clerk_no = employee_no or seat.signed_in
            if clerk_no is None:
                raise DeskRefused(
                    "not_signed_in", "窗口无人签到 / nobody is signed in at the window"
                )
            clerk = self._clerk_for(seat, clerk_no)
            before = self._queue.to_json()
            now = self._clock()
            try:
                sign_in = self._sign_in(seat, clerk) if employee_no else []
                applied = self._apply(seat, action, clerk, now, target_window, reason)
                payload = applied.payload
                document = self._queue.to_json()
                if payload is not None:
                    payload.update(
                        action_id=action_id,
                        window=window,
                        employee_no=clerk_no,
                        at=now.isoformat(),
                        offline=True,
                    )
                    payload.setdefault("ticket", None)
                    payload.setdefault("target_window", None)
                    payload.setdefault("reason", None)
                    payload.setdefault("rating_request_id", None)
                    self._store.enqueue_with_document(
                        KIND_ACTION,
                        f"action:{action_id}",
                        self._device_id,
                        payload,
                        STATE_KEY,
                        document,
                    )
                else:
                    self._store.save_document(STATE_KEY, document)
            except BaseException:
                # Nothing changed: the queue as it was before the refusal or failure.
                self._queue = OfflineQueue.from_json(before)
                raise
            events = sign_in + applied.events
            view = self._view(self._queue.windows[window])
            if self._feed is not None and events:
                self._feed.apply_local(events)
        self._metrics.count(f"desk_offline_{action.value}")
        log.info(
            "%s at window %s via %s applied offline: %s", action.value, window, via, applied.ticket
        )
        return DeskResult(applied.ok, applied.ticket, applied.message, view)

    def _apply(
        self,
        seat: Seat,
        action: DeskAction,
        clerk: Clerk,
        now: datetime,
        target_window: str | None,
        reason: str | None,
    ) -> _Applied:
        queue = self._queue
        number = seat.number
        if action is DeskAction.CALL:
            self._require_open(seat)
            picked, as_ordinary = queue.choose(number, now)
            if picked is None and seat.current is None:
                raise DeskRefused("nobody_waiting", "无人等候 / nobody is waiting")
            events: list[dict[str, Any]] = []
            request_id = None
            finished = seat.current
            if finished is not None:
                request_id, events = self._finish(seat, clerk, now)
            if picked is None:
                # As call-next does with nobody waiting: the current one is finished.
                return _Applied(
                    True,
                    None,
                    f"已办结 {finished}，无人等候 / {finished} finished; nobody is waiting",
                    events,
                    {
                        "action": DeskAction.FINISH.value,
                        "ticket": finished,
                        "rating_request_id": request_id,
                    },
                )
            del queue.waiting[picked.ticket]
            queue.handled.add(picked.ticket)
            seat.ordinary_streak = min((seat.ordinary_streak or 0) + 1, 1000) if as_ordinary else 0
            events.append(self._called(seat, picked, now))
            return _Applied(
                True,
                picked.ticket,
                f"请 {picked.ticket} 号到 {number} 号窗口 / calling {picked.ticket}",
                events,
                {"action": action.value, "ticket": picked.ticket, "rating_request_id": request_id},
            )
        if action is DeskAction.RECALL:
            self._require_open(seat)
            current = self._current(seat, ("called",))
            if seat.recall_count >= queue.recall_limit:
                raise DeskRefused(
                    "recall_limit",
                    f"已重呼 {seat.recall_count} 次，达到上限 / recall limit reached",
                )
            seat.recall_count += 1
            event = self._event(
                "ticket_recalled",
                {
                    "ticket": current,
                    "window": number,
                    "called_at": now.isoformat(),
                    "recall": seat.recall_count,
                    **self._place(seat),
                },
                seq=queue.next_local(),
            )
            return _Applied(
                True,
                current,
                f"重呼 {current}（第 {seat.recall_count} 次）/ recalled {current}",
                [event],
                {"action": action.value, "ticket": current},
            )
        if action is DeskAction.NO_SHOW:
            current = self._current(seat, ("called",))
            record = dict(seat.current_record or {})
            count = int(record.get("no_show_count") or 0) + 1
            policy = queue.policy
            requeued = policy.get("no_show_requeue") == "back" and count <= int(
                policy.get("requeue_limit", 1)
            )
            if requeued:
                back = waiting_from_record(record, current, now, queue.next_local())
                back.sort_at = now  # a 过号 rejoins at the back
                back.target_window = None
                back.no_show_count = count
                queue.waiting[current] = back
                queue.handled.discard(current)
            queue._clear(seat)
            event = self._event(
                "ticket_no_show", {"ticket": current, "window": number, "requeued": requeued}
            )
            return _Applied(
                True,
                current,
                f"{current} 过号 / {current} did not come",
                [event],
                {"action": action.value, "ticket": current},
            )
        if action is DeskAction.START:
            current = self._current(seat, ("called",))
            seat.current_state = "serving"
            event = self._event("ticket_serving", {"ticket": current, "window": number})
            return _Applied(
                True,
                current,
                f"开始办理 {current} / serving {current}",
                [event],
                {"action": action.value, "ticket": current},
            )
        if action is DeskAction.FINISH:
            current = self._current(seat, ("called", "serving"))
            request_id, events = self._finish(seat, clerk, now)
            return _Applied(
                True,
                current,
                f"已办结 {current} / {current} finished",
                events,
                {"action": action.value, "ticket": current, "rating_request_id": request_id},
            )
        if action is DeskAction.PAUSE:
            if seat.state != "open":
                raise DeskRefused("window_closed", "窗口未开放 / the window is not open")
            if seat.current is not None:
                raise DeskRefused(
                    "finish_first",
                    f"请先办结当前号票 {seat.current} / finish the current ticket first",
                )
            text = (reason or "").strip()[:200] or DEFAULT_PAUSE_REASON
            seat.state, seat.pause_reason = "paused", text
            return _Applied(
                True,
                None,
                f"暂停服务：{text} / window paused",
                [self._window_event(seat)],
                {"action": action.value, "reason": text},
            )
        if action is DeskAction.RESUME:
            if seat.state not in ("paused", "resting"):
                raise DeskRefused("not_paused", "窗口未暂停 / the window is not paused")
            seat.state, seat.pause_reason = "open", None
            return _Applied(
                True,
                None,
                "恢复服务 / window open again",
                [self._window_event(seat)],
                {"action": action.value},
            )
        if action is DeskAction.INVITE_RATING:
            ticket = seat.last_served
            if ticket is None:
                raise DeskRefused("no_current_ticket", "没有可邀请评价的号票 / no service to rate")
            request_id = _uid()
            event = self._invitation(seat, ticket, seat.last_served_matter, clerk, now, request_id)
            return _Applied(
                True,
                ticket,
                f"已邀请 {ticket} 评价 / rating invited for {ticket}",
                [event],
                {"action": action.value, "ticket": ticket, "rating_request_id": request_id},
            )
        if action is DeskAction.TRANSFER:
            current = self._current(seat, ("called", "serving"))
            if target_window is None or target_window == number:
                raise DeskRefused("bad_target", "请指定转入窗口 / name the window to transfer to")
            if target_window not in queue.windows:
                raise DeskRefused("unknown_window", f"没有 {target_window} 号窗口 / no such window")
            moved = waiting_from_record(seat.current_record, current, now, queue.next_local())
            moved.target_window = target_window  # keeps its place (original issue time)
            queue.waiting[current] = moved
            queue.handled.discard(current)
            queue._clear(seat)
            event = self._event("ticket_transferred", {"ticket": current, "window": target_window})
            return _Applied(
                True,
                current,
                f"{current} 已转 {target_window} 号窗口 / moved to window {target_window}",
                [event],
                {"action": action.value, "ticket": current, "target_window": target_window},
            )
        raise DeskRefused("bad_action", f"unknown action {action!r}")

    # ------------------------------------------------------------ the pieces

    def _seat(self, window: str) -> Seat:
        seat = self._queue.windows.get(window)
        if seat is None:
            raise DeskRefused("unknown_window", f"没有 {window} 号窗口 / no such window")
        return seat

    def _clerk_for(self, seat: Seat, employee_no: str) -> Clerk:
        record = self._queue.clerks.get(employee_no)
        if record is None:
            raise DeskRefused("unknown_clerk", "工号未知或已停用 / unknown or revoked clerk")
        if seat.number not in record.windows:
            raise DeskRefused("not_your_window", "不是本人的窗口 / not one of your windows")
        return Clerk(record.employee_no, record.name, record.verifier, record.windows)

    def _sign_in(self, seat: Seat, clerk: Clerk) -> list[dict[str, Any]]:
        if seat.signed_in == clerk.employee_no and seat.staff is not None:
            return []
        seat.signed_in = clerk.employee_no
        seat.staff = {"name": clerk.name, "employee_no": clerk.employee_no}
        if seat.state == "closed":
            seat.state = "open"  # signing in opens the window, as at the backend console
        return [self._window_event(seat)]

    @staticmethod
    def _require_open(seat: Seat) -> None:
        if seat.state != "open":
            raise DeskRefused("window_closed", "窗口未开放 / the window is not open")

    @staticmethod
    def _current(seat: Seat, states: tuple[str, ...]) -> str:
        if seat.current is None or seat.current_state not in states:
            raise DeskRefused("no_current_ticket", "当前没有号票 / no current ticket")
        return seat.current

    def _finish(self, seat: Seat, clerk: Clerk, now: datetime) -> tuple[str | None, list[Any]]:
        """End the window's current ticket; the automatic rating invitation if the
        policy says so (its request id goes into the replayed action)."""
        ticket = seat.current
        assert ticket is not None
        record = seat.current_record or {}
        matter = record.get("matter") if isinstance(record.get("matter"), dict) else None
        events = [self._event("ticket_finished", {"ticket": ticket, "window": seat.number})]
        seat.served += 1
        seat.last_served, seat.last_served_matter = ticket, matter
        self._queue._clear(seat)
        request_id = None
        if self._queue.auto_invite_rating:
            request_id = _uid()
            events.append(self._invitation(seat, ticket, matter, clerk, now, request_id))
        return request_id, events

    def _invitation(
        self,
        seat: Seat,
        ticket: str,
        matter: dict[str, Any] | None,
        clerk: Clerk,
        now: datetime,
        request_id: str,
    ) -> dict[str, Any]:
        expires = now + timedelta(seconds=self._queue.rating_timeout_seconds)
        return self._event(
            "rating_requested",
            {
                "request_id": request_id,
                "window": seat.number,
                "ticket": ticket,
                "matter": matter,
                "staff": {"name": clerk.name, "employee_no": clerk.employee_no},
                "expires_at": expires.isoformat(),
            },
        )

    def _called(self, seat: Seat, picked: Waiting, now: datetime) -> dict[str, Any]:
        seat.current = picked.ticket
        seat.current_state = "called"
        seat.called_at = now
        seat.recall_count = 0
        record = {
            "ticket": picked.ticket,
            "category": picked.category,
            "standing": picked.standing,
            "sort_at": picked.sort_at.isoformat(),
            "order": picked.order,
            "target_window": None,
            "matter": picked.matter,
            "no_show_count": picked.no_show_count,
        }
        seat.current_record = record
        waiting = sum(
            1
            for w in self._queue.waiting.values()
            if w.category == picked.category and w.target_window is None
        )
        return self._event(
            "ticket_called",
            {
                "ticket": picked.ticket,
                "window": seat.number,
                "category": picked.category,
                "called_at": now.isoformat(),
                "recall": 0,
                "waiting": waiting,
                **self._place(seat),
            },
            seq=self._queue.next_local(),
        )

    @staticmethod
    def _place(seat: Seat) -> dict[str, Any]:
        return {"floor": seat.floor, "area": seat.area}

    def _window_event(self, seat: Seat) -> dict[str, Any]:
        return self._event(
            "window_state",
            {
                "window": seat.number,
                "state": seat.state,
                "reason": seat.pause_reason,
                "expected_back": None,
                "staff": dict(seat.staff) if seat.staff else None,
            },
        )

    def _event(self, kind: str, data: dict[str, Any], *, seq: int = 0) -> dict[str, Any]:
        """An event in the backend's shape. Calls and recalls carry seq 10**12 + n (the
        module docstring says why); the others' seq is not used by the display model."""
        return {"seq": seq, "kind": kind, "at": self._clock().isoformat(), "data": data}

    def _view(self, seat: Seat) -> WindowView:
        now = self._clock()
        return WindowView(
            window=seat.number,
            name=seat.name,
            state=seat.state,
            current=seat.current,
            current_state=seat.current_state,
            recall_count=seat.recall_count,
            recall_limit=self._queue.recall_limit,
            waiting=len(self._queue.eligible(seat.number)),
            next_up=tuple(self._queue.next_up(seat.number, now)),
            served=seat.served,
            mode=self._mode,
        )

    def _save_state(self) -> None:
        self._store.save_document(STATE_KEY, self._queue.to_json())

    # -------------------------------------------------------- queue updates

    def note_offline_ticket(self, payload: dict[str, Any]) -> None:
        """A ticket the relay issued from a block (its outbox payload) joins the queue."""
        with self._lock:
            self._queue.add_offline_ticket(
                str(payload["display"]),
                str(payload["category"]),
                datetime.fromisoformat(str(payload["issued_at"])),
                payload.get("priority_kind"),
            )
            self._save_state()

    def _reconcile_offline_tickets(self) -> None:
        # A crash between issuing a ticket (outbox) and saving the queue: the outbox wins.
        for entry in self._store.pending_of_kind(KIND_TICKET):
            payload = entry.payload
            try:
                self._queue.add_offline_ticket(
                    str(payload["display"]),
                    str(payload["category"]),
                    datetime.fromisoformat(str(payload["issued_at"])),
                    payload.get("priority_kind"),
                )
            except (KeyError, ValueError) as exc:
                log.warning("offline ticket %s not in the offline queue: %s", entry.key, exc)

    def events_seen(self, events: list[dict[str, Any]]) -> None:
        """A batch of backend events (event reader): folded into the queue; one that
        touches tickets or windows asks for a fresh snapshot (debounced)."""
        touched = False
        with self._lock:
            for event in events:
                if event.get("kind") in TICKET_EVENTS:
                    touched = True
                    self._queue.apply_event(event)
                    self._recent_events.append(event)
            del self._recent_events[:-RECENT_EVENTS]
            if touched:
                self._save_state()
                self._snapshot_wanted = True
        if touched:
            self._wake.set()

    def refresh_snapshot(self) -> bool:
        """Fetch GET /offline-snapshot now if the hub is online; True when loaded."""
        if self._mode is not HallMode.ONLINE:
            return False
        self._snapshot_at = time.monotonic()
        try:
            body = self._backend.offline_snapshot().body
        except BackendUnavailable as exc:
            self._reachability.failed(str(exc))
            return False
        except BackendRejected as exc:
            self._snapshot_failed_at = time.monotonic()
            log.warning("offline snapshot not loaded: %s", exc)
            return False
        with self._lock:
            if self._mode is not HallMode.ONLINE:
                return False  # the hub took over meanwhile: its own state is newer
            fresh = OfflineQueue()
            fresh.windows = self._queue.windows  # carries the hub's own served counts
            fresh.clerks = self._queue.clerks
            fresh.local_counter = self._queue.local_counter
            try:
                fresh.load_snapshot(body)
            except (KeyError, TypeError, ValueError) as exc:
                self._snapshot_failed_at = time.monotonic()
                log.warning("offline snapshot refused: %s", exc)
                return False
            for event in self._recent_events:
                fresh.apply_event(event)  # only those after the snapshot's last_event_seq
            self._queue = fresh
            self._reconcile_offline_tickets()
            self._save_state()
        self._snapshot_failed_at = None
        self._metrics.count("offline_snapshots")
        return True

    # ------------------------------------------------------------ the thread

    def _post_hub_state(self, mode: HallMode) -> None:
        body = {"mode": mode.value, "console_url": self._console_url, "pending": self.pending()}
        try:
            self._backend.put_hub_state(body)
        except BackendRejected as exc:
            # An older backend without the route: the hall still works, staff actions
            # at the backend are just not held back during a replay.
            log.warning("hub state %s not accepted: %s", mode.value, exc)
        self._posted_mode, self._posted_at = mode, time.monotonic()
        self._metrics.count(f"hub_state_{mode.value}")

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._tick()
            except BackendUnavailable as exc:
                self._reachability.failed(str(exc))
            except Exception:
                log.exception("window desk housekeeping failed")
                self._stopping.wait(1.0)

    def _next_wait(self) -> float:
        waits = [self._heartbeat_s]
        if self._snapshot_wanted and self._mode is HallMode.ONLINE:
            waits.append(self._snapshot_at + self._snapshot_interval_s - time.monotonic())
        return max(0.05, min(waits))

    def _tick(self) -> None:
        if not self._reachability.reachable:
            return
        mode = self._mode
        # Every 60 s while online; while replaying too, so a long replay keeps the
        # backend's hold on staff window actions (it lapses after 10 minutes).
        heartbeat = (
            mode is not HallMode.OFFLINE and time.monotonic() - self._posted_at >= self._heartbeat_s
        )
        if self._post_due or heartbeat:
            self._post_due = False
            self._post_hub_state(mode)
        if mode is not HallMode.ONLINE:
            return
        if self._rebuild_due and self._feed is not None:
            self._rebuild_due = False
            self._feed.rebuild_now()
        if not self._snapshot_wanted:
            return
        if self._snapshot_failed_at is not None and (
            time.monotonic() - self._snapshot_failed_at < SNAPSHOT_RETRY_S
        ):
            return
        if time.monotonic() - self._snapshot_at < self._snapshot_interval_s:
            return  # debounced: _next_wait wakes the thread when it is due
        self._snapshot_wanted = False
        self.refresh_snapshot()


def _seat_json(seat: Seat) -> dict[str, Any]:
    return {
        "number": seat.number,
        "name": seat.name,
        "state": seat.state,
        "staff": seat.staff,
        "pause_reason": seat.pause_reason,
        "current": seat.current,
        "called_at": seat.called_at.isoformat() if seat.called_at else None,
    }


def _unknown_view(window: str, mode: HallMode) -> WindowView:
    return WindowView(window, f"{window}号窗口", "closed", None, None, 0, 0, 0, (), 0, mode)


def _online_message(action: DeskAction, ticket: Any) -> str:
    if action is DeskAction.CALL:
        if ticket:
            return f"请 {ticket} 号 / calling {ticket}"
        return "无人等候 / nobody is waiting"
    return action.done(str(ticket) if ticket else None)


def _window_desk_is_a_front_end_desk(desk: WindowDesk) -> FrontEndDesk:
    return desk  # mypy --strict: WindowDesk has everything a front end calls
