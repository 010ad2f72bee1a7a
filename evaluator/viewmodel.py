"""The evaluator's screen logic in plain Python: what to show, what a touch or key means.

No Kivy here. Network handlers (MQTT worker thread), the key box (its own thread)
and the Kivy clock all call in; a lock serialises them, and every change is
published as an immutable `ViewState` to listeners (the app turns it into widget
properties on the Kivy clock).

Rules that make the rating trustworthy (一次一评, never an invented rating):

- A rating exists only after a person chose a level (on the screen or a key) and,
  for 不满意 / 非常不满意, at least one reason. Nothing ever picks a level for them.
- If nobody chooses a level in time, or a bad rating is left without reasons, the
  request expires and nothing is recorded (`expired` screen).
- The optional dimension scores come after the rating is complete; walking away
  there submits the level and reasons already given, with the scores answered so far.
- Each `rate_now` is answered at most once: repeats (QoS 1 redelivery, a replay,
  one already rated before a restart) and requests for another window are ignored.
- A key box press counts once per request; presses while nothing is asked are ignored.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Final, Protocol

from evaluator import texts
from evaluator.texts import BAD_LEVELS, LEVELS, Language
from hallbus.localtime import TIME, format_local, pushed_zone
from hallbus.messages import ConfigPush, RateNow, SubmitRating, WindowDisplayState

log = logging.getLogger(__name__)

NOTE_MAX_CHARS: Final = 500  # the backend stores at most 500 characters
MAX_REASONS: Final = 10  # the backend accepts at most 10 reasons
_REMEMBERED_REQUESTS: Final = 256


class Screen(StrEnum):
    IDLE = "idle"
    ASK_LEVEL = "ask_level"
    DIMENSIONS = "dimensions"
    BAD_REASONS = "bad_reasons"
    THANKS = "thanks"
    EXPIRED = "expired"
    OFFLINE = "offline"


class Decision(StrEnum):
    """What became of a rate_now command (logged, and asserted in tests)."""

    ACCEPTED = "accepted"
    FOREIGN_WINDOW = "foreign_window"
    ALREADY_ANSWERED = "already_answered"
    ALREADY_ACTIVE = "already_active"
    ALREADY_EXPIRED = "already_expired"
    NOTHING_TO_RATE = "nothing_to_rate"


class RatingSink(Protocol):
    """Where finished ratings go: the durable pending store (evaluator.pending)."""

    def store_rating(self, rating: SubmitRating) -> bool:
        """Durably keep the rating; False if this rate_now already has one."""
        ...

    def was_answered(self, request_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class EvaluatorSettings:
    window: str
    timeout_s: int = 30
    dimensions: tuple[str, ...] = ()
    bad_reasons: tuple[str, ...] = texts.BUILTIN_BAD_REASONS
    # Whether the hub's ConfigPush may replace the reason list.
    reasons_from_hub: bool = True
    result_seconds: float = 5.0  # how long the thank-you / expired screen stays


@dataclass(frozen=True, slots=True)
class Choice:
    """A button on screen: the value it sends back and its caption."""

    value: str
    label: str
    selected: bool = False


@dataclass(frozen=True, slots=True)
class ViewState:
    """Everything the widgets show, already in the chosen language."""

    screen: Screen
    language: Language
    language_toggle: str
    banner: str
    lamp_on: bool
    # idle
    window_title: str
    has_clerk: bool
    clerk_name: str
    clerk_no: str
    department: str
    stars: str
    photo_url: str
    window_state: str
    window_state_kind: str
    idle_hint: str
    # asking
    ask_title: str
    service_text: str
    clerk_text: str
    seconds_left: str
    levels: tuple[Choice, ...]
    # dimensions
    dimension_title: str
    dimension_name: str
    dimension_progress: str
    dimension_scores: tuple[Choice, ...]
    skip_text: str
    # bad reasons
    reasons_title: str
    reasons: tuple[Choice, ...]
    note: str
    note_hint: str
    can_submit_reasons: bool
    submit_text: str
    submit_hint: str
    back_text: str
    # thanks / expired / offline
    result_title: str
    result_body: str


def split_setting_list(value: object) -> tuple[str, ...]:
    """A list pushed as one ConfigPush string ('a|b|c', one per line, or '；'-separated)."""
    if not isinstance(value, str):
        return ()
    for separator in ("\n", "；", ";"):
        value = value.replace(separator, "|")
    return tuple(item.strip() for item in value.split("|") if item.strip())


class EvaluatorViewModel:
    def __init__(
        self,
        settings: EvaluatorSettings,
        sink: RatingSink,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._clock = clock
        # The hall's zone (ConfigPush `timezone`): times shown are its wall-clock times.
        self._zone: tzinfo = pushed_zone(None)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[ViewState], None]] = []
        self._language: Language = "zh"
        self._screen = Screen.IDLE
        self._window_state: WindowDisplayState | None = None
        self._config_seq = -1
        self._connected = False
        self._hub_online = True
        self._pending_count = 0
        # The request being answered, and what has been chosen for it so far.
        self._active: RateNow | None = None
        self._deadline: datetime | None = None
        self._level: int | None = None
        self._reasons: list[str] = []
        self._note = ""
        self._dimension_index = 0
        self._dimension_scores: dict[str, int] = {}
        self._key_box_used_for: str | None = None
        self._result_until: datetime | None = None
        self._result_was_bad = False
        # Requests seen (answered, expired or superseded) so a redelivered
        # rate_now never opens a second rating for the same service.
        self._seen_requests: deque[str] = deque(maxlen=_REMEMBERED_REQUESTS)

    # ------------------------------------------------------------------ observing

    def listen(self, listener: Callable[[ViewState], None]) -> None:
        self._listeners.append(listener)
        listener(self.view())

    @property
    def screen(self) -> Screen:
        with self._lock:
            return self._screen_shown()

    @property
    def settings(self) -> EvaluatorSettings:
        return self._settings

    @property
    def active_request_id(self) -> str | None:
        with self._lock:
            return self._active.request_id if self._active else None

    def _changed(self) -> None:
        # Under the lock, so two threads cannot deliver their views out of order
        # (listeners only hand the view on: UiModel.update, a queue put).
        with self._lock:
            view = self._build_view(self._clock())
            for listener in self._listeners:
                listener(view)

    # ---------------------------------------------------------------- hub input

    def apply_window_state(self, state: WindowDisplayState) -> bool:
        """Show the clerk and window state; older `seq` (retained redelivery) is ignored."""
        with self._lock:
            if state.window != self._settings.window:
                log.warning(
                    "state for window %s ignored (this is %s)", state.window, self._settings.window
                )
                return False
            if self._window_state is not None and state.seq < self._window_state.seq:
                return False
            self._window_state = state
        self._changed()
        return True

    def apply_config(self, push: ConfigPush) -> bool:
        """Take the knobs this device knows from a ConfigPush; unknown keys are ignored."""
        with self._lock:
            if push.seq < self._config_seq:
                return False
            self._config_seq = push.seq
            settings = self._settings
            timeout = push.settings.get("timeout_s")
            if isinstance(timeout, int) and not isinstance(timeout, bool) and 5 <= timeout <= 600:
                settings = replace(settings, timeout_s=timeout)
            dimensions = split_setting_list(push.settings.get("dimensions"))
            if dimensions:
                settings = replace(settings, dimensions=dimensions)
            reasons = split_setting_list(push.settings.get("bad_reasons"))
            if reasons and settings.reasons_from_hub:
                settings = replace(settings, bad_reasons=reasons[: MAX_REASONS * 2])
            self._settings = settings
            self._zone = pushed_zone(push.timezone)
        self._changed()
        return True

    def rate_now(self, command: RateNow) -> Decision:
        now = self._clock()
        with self._lock:
            decision = self._check_rate_now(command, now)
            if decision is Decision.ACCEPTED:
                if self._active is not None:
                    # The clerk finished another service before this one was rated:
                    # the older request lapses unrated (nothing is recorded for it).
                    log.info(
                        "rate_now %s supersedes %s", command.request_id, self._active.request_id
                    )
                self._reset_flow()
                self._active = command
                self._seen_requests.append(command.request_id)
                self._deadline = min(command.expires_at, now + self._timeout())
                self._screen = Screen.ASK_LEVEL
        log.info("rate_now %s: %s", command.request_id, decision.value)
        if decision is Decision.ACCEPTED:
            self._changed()
        return decision

    def _check_rate_now(self, command: RateNow, now: datetime) -> Decision:
        if command.window != self._settings.window:
            return Decision.FOREIGN_WINDOW
        if command.ticket_number is None and command.case_receipt is None:
            return Decision.NOTHING_TO_RATE
        if self._active is not None and self._active.request_id == command.request_id:
            return Decision.ALREADY_ACTIVE
        if command.request_id in self._seen_requests or self._sink.was_answered(command.request_id):
            return Decision.ALREADY_ANSWERED
        if command.expires_at <= now:
            return Decision.ALREADY_EXPIRED
        return Decision.ACCEPTED

    def set_connection(self, *, connected: bool, hub_online: bool) -> None:
        with self._lock:
            if (connected, hub_online) == (self._connected, self._hub_online):
                return
            self._connected, self._hub_online = connected, hub_online
        self._changed()

    def set_pending_count(self, count: int) -> None:
        with self._lock:
            if count == self._pending_count:
                return
            self._pending_count = count
        self._changed()

    # ------------------------------------------------------------- person input

    def choose_level(self, level: int, *, from_key_box: bool = False) -> bool:
        """The person picked a level; False when nothing was being asked (ignored)."""
        if level not in LEVELS:
            raise ValueError(f"level must be 1..5, not {level}")
        now = self._clock()
        with self._lock:
            if self._active is None or self._screen is not Screen.ASK_LEVEL:
                return False
            if from_key_box:
                if self._key_box_used_for == self._active.request_id:
                    return False
                self._key_box_used_for = self._active.request_id
            self._level = level
            self._touch(now)
            if level in BAD_LEVELS:
                self._screen = Screen.BAD_REASONS
            else:
                self._after_reasons(now)
        self._changed()
        return True

    def toggle_reason(self, reason: str) -> None:
        with self._lock:
            if self._screen is not Screen.BAD_REASONS or reason not in self._settings.bad_reasons:
                return
            if reason in self._reasons:
                self._reasons.remove(reason)
            elif len(self._reasons) < MAX_REASONS:
                self._reasons.append(reason)
            self._touch(self._clock())
        self._changed()

    def set_note(self, note: str) -> None:
        with self._lock:
            if self._screen is not Screen.BAD_REASONS:
                return
            self._note = note[:NOTE_MAX_CHARS]
            self._touch(self._clock())
        self._changed()

    def submit_reasons(self) -> bool:
        now = self._clock()
        with self._lock:
            if self._screen is not Screen.BAD_REASONS or not self._reasons:
                return False
            self._touch(now)
            self._after_reasons(now)
        self._changed()
        return True

    def back_to_levels(self) -> None:
        """A mis-tap on 不满意: choose the level again (reasons are cleared)."""
        with self._lock:
            if self._screen is not Screen.BAD_REASONS:
                return
            self._level = None
            self._reasons = []
            self._note = ""
            self._screen = Screen.ASK_LEVEL
            self._touch(self._clock())
        self._changed()

    def score_dimension(self, score: int) -> None:
        if score not in LEVELS:
            raise ValueError(f"score must be 1..5, not {score}")
        now = self._clock()
        with self._lock:
            if self._screen is not Screen.DIMENSIONS:
                return
            dimensions = self._settings.dimensions
            self._dimension_scores[dimensions[self._dimension_index]] = score
            self._dimension_index += 1
            self._touch(now)
            if self._dimension_index >= len(dimensions):
                self._commit(now)
        self._changed()

    def skip_dimensions(self) -> None:
        now = self._clock()
        with self._lock:
            if self._screen is not Screen.DIMENSIONS:
                return
            self._commit(now)
        self._changed()

    def dismiss_result(self) -> None:
        """A touch on the thank-you / expired screen goes straight back to idle."""
        with self._lock:
            if self._screen not in (Screen.THANKS, Screen.EXPIRED):
                return
            self._screen = Screen.IDLE
            self._result_until = None
        self._changed()

    def toggle_language(self) -> None:
        with self._lock:
            self._language = "en" if self._language == "zh" else "zh"
        self._changed()

    # --------------------------------------------------------------------- time

    def tick(self) -> None:
        """Called about once a second: expiry, leaving result screens, countdown."""
        now = self._clock()
        with self._lock:
            if self._active is not None and self._deadline is not None and now >= self._deadline:
                if self._screen is Screen.DIMENSIONS:
                    # Level (and reasons) were given: a finished rating, scores optional.
                    self._commit(now)
                else:
                    log.info(
                        "rate_now %s expired unrated; nothing recorded", self._active.request_id
                    )
                    self._reset_flow()
                    self._screen = Screen.EXPIRED
                    self._result_until = now + timedelta(seconds=self._settings.result_seconds)
            elif (
                self._screen in (Screen.THANKS, Screen.EXPIRED)
                and self._result_until is not None
                and now >= self._result_until
            ):
                self._screen = Screen.IDLE
                self._result_until = None
        self._changed()

    # ------------------------------------------------------------------ internals

    def _timeout(self) -> timedelta:
        return timedelta(seconds=self._settings.timeout_s)

    def _touch(self, now: datetime) -> None:
        # Once a level is chosen the person is clearly there: each touch gives
        # them the full time again for the next step.
        if self._level is not None:
            self._deadline = now + self._timeout()

    def _after_reasons(self, now: datetime) -> None:
        if self._settings.dimensions:
            self._dimension_index = 0
            self._screen = Screen.DIMENSIONS
        else:
            self._commit(now)

    def _commit(self, now: datetime) -> None:
        active, level = self._active, self._level
        assert active is not None and level is not None
        rating = SubmitRating(
            rating_id=uuid.uuid4().hex,
            ticket_number=active.ticket_number,
            case_receipt=active.case_receipt,
            window=self._settings.window,
            level=level,
            reasons=list(self._reasons) if level in BAD_LEVELS else [],
            note=(self._note.strip() or None) if level in BAD_LEVELS else None,
            dimensions=dict(self._dimension_scores),
            rated_at=now,
            request_id=active.request_id,
        )
        # Stored durably before the thank-you appears: a power cut after the
        # person saw "感谢" must not lose the rating.
        if not self._sink.store_rating(rating):
            log.warning("rate_now %s already has a rating; second one dropped", active.request_id)
        self._result_was_bad = level in BAD_LEVELS
        self._reset_flow()
        self._screen = Screen.THANKS
        self._result_until = now + timedelta(seconds=self._settings.result_seconds)

    def _reset_flow(self) -> None:
        self._active = None
        self._deadline = None
        self._level = None
        self._reasons = []
        self._note = ""
        self._dimension_index = 0
        self._dimension_scores = {}

    def _screen_shown(self) -> Screen:
        if self._screen is Screen.IDLE and not (self._connected and self._hub_online):
            return Screen.OFFLINE
        return self._screen

    # --------------------------------------------------------------------- view

    def view(self) -> ViewState:
        now = self._clock()
        with self._lock:
            return self._build_view(now)

    def _build_view(self, now: datetime) -> ViewState:
        lang = self._language
        settings = self._settings
        state = self._window_state
        staff = state.staff if state else None
        screen = self._screen_shown()
        active = self._active

        window_state_kind = state.state if state else "closed"
        window_state = texts.window_state_label(window_state_kind, lang)
        if state is not None and state.state == "paused":
            extras = [state.pause_reason or ""]
            if state.expected_back is not None:
                back = format_local(state.expected_back, self._zone, TIME)
                extras.append(texts.text("expected_back", lang, time=back))
            window_state = " · ".join(part for part in (window_state, *extras) if part)

        service_parts = ""
        clerk_text = ""
        seconds_left = ""
        if active is not None:
            subject = active.ticket_number or active.case_receipt or ""
            matter = active.matter_name or ""
            service_parts = (
                texts.text("ask_service", lang, ticket=subject, matter=matter)
                if matter
                else subject
            )
            clerk_text = texts.text(
                "ask_clerk", lang, name=active.staff_name, no=active.employee_no
            )
            if self._deadline is not None:
                remaining = max(0, int((self._deadline - now).total_seconds() + 0.999))
                seconds_left = texts.text("seconds_left", lang, s=remaining)

        dimensions = settings.dimensions
        dimension_name = ""
        dimension_progress = ""
        if screen is Screen.DIMENSIONS and self._dimension_index < len(dimensions):
            dimension_name = dimensions[self._dimension_index]
            dimension_progress = texts.text(
                "dimension_progress", lang, i=self._dimension_index + 1, n=len(dimensions)
            )

        if screen is Screen.THANKS:
            result_title = texts.text("thanks_title", lang)
            result_body = texts.text("thanks_bad" if self._result_was_bad else "thanks_good", lang)
        elif screen is Screen.EXPIRED:
            result_title = texts.text("expired_title", lang)
            result_body = texts.text("expired_body", lang)
        elif screen is Screen.OFFLINE:
            result_title = texts.text("offline_title", lang)
            result_body = texts.text("offline_body", lang)
        else:
            result_title = result_body = ""

        banner_parts = []
        if not (self._connected and self._hub_online) and screen is not Screen.OFFLINE:
            banner_parts.append(texts.text("offline_banner", lang))
        if self._pending_count and screen in (Screen.IDLE, Screen.OFFLINE):
            banner_parts.append(texts.text("pending_count", lang, n=self._pending_count))

        return ViewState(
            screen=screen,
            language=lang,
            language_toggle=texts.text("language_toggle", lang),
            banner="  ".join(banner_parts),
            lamp_on=screen is Screen.ASK_LEVEL,
            window_title=texts.text("window_title", lang, window=settings.window),
            has_clerk=staff is not None,
            clerk_name=staff.name if staff else texts.text("no_clerk", lang),
            clerk_no=texts.text("employee_no", lang, no=staff.employee_no) if staff else "",
            department=state.department_name if state else "",
            stars=(
                texts.text("stars", lang, stars=texts.star_string(staff.stars))
                if staff is not None and staff.stars is not None
                else texts.text("stars_none", lang)
            ),
            photo_url=(staff.photo_url or "") if staff else "",
            window_state=window_state,
            window_state_kind=window_state_kind,
            idle_hint=texts.text("idle_hint", lang),
            ask_title=texts.text("ask_title", lang),
            service_text=service_parts,
            clerk_text=clerk_text,
            seconds_left=seconds_left,
            levels=tuple(
                Choice(str(level), texts.level_label(level, lang), self._level == level)
                for level in LEVELS
            ),
            dimension_title=texts.text("dimensions_title", lang),
            dimension_name=dimension_name,
            dimension_progress=dimension_progress,
            dimension_scores=tuple(
                Choice(str(level), texts.level_label(level, lang)) for level in LEVELS
            ),
            skip_text=texts.text("skip_submit", lang),
            reasons_title=texts.text("reasons_title", lang),
            reasons=_reason_choices(settings.bad_reasons, self._reasons),
            note=self._note,
            note_hint=texts.text("note_hint", lang),
            can_submit_reasons=bool(self._reasons),
            submit_text=texts.text("submit", lang),
            submit_hint="" if self._reasons else texts.text("choose_reason_first", lang),
            back_text=texts.text("back_to_levels", lang),
            result_title=result_title,
            result_body=result_body,
        )


def _reason_choices(available: Sequence[str], chosen: Sequence[str]) -> tuple[Choice, ...]:
    return tuple(Choice(reason, reason, reason in chosen) for reason in available)
