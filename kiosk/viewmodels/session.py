"""What every flow shares: language, navigation, connectivity, busy/alert state, background work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Protocol, TypeVar

from hallbus.errors import ErrorCode
from hallbus.localtime import pushed_zone, to_local
from hallbus.messages import CategoryInfo, ConfigPush, KioskCategory, KioskState
from kiosk.catalog_cache import CatalogCache
from kiosk.gateway import HubGateway, error_code, is_unreachable
from kiosk.i18n import Language, text
from kiosk.printing import ChecklistContent, PrintOutcome, TicketContent

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Screen(StrEnum):
    HOME = "home"
    TICKET = "ticket"
    TICKET_CONFIRM = "ticket_confirm"
    TICKET_DONE = "ticket_done"
    APPOINTMENT = "appointment"
    GUIDE = "guide"
    MATTER = "matter"
    CASE = "case"
    CASE_RESULT = "case_result"
    RATING = "rating"
    RATING_DONE = "rating_done"


class TaskRunner(Protocol):
    def submit(self, work: Callable[[], None]) -> None: ...


class InlineRunner:
    """Runs work at once on the caller's thread (view-model tests: deterministic)."""

    def submit(self, work: Callable[[], None]) -> None:
        work()


class ThreadRunner:
    """Runs requests off the UI thread so the screen never freezes while the hub answers."""

    def __init__(self, workers: int = 3) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kiosk-work")

    def submit(self, work: Callable[[], None]) -> None:
        self._pool.submit(work)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class PrinterPort(Protocol):
    def print_ticket(self, content: TicketContent) -> PrintOutcome: ...

    def print_checklist(self, content: ChecklistContent) -> PrintOutcome: ...


# How long after a failed request the kiosk quietly probes the hub again, so the offline
# banner goes away by itself when the hub is back.
PROBE_INTERVAL_S = 10.0


class Session:
    """Shared state of one kiosk. All mutation happens under ``lock``."""

    def __init__(
        self,
        *,
        gateway: HubGateway,
        cache: CatalogCache,
        printer: PrinterPort,
        runner: TaskRunner,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        hall_name: str,
        languages: list[Language],
    ) -> None:
        self.lock = threading.RLock()
        self.gateway = gateway
        self.cache = cache
        self.printer = printer
        self.runner = runner
        self.now = now
        self.monotonic = monotonic
        self.hall_name = hall_name
        self.languages = languages
        self.default_language: Language = languages[0]
        self.language: Language = self.default_language
        self.screen = Screen.HOME
        self.busy_key: str | None = None
        self.alert_key: str | None = None
        self.connected = False
        self.hub_online: bool | None = None
        self.unreachable = False
        self.last_failure_at = 0.0
        self.kiosk_state: KioskState | None = cache.state
        self.config: ConfigPush | None = None
        self.on_change: Callable[[], None] = lambda: None

    # ----------------------------------------------------------------- helpers

    def t(self, key: str, **values: object) -> str:
        return text(key, self.language, **values)

    @property
    def zone(self) -> tzinfo:
        """The hall's time zone, from the hub's ConfigPush; the district default until
        the first push (never the machine's own zone)."""
        return pushed_zone(self.config.timezone if self.config is not None else None)

    def local_now(self) -> datetime:
        """Now on the hall's wall clock."""
        return to_local(self.now(), self.zone)

    def local(self, instant: datetime) -> datetime:
        return to_local(instant, self.zone)

    def changed(self) -> None:
        self.on_change()

    def go(self, screen: Screen) -> None:
        self.screen = screen
        self.alert_key = None

    @property
    def offline(self) -> bool:
        if not self.connected or self.unreachable:
            return True
        return self.hub_online is False

    @property
    def degraded(self) -> bool:
        return bool(self.kiosk_state and self.kiosk_state.degraded)

    def categories(self) -> list[KioskCategory]:
        """Queue categories: from the hub's kiosk state, else from the pushed config."""
        if self.kiosk_state is not None and self.kiosk_state.categories:
            return list(self.kiosk_state.categories)
        if self.config is not None:
            return [_category_from_config(c) for c in self.config.categories]
        return []

    def category(self, prefix: str | None) -> KioskCategory | None:
        return next((c for c in self.categories() if c.prefix == prefix), None)

    # ------------------------------------------------------------ background work

    def run(
        self,
        busy_key: str | None,
        work: Callable[[], T],
        done: Callable[[T], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """Run ``work`` off the UI thread; ``done``/``failed`` run under the lock afterwards.

        ``busy_key`` names the "please wait" text shown over the screen meanwhile; None for
        background work the visitor should not wait for (search as you type).
        """
        if busy_key is not None:
            with self.lock:
                self.busy_key = busy_key
                self.alert_key = None
            self.changed()

        def job() -> None:
            try:
                result = work()
            except Exception as error:
                with self.lock:
                    if busy_key is not None:
                        self.busy_key = None
                    self.note_failure(error)
                    try:
                        failed(error)
                    except Exception:
                        logger.exception("failure handler failed")
            else:
                with self.lock:
                    if busy_key is not None:
                        self.busy_key = None
                    self.note_success()
                    try:
                        done(result)
                    except Exception:
                        logger.exception("result handler failed")
                        self.alert_key = "error.generic"
            self.changed()

        self.runner.submit(job)

    def note_failure(self, error: BaseException) -> None:
        if is_unreachable(error):
            logger.warning("hub unreachable: %s", error)
            self.unreachable = True
            self.last_failure_at = self.monotonic()
        else:
            logger.info("request refused: %s", error)

    def note_success(self) -> None:
        self.unreachable = False

    def alert_for(self, error: BaseException, *, not_found_key: str = "error.generic") -> str:
        """The plain-words message for a failed request."""
        code = error_code(error)
        if self.offline or is_unreachable(error):
            return "error.timeout" if self.connected else "offline.unavailable"
        if code is ErrorCode.NOT_FOUND:
            return not_found_key
        if code is ErrorCode.CONFLICT:
            return "error.closed"
        if code is ErrorCode.RATE_LIMITED:
            return "error.rate_limited"
        return "error.generic"

    def probe_due(self) -> bool:
        return (
            self.unreachable
            and self.connected
            and self.busy_key is None
            and self.monotonic() - self.last_failure_at >= PROBE_INTERVAL_S
        )


def _category_from_config(info: CategoryInfo) -> KioskCategory:
    return KioskCategory(prefix=info.prefix, name=info.name, enabled=info.enabled)
