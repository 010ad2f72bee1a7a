"""What the hall's displays should show, built from the backend snapshot and events.

A pure model (no I/O): `load_snapshot()` rebuilds it from GET /status, `apply()`
folds one event in. Both mark which displays changed; `take_changes()` turns
those into the messages to publish, plus the one-shot messages (call events,
rate-now commands) the events produced. The event reader publishes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError

from hallbus.forecast import wait_minutes
from hallbus.localtime import DEFAULT_TIMEZONE, is_known_zone
from hallbus.messages import (
    CallEvent,
    CategoryInfo,
    CategoryWaiting,
    ConfigPush,
    HallCallList,
    RateNow,
    RecentCall,
    Scalar,
    StaffCard,
    WindowDisplayState,
)
from hallbus.topics import Broadcast, Command, DeviceType, broadcast_topic
from hub.registry import DeviceRecord, DeviceRegistry, join_setting_list

log = logging.getLogger(__name__)

MAX_RECENT_CALLS: Final = 50
MAX_NOTICES: Final = 20
# A call announced later than this after it happened is stale (the hub was
# restarting or catching up): displays get the state, announcers stay quiet.
CALL_FRESHNESS: Final = timedelta(seconds=60)
# How many offline calls / invitations the model remembers to recognise their replay.
MAX_LOCAL_MEMORY: Final = 2000
# A replayed call carries the original time; the database may round it.
ECHO_TOLERANCE: Final = timedelta(seconds=1)
# Events whose effect on waiting counts the event does not carry: the waiting
# counts are re-read from GET /status after a batch containing one.
_WAITING_UNKNOWN: Final = frozenset(
    {"ticket_cancelled", "ticket_requeued", "ticket_transferred", "ticket_no_show"}
)
# Events after which the evaluators' configuration (the bad-rating reasons the
# backend keeps with its catalogue and settings) is fetched again.
_CONFIG_EVENTS: Final = frozenset({"catalog_changed", "config_changed", "rating_reasons_changed"})


# Devices that get a ConfigPush: those that show a person a time (in the hall's
# zone) or take settings. Announcers and LED strips show no times.
_CONFIG_RECEIVERS: Final = (
    DeviceType.KIOSK,
    DeviceType.WINDOW_DISPLAY,
    DeviceType.HALL_DISPLAY,
    DeviceType.EVALUATOR,
)

# Backend window states the displays know; anything else shows as closed.
_DISPLAY_STATES: Final[dict[str, Literal["open", "paused", "resting", "closed"]]] = {
    "open": "open",
    "paused": "paused",
    "resting": "resting",
    "closed": "closed",
}


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: BaseModel
    retain: bool
    what: str  # for logs and counters: "window", "call_list", "call", "rate_now", "config"


@dataclass(slots=True)
class WindowView:
    window: str
    department_name: str
    state: str = "closed"
    staff: StaffCard | None = None
    pause_reason: str | None = None
    expected_back: datetime | None = None
    current_ticket: str | None = None
    called_at: datetime | None = None


@dataclass(slots=True)
class CategoryView:
    prefix: str
    name: str
    waiting: int = 0
    # The forecast's inputs from the backend's last status (hallbus.forecast).
    service_seconds: float = 0.0
    open_windows: int = 0
    floor: int | None = None

    def forecast(self, ahead: int) -> int:
        """Minutes for `ahead` people: the backend's rule with the backend's inputs."""
        return wait_minutes(ahead, self.service_seconds, self.open_windows)

    def as_model(self) -> CategoryWaiting:
        return CategoryWaiting(
            prefix=self.prefix,
            name=self.name,
            waiting=self.waiting,
            estimated_wait_minutes=self.forecast(self.waiting),
            floor=self.floor,
        )


@dataclass
class HallDisplayModel:
    hall_id: str
    registry: DeviceRegistry
    next_seq: Callable[[], int]
    now: Callable[[], datetime]
    call_repeat: int = 2
    windows: dict[str, WindowView] = field(default_factory=dict)
    categories: dict[str, CategoryView] = field(default_factory=dict)
    recent_calls: list[RecentCall] = field(default_factory=list)
    needs_waiting_refresh: bool = False
    needs_config_refresh: bool = False
    hall_name: str = ""
    category_infos: list[CategoryInfo] = field(default_factory=list)
    rating_reasons: tuple[str, ...] = ()
    # The hall's IANA zone, pushed to every device that shows a time: the hub's
    # config until the backend's hall record (GET /status hall.timezone) says otherwise.
    timezone: str = DEFAULT_TIMEZONE
    # The hall's active notices as one line each ("title：body"), in display order.
    notices: list[str] = field(default_factory=list)
    # prefix -> the snapshot's category entry as the backend sent it (for KioskState).
    category_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Set whenever something a kiosk shows (waiting counts, notices, windows)
    # may have changed; the kiosk-state publisher takes it (take_kiosk_change).
    kiosk_changed: bool = False
    catalog_changed: bool = False  # the kiosks' catalogue digest must be reloaded
    # Ticket events without waiting counts (the backend's carry none today): the
    # counts are re-read after the batch is out, so calls do not wait for it.
    waiting_stale: bool = False
    # device id -> content of the ConfigPush it last got (re-sent only on change)
    _pushed_config: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _changed_windows: set[str] = field(default_factory=set)
    _call_list_changed: bool = False
    _one_shot: list[Outgoing] = field(default_factory=list)
    _windows_without_evaluator: set[str] = field(default_factory=set)
    # Offline mode (hub.window_desk): the mark the displays show while the hub decides
    # ("offline" / "replaying"; None online), and whether the hub decides right now.
    hall_mode: str | None = None
    hub_decides: bool = False
    # Calls and rating invitations the hub made itself while it decided: (ticket,
    # window) -> called_at, and request ids. Their replayed copies coming back from
    # the backend are recognised by these (and by data.offline) and never announced
    # or sent again.
    _local_calls: dict[tuple[str, str], datetime] = field(default_factory=dict)
    _local_requests: set[str] = field(default_factory=set)
    _quiet: bool = False

    # ------------------------------------------------------------------- snapshot

    def load_snapshot(self, status: dict[str, Any]) -> None:
        """Rebuild everything from GET /status (at start and after reconnecting).

        While the hub decides the queue (offline, replaying) the backend's windows and
        calls lag behind what the hall was shown: those are kept until the hub is
        online again (hub.window_desk rebuilds then)."""
        keep = self.hub_decides and bool(self.windows)
        kept = (self.windows, self.recent_calls) if keep else None
        self.load_waiting(status)
        hall = status.get("hall") or {}
        self.hall_name = str(hall.get("name") or hall.get("code") or self.hall_id)[:200]
        zone = hall.get("timezone")
        if isinstance(zone, str) and zone != self.timezone:
            if is_known_zone(zone):
                log.warning(
                    "hall time zone is %s (backend), not %s (hub config)", zone, self.timezone
                )
                self.timezone = zone
            else:
                log.warning("backend names unknown time zone %r; keeping %s", zone, self.timezone)
        infos: list[CategoryInfo] = []
        for item in status.get("categories", []):
            try:
                infos.append(
                    CategoryInfo(prefix=item["prefix"], name=item.get("name") or item["prefix"])
                )
            except (KeyError, TypeError, ValidationError) as exc:
                log.warning("category skipped in the devices' configuration: %s", exc)
        self.category_infos = infos
        self.notices = notice_lines(status.get("notices"))
        calls: list[RecentCall] = []
        for item in status.get("recent_calls", []):
            try:
                calls.append(
                    RecentCall(
                        ticket=item["ticket"],
                        window=item["window"],
                        called_at=item["called_at"],
                        recall_count=min(5, int(item.get("recall_count") or 0)),
                        floor=floor_of(item.get("floor")),
                    )
                )
            except (KeyError, TypeError, ValueError, ValidationError) as exc:
                log.warning("snapshot call skipped: %s", exc)
        self.recent_calls = calls[:MAX_RECENT_CALLS]
        called_at = {c.ticket: c.called_at for c in self.recent_calls}
        self.windows = {}
        for item in status.get("windows", []):
            number = str(item.get("number"))
            staff = item.get("staff")
            current = item.get("current_ticket")
            self.windows[number] = WindowView(
                window=number,
                department_name=item.get("name") or f"{number}号窗口",
                state=item.get("state") or "closed",
                staff=_staff_card(staff),
                pause_reason=item.get("pause_reason") or None,
                current_ticket=current,
                called_at=called_at.get(current) if current else None,
            )
        if kept is not None:
            self.windows, self.recent_calls = kept
        self._changed_windows = set(self.windows)
        self._call_list_changed = True

    def seed_windows(self, seats: list[dict[str, Any]]) -> None:
        """Windows from the hub's offline queue when no backend snapshot was loaded in
        this run (a hub restarted during an outage): name, state, clerk, current ticket."""
        if self.windows:
            return
        for item in seats:
            number = str(item["number"])
            called_at = item.get("called_at")
            self.windows[number] = WindowView(
                window=number,
                department_name=str(item.get("name") or f"{number}号窗口")[:200],
                state=str(item.get("state") or "closed"),
                staff=_staff_card(item.get("staff")),
                pause_reason=item.get("pause_reason") or None,
                current_ticket=item.get("current"),
                called_at=datetime.fromisoformat(called_at) if called_at else None,
            )
        self._changed_windows = set(self.windows)
        self._call_list_changed = True

    def set_hall_mode(self, mode: str | None, *, hub_decides: bool) -> None:
        """Who decides the queue (the displays' mark); every display gets its state again."""
        self.hub_decides = hub_decides
        if mode == self.hall_mode:
            return
        self.hall_mode = mode
        self._changed_windows = set(self.windows)
        self._call_list_changed = True

    def load_waiting(self, status: dict[str, Any]) -> None:
        # While the hub decides, the waiting counts are the hub's (offline tickets and
        # calls the backend has not seen yet); the backend's forecast inputs still apply.
        kept = {p: c.waiting for p, c in self.categories.items()} if self.hub_decides else {}
        categories: dict[str, CategoryView] = {}
        for item in status.get("categories", []):
            waiting = int(item.get("waiting") or 0)
            open_windows = int(item.get("open_windows") or 0)
            seconds = item.get("service_seconds")
            if seconds is None:
                # A backend from before the status carried the forecast's inputs: the
                # service time its forecast implies (0 when nobody waits).
                minutes = int(item.get("estimated_wait_minutes") or 0)
                seconds = minutes * 60 * max(1, open_windows) / waiting if waiting else 0.0
            categories[item["prefix"]] = CategoryView(
                item["prefix"],
                item.get("name") or item["prefix"],
                waiting,
                float(seconds),
                open_windows,
                floor_of(item.get("floor")),
            )
        for prefix, waiting in kept.items():
            if prefix in categories:
                categories[prefix].waiting = waiting
        self.categories = categories
        # Kept for the kiosks: what the snapshot says beyond the displays' waiting counts.
        self.category_details = {
            str(item["prefix"]): dict(item) for item in status.get("categories", [])
        }
        self.needs_waiting_refresh = False
        self.waiting_stale = False
        self._call_list_changed = True
        self.kiosk_changed = True

    # --------------------------------------------------------------------- events

    def apply(self, event: dict[str, Any], *, local: bool = False) -> None:
        """Fold one backend event in; unknown or irrelevant kinds are ignored.

        `local`: an event the hub synthesized for its own offline action (remembered,
        so the backend's replayed copy is not announced again)."""
        kind = event.get("kind")
        data = event.get("data") or {}
        seq = int(event.get("seq") or 0)
        handler = _HANDLERS.get(str(kind))
        if not local and self._is_echo(str(kind), data):
            if self.hub_decides:
                # Shown when the hub did it; the backend's copy is older than what the
                # displays show now.
                return
            self._quiet = True  # state only: announced (and rate-now sent) already
        if local:
            self._remember_local(str(kind), data)
        if kind in _WAITING_UNKNOWN:
            self.needs_waiting_refresh = True
        if kind in _CONFIG_EVENTS:
            self.needs_config_refresh = True
        if kind == "catalog_changed":
            self.catalog_changed = True
        if handler is None:
            return
        try:
            handler(self, seq, data)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            log.warning("event %s (%s) not applied: %s", seq, kind, exc)
        finally:
            self._quiet = False

    def _remember_local(self, kind: str, data: dict[str, Any]) -> None:
        if kind in ("ticket_called", "ticket_recalled") and data.get("called_at"):
            key = (str(data.get("ticket")), str(data.get("window")))
            self._local_calls[key] = datetime.fromisoformat(data["called_at"])
            while len(self._local_calls) > MAX_LOCAL_MEMORY:
                del self._local_calls[next(iter(self._local_calls))]
        elif kind == "rating_requested" and data.get("request_id"):
            self._local_requests.add(str(data["request_id"]))
            if len(self._local_requests) > MAX_LOCAL_MEMORY:
                self._local_requests.pop()

    def _is_echo(self, kind: str, data: dict[str, Any]) -> bool:
        """A backend event replaying what the hub did offline (POST /window-actions with
        offline true marks its events data.offline; older backends are recognised by
        the call's ticket, window and original time, or the invitation's request id)."""
        if data.get("offline") is True:
            return True
        if kind in ("ticket_called", "ticket_recalled") and data.get("called_at"):
            known = self._local_calls.get((str(data.get("ticket")), str(data.get("window"))))
            if known is None:
                return False
            try:
                called_at = datetime.fromisoformat(data["called_at"])
            except (TypeError, ValueError):
                return False
            return abs(called_at - known) <= ECHO_TOLERANCE
        if kind == "rating_requested":
            return str(data.get("request_id")) in self._local_requests
        return False

    def _window(self, number: str) -> WindowView:
        view = self.windows.get(number)
        if view is None:
            view = self.windows[number] = WindowView(number, f"{number}号窗口")
        return view

    def _set_waiting(self, prefix: str | None, waiting: Any) -> None:
        if prefix is None or waiting is None:
            return
        category = self.categories.get(prefix)
        if category is None:
            category = self.categories[prefix] = CategoryView(prefix, prefix)
        category.waiting = int(waiting)
        self._call_list_changed = True
        self.kiosk_changed = True

    def _on_issued(self, _seq: int, data: dict[str, Any]) -> None:
        if data.get("waiting") is None:
            self.waiting_stale = True
        self._set_waiting(data.get("category"), data.get("waiting"))

    def _on_called(self, seq: int, data: dict[str, Any], *, recall: bool = False) -> None:
        ticket, number = str(data["ticket"]), str(data["window"])
        called_at = datetime.fromisoformat(data["called_at"])
        recall_count = min(5, int(data.get("recall") or 0))
        floor = floor_of(data.get("floor"))
        area = data.get("area")
        view = self._window(number)
        view.current_ticket, view.called_at = ticket, called_at
        self._changed_windows.add(number)
        self.recent_calls = [c for c in self.recent_calls if c.ticket != ticket]
        self.recent_calls.insert(
            0,
            RecentCall(
                ticket=ticket,
                window=number,
                called_at=called_at,
                recall_count=recall_count,
                floor=floor,
            ),
        )
        del self.recent_calls[MAX_RECENT_CALLS:]
        self._call_list_changed = True
        if not recall:
            if data.get("waiting") is None:
                self.waiting_stale = True
            self._set_waiting(data.get("category"), data.get("waiting"))
        if self._quiet:
            return  # a replayed offline call: announced when the hub made it
        if self.now() - called_at > CALL_FRESHNESS:
            log.info("call %s at window %s is stale; not announced", ticket, number)
            return
        call = CallEvent(
            seq=seq,
            ticket=ticket,
            window=number,
            floor=floor,
            area=str(area)[:200] if isinstance(area, str) and area.strip() else None,
            repeat=self.call_repeat,
            recall=recall,
            called_at=called_at,
        )
        topic = broadcast_topic(self.hall_id, Broadcast.CALL)
        self._one_shot.append(Outgoing(topic, call, False, "call"))

    def _on_recalled(self, seq: int, data: dict[str, Any]) -> None:
        self._on_called(seq, data, recall=True)

    def _on_left_window(self, _seq: int, data: dict[str, Any]) -> None:
        ticket = data.get("ticket")
        for view in self.windows.values():
            if view.current_ticket == ticket:
                view.current_ticket = None
                view.called_at = None
                self._changed_windows.add(view.window)

    def _on_window_state(self, _seq: int, data: dict[str, Any]) -> None:
        number = str(data["window"])
        view = self._window(number)
        view.state = str(data["state"])
        view.pause_reason = data.get("reason") or None
        expected = data.get("expected_back")
        view.expected_back = datetime.fromisoformat(expected) if expected else None
        view.staff = _staff_card(data.get("staff"))
        self._changed_windows.add(number)
        self.kiosk_changed = True

    def _on_rating_requested(self, _seq: int, data: dict[str, Any]) -> None:
        if self._quiet:
            return  # the invitation the hub sent offline, replayed: sent already
        staff = data.get("staff") or {}
        matter = data.get("matter") or {}
        expires_at = datetime.fromisoformat(data["expires_at"])
        if expires_at <= self.now():
            log.info("rate-now %s already expired; not sent", data.get("request_id"))
            return
        if not staff.get("name") or not staff.get("employee_no"):
            log.warning("rate-now %s names no clerk; not sent", data.get("request_id"))
            return
        command = RateNow(
            request_id=data["request_id"],
            window=str(data["window"]),
            ticket_number=data.get("ticket"),
            matter_code=matter.get("code"),
            matter_name=matter.get("name"),
            staff_name=staff["name"],
            employee_no=staff["employee_no"],
            expires_at=expires_at,
        )
        evaluators = self.registry.for_window(DeviceType.EVALUATOR, command.window)
        # Windows without a rating device are normal (ratings then come from the
        # kiosk or the phone); say so once per window, not per service.
        if not evaluators and command.window not in self._windows_without_evaluator:
            self._windows_without_evaluator.add(command.window)
            log.info("no evaluator registered at window %s", command.window)
        for record in evaluators:
            topic = record.ref.command_topic(Command.RATE_NOW)
            self._one_shot.append(Outgoing(topic, command, False, "rate_now"))

    def _on_day_closed(self, _seq: int, _data: dict[str, Any]) -> None:
        self.needs_waiting_refresh = True

    def _on_notices_changed(self, _seq: int, data: dict[str, Any]) -> None:
        # The event carries the complete active list (backend/web/admin/notices.py).
        notices = notice_lines(data["notices"])
        if notices != self.notices:
            self.notices = notices
            self._call_list_changed = True
            self.kiosk_changed = True

    # -------------------------------------------------------------------- output

    def set_rating_reasons(self, reasons: list[str]) -> None:
        """The backend's active bad-rating reasons, in order (pushed to the evaluators)."""
        self.rating_reasons = tuple(reasons)
        self.needs_config_refresh = False

    def take_changes(self) -> list[Outgoing]:
        """Messages for everything changed since the last call, one-shots in event order."""
        out = self._state_messages(sorted(self._changed_windows), self._call_list_changed)
        self._changed_windows.clear()
        self._call_list_changed = False
        out += self._config_messages(force=False)
        out += self._one_shot
        self._one_shot = []
        return out

    def all_states(self) -> list[Outgoing]:
        """Every retained state, e.g. after a broker restart lost the retained copies."""
        return self._state_messages(sorted(self.windows), True) + self._config_messages(force=True)

    def _state_messages(self, windows: list[str], call_list: bool) -> list[Outgoing]:
        out: list[Outgoing] = []
        for number in windows:
            view = self.windows.get(number)
            if view is None:
                continue
            # The window display and the evaluator's idle screen show the same
            # state (clerk, department, window state), so both get one payload.
            receivers = self.registry.for_window(DeviceType.WINDOW_DISPLAY, number)
            receivers += self.registry.for_window(DeviceType.EVALUATOR, number)
            if not receivers:
                continue
            try:
                state = self._window_state(view)
            except ValidationError as exc:
                # One window the contract cannot express must not hold up every
                # other display (the batch would be retried for ever): skip it.
                log.warning("state of window %s not published: %s", number, exc)
                continue
            for record in receivers:
                out.append(Outgoing(record.ref.state_topic(), state, True, "window"))
        if call_list:
            displays = self.registry.of_type(DeviceType.HALL_DISPLAY)
            if displays:
                try:
                    calls = self._call_list()
                except ValidationError as exc:
                    log.warning("hall call list not published: %s", exc)
                    displays = []
                for record in displays:
                    out.append(Outgoing(record.ref.state_topic(), calls, True, "call_list"))
        return out

    def _config_messages(self, *, force: bool) -> list[Outgoing]:
        """Retained ConfigPush for every device that shows a time (the hall's zone) or
        has settings, whose content changed (or all: force)."""
        if not self.hall_name:
            return []  # no snapshot yet: nothing to say about the hall
        out: list[Outgoing] = []
        receivers = [r for kind in _CONFIG_RECEIVERS for r in self.registry.of_type(kind)]
        for record in receivers:
            settings = self._config_settings(record)
            content = (
                self.hall_name,
                self.timezone,
                tuple(self.category_infos),
                tuple(sorted(settings.items())),
            )
            if not force and self._pushed_config.get(record.ref.device_id) == content:
                continue
            try:
                push = ConfigPush(
                    seq=self.next_seq(),
                    hall_name=self.hall_name,
                    categories=list(self.category_infos),
                    settings=dict(settings),
                    timezone=self.timezone,
                )
            except ValidationError as exc:
                log.warning("configuration of %s not published: %s", record.ref.device_id, exc)
                continue
            self._pushed_config[record.ref.device_id] = content
            out.append(Outgoing(record.ref.config_topic(), push, True, "config"))
        return out

    def _config_settings(self, record: DeviceRecord) -> dict[str, Scalar]:
        settings: dict[str, Scalar] = dict(record.push_settings)
        reasons = join_setting_list(self.rating_reasons)
        if reasons and record.ref.device_type is DeviceType.EVALUATOR:
            # Without a list from the backend the evaluator keeps its built-in one.
            settings["bad_reasons"] = reasons
        return settings

    def _window_state(self, view: WindowView) -> WindowDisplayState:
        return WindowDisplayState(
            seq=self.next_seq(),
            window=view.window,
            department_name=view.department_name,
            staff=view.staff,
            state=_DISPLAY_STATES.get(view.state, "closed"),
            pause_reason=view.pause_reason if view.state == "paused" else None,
            expected_back=view.expected_back if view.state == "paused" else None,
            current_ticket=view.current_ticket,
            called_at=view.called_at,
            hall_mode=self._mark(),
        )

    def _call_list(self) -> HallCallList:
        return HallCallList(
            seq=self.next_seq(),
            recent_calls=list(self.recent_calls),
            waiting=[c.as_model() for c in self.categories.values()][:50],
            notices=list(self.notices),
            hall_mode=self._mark(),
        )

    def _mark(self) -> Literal["offline", "replaying"] | None:
        if self.hall_mode == "offline":
            return "offline"
        if self.hall_mode == "replaying":
            return "replaying"
        return None

    def waiting_for(self, prefix: str) -> CategoryView | None:
        return self.categories.get(prefix)

    def note_offline_ticket(self, prefix: str) -> None:
        """A ticket issued from the reserved block joins the waiting count at once."""
        category = self.categories.get(prefix)
        if category is not None:
            self.categories[prefix] = replace(category, waiting=category.waiting + 1)
            self._call_list_changed = True
            self.kiosk_changed = True

    def take_kiosk_change(self) -> tuple[bool, bool]:
        """(kiosk state changed, catalogue changed) since the last call."""
        changed, self.kiosk_changed = self.kiosk_changed, False
        catalog, self.catalog_changed = self.catalog_changed, False
        return changed, catalog


def floor_of(value: Any) -> int | None:
    """A floor number from the backend, or None when it names none the contract can carry."""
    if isinstance(value, int) and not isinstance(value, bool) and -5 <= value <= 99:
        return value
    return None


def notice_lines(items: Any) -> list[str]:
    """Backend notices ({title, body}) as one display line each, within contract limits."""
    lines: list[str] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not str(item.get("title") or "").strip():
            continue
        title, body = str(item["title"]).strip(), str(item.get("body") or "").strip()
        lines.append((f"{title}：{body}" if body else title)[:2000])
    return lines[:MAX_NOTICES]


def _staff_card(data: Any) -> StaffCard | None:
    if not isinstance(data, dict) or not data.get("name") or not data.get("employee_no"):
        return None
    return StaffCard(name=data["name"], employee_no=data["employee_no"])


_HANDLERS: Final[dict[str, Callable[[HallDisplayModel, int, dict[str, Any]], None]]] = {
    "ticket_issued": HallDisplayModel._on_issued,
    "ticket_called": HallDisplayModel._on_called,
    "ticket_recalled": HallDisplayModel._on_recalled,
    "ticket_finished": HallDisplayModel._on_left_window,
    "ticket_no_show": HallDisplayModel._on_left_window,
    "ticket_transferred": HallDisplayModel._on_left_window,
    # 挂起 frees the window; resuming calls the visitor back like a call.
    "ticket_held": HallDisplayModel._on_left_window,
    "ticket_resumed": HallDisplayModel._on_called,
    "window_state": HallDisplayModel._on_window_state,
    "rating_requested": HallDisplayModel._on_rating_requested,
    "day_closed": HallDisplayModel._on_day_closed,
    "notices_changed": HallDisplayModel._on_notices_changed,
}
