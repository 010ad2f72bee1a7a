"""The kiosk's view-model: one visitor session, navigation, idle reset, offline state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hallbus.messages import ConfigPush, KioskState
from kiosk.catalog_cache import CatalogCache
from kiosk.gateway import HubGateway
from kiosk.i18n import Language, table
from kiosk.identity import IdCardRead
from kiosk.viewmodels.cases import CaseFlow, RatingFlow
from kiosk.viewmodels.guide import GuideFlow
from kiosk.viewmodels.session import PrinterPort, Screen, Session, TaskRunner
from kiosk.viewmodels.ticket import TicketFlow

logger = logging.getLogger(__name__)

WEEKDAYS = {
    "zh": ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


class KioskViewModel:
    """Everything a kiosk screen shows, as one flat dict; every visitor action as a method.

    ``publish`` receives the rendered dict after each change (the app passes
    ``UiModel.update``; tests collect it or read ``render()`` directly).
    """

    def __init__(
        self,
        *,
        gateway: HubGateway,
        cache: CatalogCache,
        printer: PrinterPort,
        runner: TaskRunner,
        hall_name: str,
        idle_timeout_s: float,
        languages: list[Language] | None = None,
        has_id_reader: bool = False,
        has_scanner: bool = False,
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        publish: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.session = Session(
            gateway=gateway,
            cache=cache,
            printer=printer,
            runner=runner,
            now=now or (lambda: datetime.now(UTC)),
            monotonic=monotonic,
            hall_name=hall_name,
            languages=languages or ["zh", "en"],
        )
        self.session.on_change = self._publish
        self.idle_timeout_s = idle_timeout_s
        self.has_id_reader = has_id_reader
        self.has_scanner = has_scanner
        self.ticket = TicketFlow(self.session)
        self.guide = GuideFlow(self.session)
        self.case = CaseFlow(self.session)
        self.rating = RatingFlow(self.session)
        self._publish_to = publish
        self._last_touch = monotonic()
        self._actions: dict[str, Callable[..., None]] = {
            "home": self.go_home,
            "toggle_language": self.toggle_language,
            "dismiss_alert": self.dismiss_alert,
            "ticket.open": self.ticket.open,
            "ticket.mode": self.ticket.set_mode,
            "ticket.toggle_priority": self.ticket.toggle_priority,
            "ticket.priority": self.ticket.choose_priority,
            "ticket.category": self.ticket.choose_category,
            "ticket.key": self.ticket.search.press,
            "ticket.matter": self.ticket.choose_matter,
            "ticket.confirm": self.ticket.confirm,
            "ticket.back": lambda: self.session.go(Screen.TICKET),
            "ticket.phone.open": self.ticket.open_phone,
            "ticket.phone.key": self.ticket.phone.press,
            "ticket.phone.accept": self.ticket.accept_phone,
            "ticket.phone.cancel": self.ticket.phone.cancel,
            "ticket.phone.remove": self.ticket.phone.remove,
            "ticket.appointment": self.ticket.open_appointment,
            "appointment.key": self.ticket.appointment_key,
            "appointment.submit": self.ticket.submit_appointment,
            "guide.open": self.guide.open,
            "guide.mode": self.guide.set_mode,
            "guide.select": self.guide.select,
            "guide.key": self.guide.search.press,
            "guide.matter": self.guide.open_matter,
            "guide.back": lambda: self.session.go(Screen.GUIDE),
            "matter.print": self.guide.print_checklist,
            "matter.ticket": self._ticket_for_current_matter,
            "case.open": self.case.open,
            "case.focus": self.case.entry.focus,
            "case.key": self.case.entry.press,
            "case.submit": self.case.submit,
            "case.back": lambda: self.session.go(Screen.CASE),
            "case.rate": self._rate_current_case,
            "rating.open": self.rating.open,
            "rating.focus": self.rating.entry.focus,
            "rating.key": self.rating.entry.press,
            "rating.find": self.rating.find,
            "rating.level": lambda level: self.rating.choose_level(int(level)),
            "rating.reason": self.rating.toggle_reason,
            "rating.submit": self.rating.submit,
        }

    # ------------------------------------------------------------------ actions

    def act(self, name: str, *args: Any) -> None:
        """A visitor touched something: run the action, restart the idle timer, redraw."""
        action = self._actions.get(name)
        if action is None:
            raise KeyError(f"unknown kiosk action {name!r}")
        with self.session.lock:
            self._last_touch = self.session.monotonic()
            action(*args)
        self._publish()

    def touch(self) -> None:
        """Any touch on the screen (including scrolling) counts as activity."""
        self._last_touch = self.session.monotonic()

    def go_home(self) -> None:
        self._reset_visitor()

    def toggle_language(self) -> None:
        languages = self.session.languages
        if len(languages) < 2:
            return
        current = (
            languages.index(self.session.language) if self.session.language in languages else 0
        )
        self.session.language = languages[(current + 1) % len(languages)]

    def dismiss_alert(self) -> None:
        self.session.alert_key = None

    def _ticket_for_current_matter(self) -> None:
        detail, item = self.guide.detail, self.guide.item
        code = detail.matter_code if detail else (item.matter_code if item else None)
        name = detail.name if detail else (item.name if item else "")
        if code is not None:
            self.ticket.ticket_for_matter(code, name)

    def _rate_current_case(self) -> None:
        if self.case.status is not None:
            self.rating.open_for_case(self.case.status)

    def _reset_visitor(self) -> None:
        """Forget everything the last visitor typed or read (idle timeout and 返回首页)."""
        session = self.session
        self.ticket.reset()
        self.guide.reset()
        self.case.reset()
        self.rating.reset()
        session.alert_key = None
        session.busy_key = None
        session.language = session.default_language
        session.go(Screen.HOME)

    # --------------------------------------------------------------- clock tick

    def tick(self) -> None:
        """Called every second by the app: idle reset, recovery probe, clock text."""
        session = self.session
        probe = False
        with session.lock:
            idle_for = session.monotonic() - self._last_touch
            if session.screen is not Screen.HOME and idle_for >= self.idle_timeout_s:
                logger.info("idle for %.0f s: back to the home screen", idle_for)
                self._reset_visitor()
            if session.probe_due():
                session.last_failure_at = session.monotonic()
                probe = True
        if probe:
            session.runner.submit(self._probe)
        self._publish()

    def _probe(self) -> None:
        """A tiny request that tells whether the hub answers again."""
        session = self.session
        try:
            session.gateway.search_catalog("", limit=1)
        except Exception as error:
            with session.lock:
                session.note_failure(error)
        else:
            with session.lock:
                session.note_success()
            logger.info("hub answers again")
        self._publish()

    # ------------------------------------------------------- network callbacks

    def set_connected(self, connected: bool) -> None:
        with self.session.lock:
            if connected == self.session.connected:
                return
            self.session.connected = connected
            if connected:
                # A fresh connection is a fresh chance; the next failure will tell.
                self.session.unreachable = False
        self._publish()

    def on_hub_status(self, online: bool) -> None:
        with self.session.lock:
            self.session.hub_online = online
            if online:
                self.session.unreachable = False
        self._publish()

    def on_kiosk_state(self, state: KioskState) -> None:
        self.session.cache.remember_state(state)
        with self.session.lock:
            self.session.kiosk_state = state
            if self.session.screen is Screen.GUIDE and not self.guide.selected:
                self.guide.set_mode(self.guide.mode)
        self._publish()

    def on_config(self, config: ConfigPush) -> None:
        with self.session.lock:
            self.session.config = config
            self.session.hall_name = config.hall_name
            timeout = config.settings.get("idle_timeout_s")
            if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout >= 10:
                self.idle_timeout_s = float(timeout)
        self._publish()

    def on_id_card(self, read: IdCardRead) -> None:
        with self.session.lock:
            self._last_touch = self.session.monotonic()
            self.ticket.id_card_read(read)
        self._publish()

    def on_scan(self, code: str) -> None:
        """A QR/barcode was scanned: a receipt number for lookup or rating."""
        session = self.session
        with session.lock:
            self._last_touch = session.monotonic()
            if session.screen is Screen.RATING and self.rating.step == "find":
                entry = self.rating.entry
            else:
                entry = self.case.entry
                if session.screen is not Screen.CASE:
                    self.case.reset()
                    session.go(Screen.CASE)
            if not entry.scanned(code):
                entry.error_key = "case.invalid_receipt"
        self._publish()

    # ------------------------------------------------------------------ render

    def _publish(self) -> None:
        if self._publish_to is not None:
            self._publish_to(self.render())

    def render(self) -> dict[str, Any]:
        session = self.session
        with session.lock:
            t = session.t
            now = session.local_now()
            notices = self._notices()
            if session.offline:
                banner, banner_kind = t("offline.banner"), "offline"
            elif session.degraded:
                banner, banner_kind = t("degraded.banner"), "degraded"
            else:
                banner, banner_kind = "", ""
            values: dict[str, Any] = {
                "screen": session.screen.value,
                "lang": session.language,
                "t": table(session.language),
                "can_toggle_language": len(session.languages) > 1,
                "hall_name": session.hall_name,
                "clock_text": now.strftime("%H:%M"),
                "date_text": now.strftime("%Y-%m-%d ") + WEEKDAYS[session.language][now.weekday()],
                "notice_text": "\n".join(notices) if notices else t("home.no_notice"),
                "offline": session.offline,
                "banner": banner,
                "banner_kind": banner_kind,
                "can_take_ticket": not session.offline,
                "busy": session.busy_key is not None,
                "busy_text": t(session.busy_key) if session.busy_key else "",
                "alert": t(session.alert_key) if session.alert_key else "",
                "has_id_reader": self.has_id_reader,
                "has_scanner": self.has_scanner,
            }
            values.update(self.ticket.render())
            values.update(self.guide.render())
            values.update(self.case.render())
            values.update(self.rating.render())
            return values

    def _notices(self) -> list[str]:
        session = self.session
        notices: list[str] = []
        if session.config is not None and session.config.notice:
            notices.append(session.config.notice)
        if session.kiosk_state is not None:
            notices += [n for n in session.kiosk_state.notices if n not in notices]
        return notices
