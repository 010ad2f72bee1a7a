"""The retained KioskState every kiosk shows before anyone touches it.

Built from three sources, all through the backend's existing API:

- the hall snapshot the event reader keeps (categories with waiting counts and
  wait estimates, notices), updated by ticket, window and notice events;
- the catalogue digest, loaded here at start and after `catalog_changed`: the
  departments of the matters this hall handles (GET /catalog/departments?hall=),
  and per matter (search by department and hall, then GET /catalog/matters/<code>
  ?hall=) its life events, this hall's queue category for it and its department;
- where each category's windows are, as the relay learnt from online tickets.

A background thread publishes at most every MIN_INTERVAL_S (a burst of ticket
events costs one message per kiosk, not one per event) and only when the content
changed, unless asked to republish (after a broker restart).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from hallbus.messages import KioskCategory, KioskDepartment, KioskState
from hallbus.topics import DeviceType
from hub.backend import BackendClient, BackendRejected, BackendUnavailable
from hub.display import CategoryView, floor_of
from hub.metrics import HubMetrics
from hub.reachability import BackendReachability
from hub.registry import DeviceRegistry
from hub.translate import CategoryPlace

log = logging.getLogger(__name__)

MIN_INTERVAL_S: Final = 0.5
# After a failed catalogue load, try again this much later (or when the backend returns).
DIGEST_RETRY_S: Final = 60.0
# The search API's largest page; a department with more matters is listed partly.
SEARCH_PAGE: Final = 100
MAX_LIFE_EVENTS: Final = 100


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: BaseModel | bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class HallView:
    """What the event reader's model says about the queues (a copy, taken under its lock)."""

    categories: list[CategoryView]
    details: dict[str, dict[str, Any]]
    notices: list[str]
    loaded: bool  # False until the first snapshot


@dataclass(frozen=True, slots=True)
class CatalogDigest:
    departments: list[KioskDepartment] = field(default_factory=list)
    life_events: list[str] = field(default_factory=list)
    # queue category -> codes of the departments whose matters it serves
    category_departments: dict[str, list[str]] = field(default_factory=dict)
    # matter code -> queue category (offline tickets by matter)
    matter_categories: dict[str, str] = field(default_factory=dict)


def load_catalog_digest(backend: BackendClient, stopping: threading.Event) -> CatalogDigest:
    """Walk the hall's catalogue through the public API (one GET per department and per
    matter): only what this hall handles (`hall=`), in this hall's queue categories."""
    hall: dict[str, str | int | float] = {"hall": backend.hall_code}
    listed = (
        backend.call("GET", "/api/v1/catalog/departments", query=hall).body.get("departments") or []
    )
    names = {str(d["code"]): str(d.get("name") or d["code"]) for d in listed if d.get("code")}
    life_events: dict[str, None] = {}  # ordered set, in catalogue order
    category_departments: dict[str, dict[str, None]] = {}
    matter_categories: dict[str, str] = {}
    used: dict[str, None] = {}
    for code in names:
        if stopping.is_set():
            break
        hits = backend.call(
            "GET",
            "/api/v1/catalog/search",
            query={"q": "", "department": code, "limit": SEARCH_PAGE, **hall},
        ).body.get("results", [])
        if len(hits) >= SEARCH_PAGE:
            log.warning("department %s has %s+ matters; the kiosks list the first", code, len(hits))
        for hit in hits:
            matter = backend.call(
                "GET", f"/api/v1/catalog/matters/{quote(str(hit['code']), safe='')}", query=hall
            ).body
            used[code] = None
            for event in matter.get("life_events") or []:
                life_events.setdefault(str(event), None)
            category = matter.get("queue_category")
            if isinstance(category, str):
                matter_categories[str(matter["code"])] = category
                category_departments.setdefault(category, {})[code] = None
    return CatalogDigest(
        departments=[_department(code, names[code]) for code in used],
        life_events=[e for e in life_events if 0 < len(e) <= 200][:MAX_LIFE_EVENTS],
        category_departments={k: list(v) for k, v in category_departments.items()},
        matter_categories=matter_categories,
    )


def _department(code: str, name: str) -> KioskDepartment:
    return KioskDepartment(code=code[:200], name=name[:200])


def build_kiosk_state(
    *,
    seq: int,
    hall: HallView,
    digest: CatalogDigest,
    places: dict[str, CategoryPlace],
    degraded: bool,
) -> KioskState:
    """The KioskState for the current view; categories the contract cannot express are
    left out (logged) rather than holding up every kiosk."""
    categories: list[KioskCategory] = []
    floors: dict[str, set[int | None]] = {}
    for view in hall.categories:
        detail = hall.details.get(view.prefix, {})
        place = places.get(view.prefix)
        # The snapshot names the category's floor, area and priority rule; a backend
        # that sends none leaves what online tickets showed.
        enabled = detail.get("active", detail.get("enabled", True))
        priority = detail.get("priority_allowed")
        floor = floor_of(detail.get("floor"))
        if floor is None and place is not None:
            floor = place.floor
        area = detail.get("area") or (place.area if place else None)
        served = digest.category_departments.get(view.prefix, [])
        try:
            category = KioskCategory(
                prefix=view.prefix,
                name=view.name,
                enabled=enabled if isinstance(enabled, bool) else True,
                waiting=view.waiting,
                estimated_wait_minutes=view.forecast(view.waiting),
                priority_allowed=priority if isinstance(priority, bool) else None,
                floor=floor,
                window_area=str(area)[:200] if area else None,
                departments=served,
            )
        except ValidationError as exc:
            log.warning("category %s left out of the kiosk state: %s", view.prefix, exc)
            continue
        categories.append(category)
        for code in served:
            floors.setdefault(code, set()).add(category.floor)
    departments = [
        # A department whose categories all sit on one floor is on that floor.
        department.model_copy(update={"floor": next(iter(floors[department.code]))})
        if len(floors.get(department.code, set())) == 1
        else department
        for department in digest.departments
    ]
    return KioskState(
        seq=seq,
        categories=categories[:50],
        departments=departments[:100],
        life_events=digest.life_events,
        notices=hall.notices,
        degraded=degraded,
    )


class KioskStatePublisher:
    """Thread `hub-kiosk-state`: keeps every kiosk's retained state current."""

    def __init__(
        self,
        *,
        registry: DeviceRegistry,
        backend: BackendClient,
        publisher: Publisher,
        hall_view: Callable[[], HallView],
        places: Callable[[], dict[str, CategoryPlace]],
        on_digest: Callable[[CatalogDigest], None],
        reachability: BackendReachability,
        next_seq: Callable[[], int],
        metrics: HubMetrics,
        stopping: threading.Event,
        min_interval_s: float = MIN_INTERVAL_S,
        degraded: Callable[[], bool] | None = None,
    ) -> None:
        # KioskState.degraded: whenever the backend does not decide the queue (the
        # hub's mode is not online); without a desk, the backend's reachability.
        self._degraded = degraded or (lambda: not reachability.reachable)
        self._registry = registry
        self._backend = backend
        self._publisher = publisher
        self._hall_view = hall_view
        self._places = places
        self._on_digest = on_digest
        self._reachability = reachability
        self._next_seq = next_seq
        self._metrics = metrics
        self._stopping = stopping
        self._min_interval_s = min_interval_s
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._force = False
        self._digest_stale = True
        self._digest_failed_at: float | None = None
        self.digest = CatalogDigest()
        self._last_content: dict[str, Any] | None = None
        self.published = threading.Event()  # set after the first publish (tests, readiness)
        self._thread = threading.Thread(target=self._run, name="hub-kiosk-state", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._wake.set()
        self._thread.join(timeout)

    # ------------------------------------------------------------ other threads

    def changed(self) -> None:
        """Something a kiosk shows may have changed (debounced)."""
        self._wake.set()

    def catalog_changed(self) -> None:
        with self._lock:
            self._digest_stale = True
        self._wake.set()

    def republish(self) -> None:
        """Send the state again even if unchanged (the broker may have lost it)."""
        with self._lock:
            self._force = True
        self._wake.set()

    # ---------------------------------------------------------------- the loop

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(DIGEST_RETRY_S)
            if self._stopping.is_set():
                return
            self._wake.clear()
            try:
                self._publish()
                if self._digest_due():
                    self._load_digest()
                    self._publish()
            except Exception:
                if self._stopping.is_set():
                    return  # the hub is stopping under us; nothing to report
                log.exception("kiosk state not published")
            # Debounce: changes arriving meanwhile are sent together after the pause.
            self._stopping.wait(self._min_interval_s)

    def _digest_due(self) -> bool:
        with self._lock:
            if not self._digest_stale or not self._reachability.reachable:
                return False
        failed_at = self._digest_failed_at
        return failed_at is None or time.monotonic() - failed_at >= DIGEST_RETRY_S

    def _load_digest(self) -> None:
        with self._lock:
            self._digest_stale = False
        started = time.monotonic()
        try:
            digest = load_catalog_digest(self._backend, self._stopping)
        except (BackendUnavailable, BackendRejected, KeyError, TypeError, ValueError) as exc:
            with self._lock:
                self._digest_stale = True
            self._digest_failed_at = time.monotonic()
            log.warning("catalogue for the kiosks not loaded: %s", exc)
            return
        self._digest_failed_at = None
        self.digest = digest
        self._on_digest(digest)
        log.info(
            "catalogue for the kiosks: %s departments, %s life events, %s matters in %.1f s",
            len(digest.departments),
            len(digest.life_events),
            len(digest.matter_categories),
            time.monotonic() - started,
        )

    def _publish(self) -> None:
        hall = self._hall_view()
        kiosks = self._registry.of_type(DeviceType.KIOSK)
        if not hall.loaded or not kiosks:
            return
        state = build_kiosk_state(
            seq=0,
            hall=hall,
            digest=self.digest,
            places=self._places(),
            degraded=self._degraded(),
        )
        content = state.model_dump(mode="json", exclude={"seq"})
        with self._lock:
            force, self._force = self._force, False
        if not force and content == self._last_content:
            return
        state = state.model_copy(update={"seq": self._next_seq()})
        for record in _sorted(kiosks):
            self._metrics.count("messages_out")
            self._metrics.count("published_kiosk_state")
            self._publisher.publish(record.ref.state_topic(), state, retain=True)
        self._last_content = content
        self.published.set()


def _sorted(records: Iterable[Any]) -> list[Any]:
    return sorted(records, key=lambda record: record.ref.device_id)
