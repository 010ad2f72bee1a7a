"""The queue: issuing tickets, calling them, and every later step of a ticket.

Atomicity of call-next: the window row is locked first (one clerk per window),
then the next ticket is chosen with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
two windows calling at the same instant lock two different tickets and neither
waits for the other; a ticket locked by a transaction that then rolls back is
still waiting and is called next time, never lost. On SQLite the write
transaction holds the database write lock from its first statement (BEGIN
IMMEDIATE), which serialises call-next completely.

Ticket numbers come from a per-category, per-day counter row incremented with
UPDATE … RETURNING, so concurrent kiosks never share a number.
"""

from __future__ import annotations

import json
import secrets
import time as time_module
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.errors import BadInput, Conflict, InvalidTransition, NotFound, QueueUnavailable
from backend.models import (
    Appointment,
    AppointmentState,
    Channel,
    DailySequence,
    Floor,
    Hall,
    MatterVersion,
    QueueCategory,
    Staff,
    Standing,
    Ticket,
    TicketBlock,
    TicketState,
    Window,
    WindowCategory,
    WindowState,
)
from backend.services import eventlog
from backend.services.audit import record
from backend.services.policy import HallPolicy
from backend.services.rawsql import RawSql
from hallbus.forecast import wait_minutes
from hallbus.localtime import hall_zone, local_date

PRIORITY_KINDS = {"elderly": "老年人", "disabled": "残疾人", "military": "军人", "pregnant": "孕妇"}


def zone(name: str) -> ZoneInfo:
    """A hall's zone (hallbus.localtime: the one rule every app formats times with)."""
    return hall_zone(name)


def local_day(now: datetime, timezone: str | tzinfo) -> date:
    """The hall-local day of an instant: the service day, business day boundaries."""
    return local_date(now, timezone)


@dataclass(frozen=True)
class TicketView:
    id: int
    number: str
    category: str
    category_name: str
    state: str
    standing: int
    priority_kind: str | None
    channel: str
    issued_at: datetime
    called_at: datetime | None
    window: str | None
    recall_count: int
    public_token: str
    ahead: int | None = None
    estimated_wait_minutes: int | None = None
    area: str = ""
    floor: int | None = None

    def as_json(self, *, include_token: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "number": self.number,
            "category": self.category,
            "category_name": self.category_name,
            "state": self.state,
            "standing": Standing(self.standing).name.lower(),
            "priority_kind": self.priority_kind,
            "channel": self.channel,
            "issued_at": self.issued_at.isoformat(),
            "called_at": self.called_at.isoformat() if self.called_at else None,
            "window": self.window,
            "recall_count": self.recall_count,
            "ahead": self.ahead,
            "estimated_wait_minutes": self.estimated_wait_minutes,
            "area": self.area,
            "floor": self.floor,
        }
        if include_token:
            data["public_token"] = self.public_token
        return data


# --------------------------------------------------------------------------- helpers


def _insert_ignore(session: Session, model: Any, values: dict[str, Any], keys: list[str]) -> None:
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(builder(model).values(**values).on_conflict_do_nothing(index_elements=keys))


def display_digits(number_end: int) -> int:
    """How many digits a category's ticket numbers show ("A001": 3 at least)."""
    return max(3, len(str(number_end)))


def _format_number(prefix: str, number: int, number_end: int) -> str:
    return f"{prefix}{number:0{display_digits(number_end)}d}"


def _hall(session: Session, hall_id: int) -> Hall:
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFound("大厅不存在 / hall not found", hall_id=hall_id)
    return hall


def hall_by_code(session: Session, code: str) -> Hall:
    hall = session.execute(select(Hall).where(Hall.code == code)).scalar_one_or_none()
    if hall is None:
        raise NotFound(f"大厅 {code} 不存在 / hall not found", hall=code)
    return hall


def category_by_prefix(session: Session, hall_id: int, prefix: str) -> QueueCategory:
    category = session.execute(
        select(QueueCategory).where(
            QueueCategory.hall_id == hall_id, QueueCategory.prefix == prefix.upper()
        )
    ).scalar_one_or_none()
    if category is None:
        raise NotFound(f"排队类别 {prefix} 不存在 / unknown queue category", category=prefix)
    return category


def window_by_number(session: Session, hall_id: int, number: str) -> Window:
    window = session.execute(
        select(Window).where(Window.hall_id == hall_id, Window.number == str(number))
    ).scalar_one_or_none()
    if window is None:
        raise NotFound(f"窗口 {number} 不存在 / unknown window", window=number)
    return window


def _ticket_for_update(session: Session, ticket_id: int) -> Ticket:
    ticket = session.execute(
        select(Ticket).where(Ticket.id == ticket_id).with_for_update()
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound("号票不存在 / ticket not found", ticket_id=ticket_id)
    return ticket


def _hall_ticket_for_update(
    session: Session,
    hall_id: int,
    ticket_id: int,
    allowed: tuple[TicketState, ...],
    refusal: str,
) -> Ticket:
    """Lock a ticket of this hall (another hall's ticket is "not found", not
    "forbidden") and refuse, saying why, unless it is in one of `allowed`."""
    ticket = _ticket_for_update(session, ticket_id)
    if ticket.hall_id != hall_id:
        raise NotFound("号票不存在 / ticket not found")
    if ticket.state not in allowed:
        raise InvalidTransition(
            f"号票 {ticket.display} 状态为 {ticket.state.value}，{refusal}",
            state=ticket.state.value,
        )
    return ticket


def ticket_by_number(session: Session, hall_id: int, day: date, number: str) -> Ticket:
    ticket = session.execute(
        select(Ticket).where(
            Ticket.hall_id == hall_id, Ticket.service_day == day, Ticket.display == number.upper()
        )
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"号票 {number} 不存在 / ticket not found", number=number)
    return ticket


def view_of(session: Session, ticket: Ticket, *, with_position: bool = False) -> TicketView:
    category = session.get(QueueCategory, ticket.category_id)
    assert category is not None
    window_number = None
    if ticket.window_id is not None:
        window = session.get(Window, ticket.window_id)
        window_number = window.number if window else None
    ahead = estimate = None
    if with_position and ticket.state == TicketState.WAITING:
        ahead, estimate = position_of(session, ticket, category)
    return TicketView(
        id=ticket.id,
        number=ticket.display,
        category=category.prefix,
        category_name=category.name,
        state=ticket.state.value,
        standing=ticket.standing,
        priority_kind=ticket.priority_kind,
        channel=ticket.channel.value,
        issued_at=ticket.issued_at,
        called_at=ticket.called_at,
        window=window_number,
        recall_count=ticket.recall_count,
        public_token=ticket.public_token,
        ahead=ahead,
        estimated_wait_minutes=estimate,
        area=category.area,
        floor=category.floor_number,
    )


def open_windows_serving(session: Session, category_id: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(WindowCategory)
            .join(Window, Window.id == WindowCategory.window_id)
            .where(WindowCategory.category_id == category_id, Window.state == WindowState.OPEN)
        ).scalar_one()
    )


_WAITING = text("tickets.state = 'waiting'")


def position_of(session: Session, ticket: Ticket, category: QueueCategory) -> tuple[int, int]:
    """How many waiting tickets of the same category would be called before this one
    (in standing order; under an N:1 ratio a priority ticket may still wait for up
    to N ordinary calls, which the estimate leaves out).

    Those are the entries of ix_tickets_waiting (category, day, standing,
    sort_at, id) before this ticket's: one range of the index, counted without
    touching the rest of the day's tickets. The state is written as a literal
    so that PostgreSQL's prepared, generic plan can still use the partial
    index, and the hall is left out: the category implies it (with it, SQLite
    chose the index of every ticket of the hall's day)."""
    ahead = session.execute(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.category_id == ticket.category_id,
            Ticket.service_day == ticket.service_day,
            _WAITING,
            tuple_(Ticket.standing, Ticket.sort_at, Ticket.id)
            < tuple_(
                literal(ticket.standing, Ticket.standing.type),
                literal(ticket.sort_at, Ticket.sort_at.type),
                literal(ticket.id, Ticket.id.type),
            ),
        )
    ).scalar_one()
    windows = open_windows_serving(session, category.id)
    return int(ahead), wait_minutes(int(ahead), service_seconds(session, category), windows)


_service_time_cache: dict[int, tuple[float, float]] = {}
SERVICE_TIME_SAMPLE = 30
SERVICE_TIME_REFRESH_SECONDS = 30.0


def service_seconds(session: Session, category: QueueCategory) -> float:
    """Average service time of the category's last finished tickets, refreshed
    at most every 30 s per process. Computed on read so that finishing a ticket
    never writes a row shared by every window of the category."""
    now = time_module.monotonic()
    cached = _service_time_cache.get(category.id)
    if cached is not None and cached[0] > now:
        return cached[1]
    rows = session.execute(
        select(Ticket.finished_at, func.coalesce(Ticket.started_at, Ticket.called_at))
        .where(
            Ticket.category_id == category.id,
            Ticket.state == TicketState.DONE,
            Ticket.finished_at.is_not(None),
        )
        .order_by(Ticket.finished_at.desc())
        .limit(SERVICE_TIME_SAMPLE)
    ).all()
    durations = [
        (finished - started).total_seconds()
        for finished, started in rows
        if finished is not None and started is not None
    ]
    # A ticket left open over lunch says nothing about service time.
    durations = [d for d in durations if 0 < d < 4 * 3600]
    value = sum(durations) / len(durations) if len(durations) >= 3 else category.avg_service_seconds
    _service_time_cache[category.id] = (now + SERVICE_TIME_REFRESH_SECONDS, value)
    return value


# --------------------------------------------------------------------------- issuing


def _next_number(
    session: Session, category: QueueCategory, day: date, count: int = 1, *, issued: bool = True
) -> int:
    """The first of `count` new numbers of the category's day sequence.

    The daily cap (每日限号) counts tickets issued, not numbers handed out:
    `issued=False` reserves numbers for the hub's offline block without using
    any of the cap, which its tickets use only once they are reported back
    (`_count_offline_issued`)."""
    values: dict[str, Any] = {"last_number": DailySequence.last_number + count}
    if issued:
        values["issued_count"] = DailySequence.issued_count + count
    statement = (
        update(DailySequence)
        .where(DailySequence.category_id == category.id, DailySequence.service_day == day)
        .values(**values)
        .returning(DailySequence.last_number, DailySequence.issued_count)
    )
    row = session.execute(statement).one_or_none()
    if row is None:
        _insert_ignore(
            session,
            DailySequence,
            {
                "category_id": category.id,
                "service_day": day,
                "last_number": category.number_start - 1,
                "issued_count": 0,
            },
            ["category_id", "service_day"],
        )
        row = session.execute(statement).one()
    last_number, issued_today = int(row[0]), int(row[1])
    if last_number > category.number_end:
        raise QueueUnavailable(
            f"{category.name}今日号码已用完 / today's numbers for this category are used up",
            category=category.prefix,
        )
    if issued and issued_today > category.daily_cap:
        raise QueueUnavailable(
            f"{category.name}今日取号已满 / the daily limit for this category is reached",
            category=category.prefix,
            daily_cap=category.daily_cap,
        )
    return last_number - count + 1


def _count_offline_issued(session: Session, category: QueueCategory, day: date) -> None:
    """An offline ticket reported back counts towards the daily cap. It is stored
    even past the cap: the person already holds the printed number, and nothing
    issued is dropped. Its block's row exists (reserving it created the row)."""
    session.execute(
        update(DailySequence)
        .where(DailySequence.category_id == category.id, DailySequence.service_day == day)
        .values(issued_count=DailySequence.issued_count + 1)
    )


def issue_ticket(
    session: Session,
    *,
    hall_id: int,
    category_prefix: str | None = None,
    matter_code: str | None = None,
    channel: Channel = Channel.KIOSK,
    priority_kind: str | None = None,
    client_request_id: str | None = None,
    device_id: str | None = None,
    id_lookup_hash: str | None = None,
    appointment: Appointment | None = None,
    now: datetime,
    actor: str,
) -> TicketView:
    hall = _hall(session, hall_id)
    if client_request_id:
        existing = session.execute(
            select(Ticket).where(
                Ticket.hall_id == hall_id, Ticket.client_request_id == client_request_id
            )
        ).scalar_one_or_none()
        if existing is not None:  # a retried request: hand back the same ticket
            return view_of(session, existing, with_position=True)

    matter_version_id = None
    if matter_code:
        from backend.services.catalog import current_version
        from backend.services.hall_catalog import matter_category

        version = current_version(session, matter_code)
        matter_version_id = version.id
        if not category_prefix:
            category_prefix = matter_category(session, hall_id, version)
            if category_prefix is None:
                raise NotFound(
                    f"本大厅不办理事项 {matter_code} / this hall does not handle the matter",
                    matter=matter_code,
                )
    if not category_prefix:
        raise BadInput("请选择排队类别或事项 / a category or a matter is required")
    category = category_by_prefix(session, hall_id, category_prefix)
    if not category.active:
        raise QueueUnavailable(
            f"{category.name}暂停取号 / category closed", category=category.prefix
        )

    local_now = now.astimezone(zone(hall.timezone))
    if channel is not Channel.HUB_OFFLINE and not (
        category.issue_from <= local_now.time().replace(tzinfo=None) <= category.issue_until
    ):
        raise QueueUnavailable(
            f"{category.name}取号时间为 {category.issue_from:%H:%M}–{category.issue_until:%H:%M}"
            " / outside issuing hours",
            category=category.prefix,
        )

    standing = Standing.ORDINARY
    sort_at = now
    if priority_kind is not None:
        if priority_kind not in PRIORITY_KINDS:
            raise BadInput(f"未知的优先类别 {priority_kind}", priority_kind=priority_kind)
        if not category.priority_allowed and channel is Channel.KIOSK:
            raise QueueUnavailable(
                "本类别的绿色通道请到咨询台办理 / priority tickets for this category are "
                "issued at the service desk",
                category=category.prefix,
            )
        standing = Standing.PRIORITY
    if appointment is not None:
        standing = Standing.APPOINTMENT
        slot = datetime.combine(appointment.day, appointment.slot_start, zone(hall.timezone))
        sort_at = max(now, slot)  # early arrivals keep the place of their slot

    day = local_now.date()
    number = _next_number(session, category, day)
    ticket = Ticket(
        hall_id=hall_id,
        category_id=category.id,
        issue_category_id=category.id,
        service_day=day,
        number=number,
        display=_format_number(category.prefix, number, category.number_end),
        channel=channel,
        standing=standing.value,
        priority_kind=priority_kind,
        state=TicketState.WAITING,
        issued_at=now,
        sort_at=sort_at,
        matter_version_id=matter_version_id,
        appointment_id=appointment.id if appointment else None,
        client_request_id=client_request_id,
        device_id=device_id,
        public_token=secrets.token_urlsafe(24),
        id_lookup_hash=id_lookup_hash,
    )
    session.add(ticket)
    session.flush()
    view = view_of(session, ticket, with_position=True)
    _emit_issued(session, ticket, category, actor)
    return view


def _emit_issued(session: Session, ticket: Ticket, category: QueueCategory, actor: str) -> None:
    """The one event for a new ticket, however it was issued (kiosk, staff, hub offline)."""
    eventlog.emit(
        session,
        ticket.hall_id,
        "ticket_issued",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "category": category.prefix,
            "standing": Standing(ticket.standing).name.lower(),
            "channel": ticket.channel.value,
            "actor": actor,
        },
    )


def import_offline_ticket(
    session: Session,
    *,
    hall_id: int,
    category_prefix: str,
    number: int,
    issued_at: datetime,
    client_request_id: str,
    device_id: str,
    priority_kind: str | None,
    actor: str,
) -> TicketView:
    """A ticket the hub issued from its reserved block while the backend was away.
    Idempotent on the client request id; the number must lie in a block reserved
    for that category and day."""
    existing = session.execute(
        select(Ticket).where(
            Ticket.hall_id == hall_id, Ticket.client_request_id == client_request_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        return view_of(session, existing)
    hall = _hall(session, hall_id)
    category = category_by_prefix(session, hall_id, category_prefix)
    day = local_day(issued_at, hall.timezone)
    block = session.execute(
        select(TicketBlock).where(
            TicketBlock.category_id == category.id,
            TicketBlock.service_day == day,
            TicketBlock.first_number <= number,
            TicketBlock.last_number >= number,
        )
    ).scalar_one_or_none()
    if block is None:
        raise Conflict(
            "号码不在为集线器预留的号段内 / number is outside every reserved block",
            number=number,
        )
    ticket = Ticket(
        hall_id=hall_id,
        category_id=category.id,
        issue_category_id=category.id,
        service_day=day,
        number=number,
        display=_format_number(category.prefix, number, category.number_end),
        channel=Channel.HUB_OFFLINE,
        standing=(Standing.PRIORITY if priority_kind else Standing.ORDINARY).value,
        priority_kind=priority_kind,
        state=TicketState.WAITING,
        issued_at=issued_at,
        sort_at=issued_at,
        client_request_id=client_request_id,
        device_id=device_id,
        public_token=secrets.token_urlsafe(24),
    )
    session.add(ticket)
    session.flush()
    _count_offline_issued(session, category, day)
    _emit_issued(session, ticket, category, actor)
    return view_of(session, ticket)


def reserve_block(
    session: Session, *, hall_id: int, category_prefix: str, size: int, now: datetime, actor: str
) -> TicketBlock:
    if not 1 <= size <= 200:
        raise BadInput("预留号段大小须在 1–200 之间 / block size must be 1..200", size=size)
    hall = _hall(session, hall_id)
    category = category_by_prefix(session, hall_id, category_prefix)
    day = local_day(now, hall.timezone)
    first = _next_number(session, category, day, size, issued=False)
    block = TicketBlock(
        category_id=category.id,
        service_day=day,
        first_number=first,
        last_number=first + size - 1,
        reserved_by=actor,
        reserved_at=now,
    )
    session.add(block)
    session.flush()
    record(
        session,
        actor,
        "ticket.reserve_block",
        "ticket_block",
        block.id,
        {"category": category.prefix, "first": first, "last": block.last_number},
    )
    return block


# --------------------------------------------------------------------------- calling
#
# Call-next is the hot path of the hall (every clerk, all day), so it is written
# with a few Core statements and index seeks instead of ORM round trips:
#   1. lock the window row (one clerk per window; also gives the hall's policy),
#   2. finish the window's current ticket (UPDATE … RETURNING),
#   3. find the head of the queue class by class and source by source, each an
#      index seek on ix_tickets_waiting with FOR UPDATE SKIP LOCKED,
#   4. mark it called and point the window at it,
#   5. the events (which carry the actor: the event log is the queue's audit
#      trail) are written at commit by the event log.
# Nothing here writes a row that other windows also write before commit (the
# category's service time is computed on read), so windows do not queue up
# behind each other until the event counter at the very end.


@dataclass(frozen=True)
class CallResult:
    ticket: TicketView | None
    finished: TicketView | None  # the ticket this call ended, if any


@dataclass(frozen=True)
class WindowRow:
    id: int
    hall_id: int
    number: str
    state: WindowState
    current_ticket_id: int | None
    ordinary_streak: int | None
    policy: HallPolicy
    timezone: str
    # Whether any waiting ticket was transferred to this very window: rare, and
    # when there is none call-next skips asking for them (one query fewer).
    has_transfers: bool
    # The current ticket while it is called or served (locked with the window).
    current: TicketRow | None


@dataclass(frozen=True)
class CategoryMeta:
    id: int
    prefix: str
    name: str
    area: str
    floor: int | None


class _TtlCache:
    """Small per-process cache for rows that change rarely (category names,
    a window's categories, staff names); entries live `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, load: Any) -> Any:
        now = time_module.monotonic()
        item = self._items.get(key)
        if item is not None and item[0] > now:
            return item[1]
        value = load()
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        self._items.clear()


_category_cache = _TtlCache(ttl=10.0)
_window_sources_cache = _TtlCache(ttl=5.0)
_names_cache = _TtlCache(ttl=60.0)
_window_place_cache = _TtlCache(ttl=10.0)


def clear_caches() -> None:
    for cache in (_category_cache, _window_sources_cache, _names_cache, _window_place_cache):
        cache.clear()


@dataclass(frozen=True)
class WindowPlace:
    """Where a window is: its floor's number and name (the area a call names)."""

    floor: int | None
    area: str

    def as_event(self) -> dict[str, Any]:
        """The keys every call event carries, so announcers and displays configured
        for a floor can tell whether the call is theirs."""
        return {"floor": self.floor, "area": self.area or None}


def _window_places_query() -> Any:
    return (
        select(Window.id, Floor.number, Floor.name)
        .select_from(Window)
        .outerjoin(Floor, Floor.id == Window.floor_id)
    )


def _place_of(floor_number: int | None, floor_name: str | None) -> WindowPlace:
    if floor_number is None:
        return WindowPlace(None, "")
    return WindowPlace(int(floor_number), str(floor_name or ""))


def window_place(session: Session, window_id: int) -> WindowPlace:
    def load() -> WindowPlace:
        row = (
            session.connection()
            .execute(_window_places_query().where(Window.id == window_id))
            .one_or_none()
        )
        return _place_of(row[1], row[2]) if row is not None else WindowPlace(None, "")

    place: WindowPlace = _window_place_cache.get(window_id, load)
    return place


def hall_window_places(session: Session, hall_id: int) -> dict[int, WindowPlace]:
    """Every window's place in one query (the hall snapshot)."""
    rows = session.execute(_window_places_query().where(Window.hall_id == hall_id)).all()
    return {int(row[0]): _place_of(row[1], row[2]) for row in rows}


def category_meta(session: Session, category_id: int) -> CategoryMeta:
    def load() -> CategoryMeta:
        row = (
            session.connection()
            .execute(
                select(
                    QueueCategory.prefix,
                    QueueCategory.name,
                    QueueCategory.area,
                    QueueCategory.floor_number,
                ).where(QueueCategory.id == category_id)
            )
            .one()
        )
        return CategoryMeta(category_id, row[0], row[1], row[2], row[3])

    meta: CategoryMeta = _category_cache.get(category_id, load)
    return meta


def _window_weight_groups(session: Session, window_id: int) -> list[list[int]]:
    """The window's categories grouped by weight, highest first."""

    def load() -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for category_id, weight in (
            session.connection()
            .execute(
                select(WindowCategory.category_id, WindowCategory.weight).where(
                    WindowCategory.window_id == window_id
                )
            )
            .all()
        ):
            groups.setdefault(int(weight), []).append(int(category_id))
        return [sorted(groups[w]) for w in sorted(groups, reverse=True)]

    groups: list[list[int]] = _window_sources_cache.get(window_id, load)
    return groups


def window_prefix_groups(session: Session, window_id: int) -> list[list[str]]:
    """_window_weight_groups as category prefixes: what the hub's offline call
    order (hallbus.callorder) is given, so it follows the same sources."""
    return [
        [category_meta(session, category_id).prefix for category_id in group]
        for group in _window_weight_groups(session, window_id)
    ]


def _staff_brief(session: Session, staff_id: int | None) -> dict[str, str] | None:
    if staff_id is None:
        return None

    def load() -> dict[str, str] | None:
        row = (
            session.connection()
            .execute(select(Staff.name, Staff.employee_no).where(Staff.id == staff_id))
            .one_or_none()
        )
        return {"name": row[0], "employee_no": row[1]} if row else None

    brief: dict[str, str] | None = _names_cache.get(("staff", staff_id), load)
    return brief


@lru_cache(maxsize=64)
def _policy(serialised: str) -> HallPolicy:
    """Validating the policy is cheap but not free; halls change it rarely."""
    return HallPolicy.from_json(json.loads(serialised))


def _lock_window(session: Session, window_id: int) -> tuple[Window, Hall]:
    """ORM variant for the less frequent window actions."""
    row = session.execute(
        select(Window, Hall)
        .join(Hall, Hall.id == Window.hall_id)
        .where(Window.id == window_id)
        .with_for_update(of=Window)
    ).one_or_none()
    if row is None:
        raise NotFound("窗口不存在 / window not found", window_id=window_id)
    return row[0], row[1]


def _require_open(window: Window | WindowRow) -> None:
    if window.state is not WindowState.OPEN:
        raise InvalidTransition(
            f"{window.number}号窗口当前不在服务状态 / window is not open",
            window=window.number,
            state=window.state.value,
        )


_TICKET_COLUMNS = (
    Ticket.id,
    Ticket.display,
    Ticket.category_id,
    Ticket.standing,
    Ticket.priority_kind,
    Ticket.channel,
    Ticket.issued_at,
    Ticket.public_token,
    Ticket.recall_count,
    Ticket.staff_id,
    Ticket.matter_version_id,
    Ticket.called_at,
    Ticket.started_at,
    Ticket.sort_at,
)

_TICKET_SQL_COLUMNS = (
    "id, display, category_id, standing, priority_kind, channel, issued_at, public_token,"
    " recall_count, staff_id, matter_version_id, called_at, started_at, sort_at"
)


class TicketRow(NamedTuple):
    id: int
    display: str
    category_id: int
    standing: int
    priority_kind: str | None
    channel: str
    issued_at: datetime
    public_token: str
    recall_count: int
    staff_id: int | None
    matter_version_id: int | None
    called_at: datetime | None
    started_at: datetime | None
    sort_at: datetime


def _ticket_row(raw: RawSql, values: tuple[Any, ...] | None) -> TicketRow | None:
    if values is None:
        return None
    row = list(values)
    for index in (6, 11, 12, 13):
        row[index] = raw.read_when(row[index])
    return TicketRow(*row)


# The window row with its hall, and the window's current ticket if it is being
# called or served. The EXISTS probes ix_tickets_waiting_for_window; it is a hint
# read with the lock: a transfer committed just after it is served on the next
# call, as if it had arrived a moment later.
_WINDOW_COLUMNS = (
    "w.id, w.hall_id, w.number, w.state, w.current_ticket_id, w.ordinary_streak,"
    " h.call_policy, h.timezone,"
    " EXISTS (SELECT 1 FROM tickets x WHERE x.target_window_id = w.id"
    " AND x.state = 'waiting') AS has_transfers"
)
_CURRENT_STATES = "('called', 'serving')"
_CURRENT_COLUMNS = ", ".join(f"t.{name.strip()}" for name in _TICKET_SQL_COLUMNS.split(","))
# SQLite has one writer at a time (BEGIN IMMEDIATE): nothing to lock row by row.
_LOCK_WINDOW_SQLITE = (
    f"SELECT {_WINDOW_COLUMNS}, {_CURRENT_COLUMNS}"
    " FROM windows w JOIN halls h ON h.id = w.hall_id"
    f" LEFT JOIN tickets t ON t.id = w.current_ticket_id AND t.state IN {_CURRENT_STATES}"
    " WHERE w.id = %s"
)
# PostgreSQL locks the window row, then (the second CTE reads the first) the
# current ticket: the same order as every other window action, so no deadlock;
# a ticket changed meanwhile is re-checked against the states once its lock is
# granted.
_LOCK_WINDOW_POSTGRES = (
    f"WITH w AS (SELECT {_WINDOW_COLUMNS} FROM windows w JOIN halls h ON h.id = w.hall_id"
    " WHERE w.id = %s FOR UPDATE OF w),"
    f" t AS (SELECT {_TICKET_SQL_COLUMNS} FROM tickets"
    " WHERE id = (SELECT current_ticket_id FROM w)"
    f" AND state IN {_CURRENT_STATES} FOR UPDATE)"
    f" SELECT w.*, {_CURRENT_COLUMNS} FROM w LEFT JOIN t ON true"
)


def _lock_window_row(session: Session, window_id: int) -> WindowRow:
    raw = RawSql.of(session)
    row = raw.one(_LOCK_WINDOW_SQLITE if raw.sqlite else _LOCK_WINDOW_POSTGRES, (window_id,))
    if row is None:
        raise NotFound("窗口不存在 / window not found", window_id=window_id)
    # SQLite returns the stored JSON text, which keys the cache as it is; psycopg
    # returns a dict, serialised only to key the cache.
    policy = row[6] if isinstance(row[6], str) else json.dumps(row[6] or {}, sort_keys=True)
    return WindowRow(
        id=row[0],
        hall_id=row[1],
        number=row[2],
        state=WindowState(row[3]),
        current_ticket_id=row[4],
        ordinary_streak=row[5],
        policy=_policy(policy or "{}"),
        timezone=row[7],
        has_transfers=bool(row[8]),
        current=_ticket_row(raw, row[9:]) if row[9] is not None else None,
    )


def _view_from_row(
    session: Session,
    row: Any,
    state: TicketState,
    window_number: str | None,
    called_at: datetime | None,
) -> TicketView:
    meta = category_meta(session, row.category_id)
    return TicketView(
        id=row.id,
        number=row.display,
        category=meta.prefix,
        category_name=meta.name,
        state=state.value,
        standing=row.standing,
        priority_kind=row.priority_kind,
        channel=Channel(row.channel).value,
        issued_at=row.issued_at,
        called_at=called_at,
        window=window_number,
        recall_count=0 if state is TicketState.CALLED else row.recall_count,
        public_token=row.public_token,
        area=meta.area,
        floor=meta.floor,
    )


def _clear_current_ticket(session: Session, window: WindowRow) -> None:
    RawSql.of(session).defer(
        "UPDATE windows SET current_ticket_id = NULL WHERE id = %s", (window.id,)
    )


def _finish_ticket(
    session: Session,
    window: WindowRow,
    now: datetime,
    actor: str,
    rating_request_id: str | None = None,
) -> TicketView | None:
    """Mark the window's called/serving ticket done, emit the event, and invite a
    rating. The ticket was read and locked with the window, so the UPDATE cannot
    miss and nothing reads it back: it is a deferred write. `rating_request_id`:
    the id of the invitation the hub sent for this finish while offline."""
    row = window.current
    if row is None:
        return None
    raw = RawSql.of(session)
    raw.defer(
        "UPDATE tickets SET state = %s, finished_at = %s WHERE id = %s",
        (TicketState.DONE.value, raw.when(now), row.id),
    )
    eventlog.emit(
        session,
        window.hall_id,
        "ticket_finished",
        {"ticket": row.display, "ticket_id": row.id, "window": window.number, "actor": actor},
    )
    if window.policy.auto_invite_rating:
        from backend.services.ratings import request_rating_for

        request_rating_for(
            session,
            hall_id=window.hall_id,
            ticket_id=row.id,
            ticket_number=row.display,
            window_id=window.id,
            window_number=window.number,
            staff_id=row.staff_id,
            matter_version_id=row.matter_version_id,
            staff=_staff_brief(session, row.staff_id),
            now=now,
            timeout_seconds=window.policy.rating_timeout_seconds,
            actor=actor,
            request_uid=rating_request_id,
        )
    return _view_from_row(session, row, TicketState.DONE, window.number, row.called_at)


def _head_sql(target: bool, standing_filter: str, categories: int, lock: bool) -> str:
    """SELECT … LIMIT 1 [FOR UPDATE SKIP LOCKED] for the head of one source.

    Ordered by (standing, sort_at, id), which is the order of ix_tickets_waiting
    (and ix_tickets_waiting_for_window) for one category, so the database reads
    one index entry instead of sorting the queue. Appointments whose slot has
    not started are left out here (see _early_appointment)."""
    conditions = [
        "service_day = %s",
        "state = 'waiting'",
        f"(standing != {Standing.APPOINTMENT.value} OR sort_at <= %s)",
    ]
    if target:
        conditions.append("target_window_id = %s")
    else:
        conditions.append(f"category_id IN ({', '.join(['%s'] * categories)})")
        conditions.append("target_window_id IS NULL")
    if standing_filter == "below":
        conditions.append("standing < %s")
    elif standing_filter == "equal":
        conditions.append("standing = %s")
    sql = (
        f"SELECT {_TICKET_SQL_COLUMNS} FROM tickets WHERE {' AND '.join(conditions)}"
        " ORDER BY standing, sort_at, id LIMIT 1"
    )
    return sql + " FOR UPDATE SKIP LOCKED" if lock else sql


_head_sql_cached = lru_cache(maxsize=64)(_head_sql)


def _source_head(
    session: Session,
    source: tuple[list[int] | None, int | None],
    standing_filter: str,
    standing: int,
    day: date,
    now: datetime,
) -> TicketRow | None:
    raw = RawSql.of(session)
    categories, target_window = source
    params: list[Any] = [raw.day(day), raw.when(now)]
    if target_window is not None:
        params.append(target_window)
    else:
        assert categories
        params.extend(categories)
    if standing_filter != "any":
        params.append(standing)
    sql = _head_sql_cached(
        target_window is not None,
        standing_filter,
        len(categories or ()),
        not raw.sqlite,  # SQLite has one writer at a time: nothing to skip
    )
    return _ticket_row(raw, raw.one(sql, tuple(params)))


def _early_appointment(
    session: Session, sources: list[tuple[list[int] | None, int | None]], day: date, now: datetime
) -> Any:
    """Appointments checked in before their slot wait as ordinary tickets whose
    place is the slot start. Every waiting ordinary ticket was issued before now,
    so such an appointment is called early only when nobody else waits."""
    for categories, target_window in sources:
        conditions: list[Any] = [
            Ticket.service_day == day,
            Ticket.state == TicketState.WAITING,
            Ticket.standing == Standing.APPOINTMENT.value,
            Ticket.sort_at > now,
        ]
        if target_window is not None:
            conditions.append(Ticket.target_window_id == target_window)
        else:
            conditions += [
                Ticket.category_id.in_(categories or []),
                Ticket.target_window_id.is_(None),
            ]
        row = (
            session.connection()
            .execute(
                select(*_TICKET_COLUMNS)
                .where(*conditions)
                .order_by(Ticket.sort_at, Ticket.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            .one_or_none()
        )
        if row is not None:
            return row
    return None


def _choose(session: Session, window: WindowRow, day: date, now: datetime) -> tuple[Any, bool]:
    """Apply the call-order policy (see services/policy.py). Returns the locked
    row and whether it counts as an ordinary call for the ratio.

    Sources in order: tickets transferred to this very window, then the
    window's categories from the highest weight down. A later source is only
    asked for tickets of a strictly better standing than the best found so far,
    so in the usual case exactly one row is locked."""
    sources: list[tuple[list[int] | None, int | None]] = (
        [(None, window.id)] if window.has_transfers else []
    )
    sources += [(group, None) for group in _window_weight_groups(session, window.id)]
    ratio = window.policy.ordinary_per_preferred
    if ratio is not None and window.ordinary_streak is not None and window.ordinary_streak < ratio:
        # Fewer than N ordinary calls since the last preferred one: ordinary first.
        for source in sources:
            row = _source_head(session, source, "equal", Standing.ORDINARY.value, day, now)
            if row is not None:
                return row, True
    best = None
    for source in sources:
        if best is None:
            row = _source_head(session, source, "any", 0, day, now)
        else:
            row = _source_head(session, source, "below", best.standing, day, now)
        if row is not None:
            best = row
            if best.standing == Standing.PRIORITY.value:
                break
    if best is None:
        early = _early_appointment(session, sources, day, now)
        return early, early is not None
    return best, best.standing == Standing.ORDINARY.value


def call_next(
    session: Session, *, window_id: int, staff_id: int | None, now: datetime, actor: str
) -> CallResult:
    window = _lock_window_row(session, window_id)
    _require_open(window)
    # Who is next is settled before the current ticket is finished: finishing
    # changes neither the waiting tickets nor the window's ratio, and the queries
    # that choose then come before the writes RawSql defers (finishing and its
    # rating invitation), so they run prepared and the deferred writes go with COMMIT.
    row, as_ordinary = _choose(session, window, local_day(now, window.timezone), now)
    finished = _finish_ticket(session, window, now, actor)
    if row is None:
        if window.current_ticket_id is not None:
            _clear_current_ticket(session, window)
        return CallResult(ticket=None, finished=finished)
    streak = min((window.ordinary_streak or 0) + 1, 1000) if as_ordinary else 0
    _mark_called_core(session, row, window, staff_id, now, actor, streak)
    return CallResult(
        ticket=_view_from_row(session, row, TicketState.CALLED, window.number, now),
        finished=finished,
    )


def _mark_called_core(
    session: Session,
    row: Any,
    window: WindowRow,
    staff_id: int | None,
    now: datetime,
    actor: str,
    streak: int | None,
    reason: str = "",
) -> None:
    raw = RawSql.of(session)
    if reason:
        raw.defer(
            "UPDATE tickets SET state = %s, called_at = %s, window_id = %s, staff_id = %s,"
            " recall_count = 0, out_of_order_reason = %s WHERE id = %s",
            (TicketState.CALLED.value, raw.when(now), window.id, staff_id, reason[:200], row.id),
        )
    else:
        raw.defer(
            "UPDATE tickets SET state = %s, called_at = %s, window_id = %s, staff_id = %s,"
            " recall_count = 0 WHERE id = %s",
            (TicketState.CALLED.value, raw.when(now), window.id, staff_id, row.id),
        )
    raw.defer(
        "UPDATE windows SET current_ticket_id = %s, ordinary_streak = %s WHERE id = %s",
        (row.id, streak, window.id),
    )
    payload: dict[str, Any] = {
        "ticket": row.display,
        "ticket_id": row.id,
        "window": window.number,
        "category": category_meta(session, row.category_id).prefix,
        "called_at": now.isoformat(),
        "recall": 0,
        "actor": actor,
        **window_place(session, window.id).as_event(),
    }
    if reason:
        payload["out_of_order_reason"] = reason[:200]
    eventlog.emit(session, window.hall_id, "ticket_called", payload)


def call_specific(
    session: Session,
    *,
    window_id: int,
    number: str,
    reason: str,
    staff_id: int | None,
    now: datetime,
    actor: str,
    replay: bool = False,
    rating_request_id: str | None = None,
) -> CallResult:
    """Call one waiting ticket out of order; the reason is kept on the ticket and logged.

    `replay`: a call the hall hub made while the backend was unreachable, replayed
    with its original time as `now` (backend.services.offline). The hub chose the
    ticket by the call policy, so no reason is asked and the window's ratio streak
    moves as call-next would move it; the window's state here is not checked, it
    is what the hub knew that counted. `rating_request_id` names the invitation
    the hub sent for the ticket this call finished."""
    if not replay and not reason.strip():
        raise BadInput("跳号呼叫须填写原因 / a reason is required to call out of order")
    window = _lock_window_row(session, window_id)
    if not replay:
        _require_open(window)
    found = ticket_by_number(session, window.hall_id, local_day(now, window.timezone), number)
    row = session.execute(
        select(*_TICKET_COLUMNS).where(Ticket.id == found.id).with_for_update()
    ).one()
    if found.state is not TicketState.WAITING:
        raise InvalidTransition(
            f"号票 {found.display} 当前状态为 {found.state.value}，不能呼叫",
            state=found.state.value,
        )
    finished = _finish_ticket(session, window, now, actor, rating_request_id)
    streak = window.ordinary_streak
    if replay:  # as _choose counts it: an appointment called before its slot is ordinary
        as_ordinary = row.standing == Standing.ORDINARY.value or (
            row.standing == Standing.APPOINTMENT.value and row.sort_at > now
        )
        streak = min((streak or 0) + 1, 1000) if as_ordinary else 0
    _mark_called_core(session, row, window, staff_id, now, actor, streak, reason=reason.strip())
    return CallResult(
        ticket=_view_from_row(session, row, TicketState.CALLED, window.number, now),
        finished=finished,
    )


def _current_ticket(session: Session, window: Window, states: tuple[TicketState, ...]) -> Ticket:
    if window.current_ticket_id is None:
        raise InvalidTransition(f"{window.number}号窗口当前没有呼叫中的号票 / no current ticket")
    ticket = _ticket_for_update(session, window.current_ticket_id)
    if ticket.state not in states:
        raise InvalidTransition(
            f"号票 {ticket.display} 状态为 {ticket.state.value} / wrong ticket state",
            state=ticket.state.value,
        )
    return ticket


def recall(
    session: Session, *, window_id: int, now: datetime, actor: str, replay: bool = False
) -> TicketView:
    """`replay`: a recall the hub made offline (see call_specific): the window's
    state here is not checked."""
    window, hall = _lock_window(session, window_id)
    if not replay:
        _require_open(window)
    ticket = _current_ticket(session, window, (TicketState.CALLED,))
    policy = HallPolicy.from_json(hall.call_policy)
    if ticket.recall_count >= policy.recall_limit:
        raise InvalidTransition(
            f"已重呼 {ticket.recall_count} 次，达到上限 / recall limit reached",
            limit=policy.recall_limit,
        )
    ticket.recall_count += 1
    eventlog.emit(
        session,
        hall.id,
        "ticket_recalled",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "window": window.number,
            "called_at": now.isoformat(),
            "recall": ticket.recall_count,
            "actor": actor,
            **window_place(session, window.id).as_event(),
        },
    )
    return view_of(session, ticket)


def start_service(session: Session, *, window_id: int, now: datetime, actor: str) -> TicketView:
    window, hall = _lock_window(session, window_id)
    ticket = _current_ticket(session, window, (TicketState.CALLED,))
    ticket.state = TicketState.SERVING
    ticket.started_at = now
    eventlog.emit(
        session,
        hall.id,
        "ticket_serving",
        {"ticket": ticket.display, "ticket_id": ticket.id, "window": window.number, "actor": actor},
    )
    return view_of(session, ticket)


def finish_service(
    session: Session,
    *,
    window_id: int,
    now: datetime,
    actor: str,
    rating_request_id: str | None = None,
) -> TicketView:
    window = _lock_window_row(session, window_id)
    if window.current_ticket_id is None:
        raise InvalidTransition(f"{window.number}号窗口当前没有呼叫中的号票 / no current ticket")
    view = _finish_ticket(session, window, now, actor, rating_request_id)
    if view is None:
        raise InvalidTransition("当前号票已结束 / the current ticket is not being served")
    _clear_current_ticket(session, window)
    return view


def no_show(session: Session, *, window_id: int, now: datetime, actor: str) -> TicketView:
    window, hall = _lock_window(session, window_id)
    ticket = _current_ticket(session, window, (TicketState.CALLED,))
    policy = HallPolicy.from_json(hall.call_policy)
    window.current_ticket_id = None
    ticket.no_show_count += 1
    requeued = policy.no_show_requeue == "back" and ticket.no_show_count <= policy.requeue_limit
    if requeued:
        _back_to_queue(ticket, now)
    else:
        ticket.state = TicketState.NO_SHOW
        ticket.finished_at = now
    eventlog.emit(
        session,
        hall.id,
        "ticket_no_show",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "window": window.number,
            "requeued": requeued,
            "actor": actor,
        },
    )
    return view_of(session, ticket)


# --------------------------------------------------------------------------- hold (挂起)
#
# A clerk puts the current ticket on hold when the visitor has to fetch a missing
# paper: the window is free to call the next ticket, and the held ticket is
# resumed later, at the window that held it or at any window serving its
# category (a colleague may finish it when the first clerk has gone). A held
# ticket is neither waiting (call-next never takes it) nor finished (no
# finished_at, no rating invitation); `close_day` closes holds left from earlier
# days with a reason.

HOLD_CLOSED_REASON = "挂起后当日未恢复办理，日终关闭 / held and not resumed on its day"


def hold(
    session: Session, *, window_id: int, reason: str = "", now: datetime, actor: str
) -> TicketView:
    window, hall = _lock_window(session, window_id)
    ticket = _current_ticket(session, window, (TicketState.CALLED, TicketState.SERVING))
    ticket.state = TicketState.HELD
    ticket.held_at = now
    ticket.resumed_at = None
    ticket.hold_reason = reason.strip()[:200]
    window.current_ticket_id = None
    eventlog.emit(
        session,
        hall.id,
        "ticket_held",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "window": window.number,
            "reason": ticket.hold_reason,
            "actor": actor,
        },
    )
    return view_of(session, ticket)


def held_tickets(session: Session, *, window_id: int, day: date) -> list[Ticket]:
    """Today's held tickets this window may resume (see `resume_held`), oldest hold first."""
    window = session.get(Window, window_id)
    if window is None:
        raise NotFound("窗口不存在 / window not found", window_id=window_id)
    own_categories = select(WindowCategory.category_id).where(WindowCategory.window_id == window.id)
    return list(
        session.execute(
            select(Ticket)
            .where(
                Ticket.hall_id == window.hall_id,
                Ticket.service_day == day,
                Ticket.state == TicketState.HELD,
                (Ticket.window_id == window.id) | Ticket.category_id.in_(own_categories),
            )
            .order_by(Ticket.held_at, Ticket.id)
        ).scalars()
    )


def resume_held(
    session: Session,
    *,
    window_id: int,
    number: str,
    staff_id: int | None,
    now: datetime,
    actor: str,
) -> TicketView:
    """Take a held ticket back: it becomes the window's ticket in service again
    and is announced, so the visitor who went for the paper comes back."""
    window, hall = _lock_window(session, window_id)
    _require_open(window)
    if window.current_ticket_id is not None:
        current = session.get(Ticket, window.current_ticket_id)
        if current is not None and current.state in (TicketState.CALLED, TicketState.SERVING):
            raise InvalidTransition(
                f"请先办结当前号票 {current.display} / finish the current ticket first",
                ticket=current.display,
            )
    found = ticket_by_number(session, hall.id, local_day(now, hall.timezone), number)
    ticket = _ticket_for_update(session, found.id)
    if ticket.state is not TicketState.HELD:
        raise InvalidTransition(
            f"号票 {ticket.display} 未挂起，不能恢复 / the ticket is not on hold",
            state=ticket.state.value,
        )
    serves_category = session.execute(
        select(WindowCategory.category_id).where(
            WindowCategory.window_id == window.id,
            WindowCategory.category_id == ticket.category_id,
        )
    ).first()
    if ticket.window_id != window.id and serves_category is None:
        raise InvalidTransition(
            f"号票 {ticket.display} 须在挂起它的窗口或同类别窗口恢复 / resume it at the window"
            " that held it or at a window of its category",
            ticket=ticket.display,
        )
    ticket.state = TicketState.SERVING
    ticket.resumed_at = now
    ticket.window_id = window.id
    if staff_id is not None:
        ticket.staff_id = staff_id
    if ticket.started_at is None:  # held before service started
        ticket.started_at = now
    window.current_ticket_id = ticket.id
    eventlog.emit(
        session,
        hall.id,
        "ticket_resumed",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "window": window.number,
            "category": category_meta(session, ticket.category_id).prefix,
            "called_at": now.isoformat(),
            "recall": 0,
            "held_seconds": int((now - ticket.held_at).total_seconds()) if ticket.held_at else None,
            "actor": actor,
        },
    )
    return view_of(session, ticket)


def _back_to_queue(ticket: Ticket, now: datetime) -> None:
    ticket.state = TicketState.WAITING
    ticket.sort_at = now  # a 过号 rejoins at the back, never ahead of people who waited
    ticket.window_id = None
    ticket.called_at = None
    ticket.target_window_id = None


def requeue_no_show(
    session: Session, *, hall_id: int, number: str, now: datetime, actor: str
) -> TicketView:
    hall = _hall(session, hall_id)
    ticket = ticket_by_number(session, hall_id, local_day(now, hall.timezone), number)
    ticket = _ticket_for_update(session, ticket.id)
    policy = HallPolicy.from_json(hall.call_policy)
    if ticket.state is not TicketState.NO_SHOW:
        raise InvalidTransition("只有过号的号票可以重新排队 / only no-show tickets can be requeued")
    if ticket.no_show_count > policy.requeue_limit:
        raise InvalidTransition("已达到重新排队次数上限 / requeue limit reached")
    _back_to_queue(ticket, now)
    ticket.finished_at = None
    eventlog.emit(
        session,
        hall_id,
        "ticket_requeued",
        {"ticket": ticket.display, "ticket_id": ticket.id, "actor": actor},
    )
    return view_of(session, ticket)


def transfer(
    session: Session,
    *,
    hall_id: int,
    ticket_id: int,
    to_category: str | None,
    to_window: str | None,
    now: datetime,
    actor: str,
    reason: str = "",
) -> TicketView:
    """Move a ticket to another category or window; it keeps its number and its
    original issue time, so it does not lose its place."""
    if bool(to_category) == bool(to_window):
        raise BadInput("请指定转移到的类别或窗口（二选一）/ give a category or a window")
    ticket = _hall_ticket_for_update(
        session,
        hall_id,
        ticket_id,
        (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING),
        "不能转移",
    )
    if ticket.window_id is not None:
        source = session.get(Window, ticket.window_id, with_for_update=True)
        if source is not None and source.current_ticket_id == ticket.id:
            source.current_ticket_id = None
    target: dict[str, Any] = {}
    if to_category:
        category = category_by_prefix(session, hall_id, to_category)
        ticket.category_id = category.id
        ticket.target_window_id = None
        target["category"] = category.prefix
    else:
        window = window_by_number(session, hall_id, str(to_window))
        ticket.target_window_id = window.id
        target["window"] = window.number
    ticket.state = TicketState.WAITING
    ticket.window_id = None
    ticket.called_at = None
    ticket.started_at = None
    eventlog.emit(
        session,
        hall_id,
        "ticket_transferred",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            **target,
            "reason": reason,
            "actor": actor,
        },
    )
    return view_of(session, ticket)


def cancel(
    session: Session, *, hall_id: int, ticket_id: int, now: datetime, actor: str
) -> TicketView:
    ticket = _hall_ticket_for_update(
        session, hall_id, ticket_id, (TicketState.WAITING,), "不能取消"
    )
    ticket.state = TicketState.CANCELLED
    ticket.finished_at = now
    eventlog.emit(
        session,
        hall_id,
        "ticket_cancelled",
        {"ticket": ticket.display, "ticket_id": ticket.id, "actor": actor},
    )
    return view_of(session, ticket)


# --------------------------------------------------------------------------- windows


def _window_event(session: Session, hall: Hall, window: Window) -> None:
    staff = session.get(Staff, window.signed_in_staff_id) if window.signed_in_staff_id else None
    eventlog.emit(
        session,
        hall.id,
        "window_state",
        {
            "window": window.number,
            "state": window.state.value,
            "reason": window.pause_reason,
            "expected_back": window.expected_back_at.isoformat()
            if window.expected_back_at
            else None,
            "staff": {"name": staff.name, "employee_no": staff.employee_no} if staff else None,
        },
    )


def set_window_state(
    session: Session,
    *,
    window_id: int,
    state: WindowState,
    now: datetime,
    actor: str,
    staff_id: int | None = None,
    reason: str = "",
    expected_back_at: datetime | None = None,
) -> Window:
    window, hall = _lock_window(session, window_id)
    if state is WindowState.PAUSED and not reason.strip():
        raise BadInput("暂停服务须填写原因 / a reason is required to pause")
    if state is not WindowState.OPEN and window.current_ticket_id is not None:
        current = session.get(Ticket, window.current_ticket_id)
        if current is not None and current.state in (TicketState.CALLED, TicketState.SERVING):
            raise InvalidTransition(
                f"请先办结当前号票 {current.display} / finish the current ticket first",
                ticket=current.display,
            )
    previous = window.state
    window.state = state
    window.pause_reason = reason.strip()[:200] if state is WindowState.PAUSED else ""
    window.expected_back_at = expected_back_at if state is WindowState.PAUSED else None
    if state is WindowState.OPEN and staff_id is not None:
        window.signed_in_staff_id = staff_id
    if state is WindowState.OPEN and previous is not WindowState.OPEN:
        window.ordinary_streak = None  # a reopened window starts with priority first
    if state is WindowState.CLOSED:
        window.signed_in_staff_id = None
        window.ordinary_streak = None
    _window_event(session, hall, window)
    record(
        session,
        actor,
        "window.state",
        "window",
        window.id,
        {"from": previous.value, "to": state.value, "reason": window.pause_reason},
    )
    return window


# --------------------------------------------------------------------------- day end


def close_day(session: Session, *, hall_id: int, before: date, now: datetime, actor: str) -> int:
    """Archive every ticket still open from days before `before` (the daily close).
    A hold left open is closed with HOLD_CLOSED_REASON (and no finished_at), each
    with its own event."""
    held = list(
        session.execute(
            select(Ticket.id, Ticket.display).where(
                Ticket.hall_id == hall_id,
                Ticket.service_day < before,
                Ticket.state == TicketState.HELD,
            )
        ).all()
    )
    if held:
        session.execute(
            update(Ticket)
            .where(Ticket.id.in_([ticket_id for ticket_id, _display in held]))
            # No finished_at: the service never finished, and a duration up to the
            # close would be counted as service time by every figure.
            .values(state=TicketState.CLOSED, closed_reason=HOLD_CLOSED_REASON)
        )
    for ticket_id, display in held:
        eventlog.emit(
            session,
            hall_id,
            "ticket_hold_closed",
            {"ticket": display, "ticket_id": ticket_id, "reason": HOLD_CLOSED_REASON},
        )
    result = session.execute(
        update(Ticket)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.service_day < before,
            Ticket.state.in_([TicketState.WAITING, TicketState.CALLED, TicketState.SERVING]),
        )
        .values(state=TicketState.CLOSED, finished_at=now)
    )
    session.execute(
        update(Window)
        .where(Window.hall_id == hall_id, Window.current_ticket_id.is_not(None))
        .where(
            Window.current_ticket_id.in_(
                select(Ticket.id).where(
                    Ticket.hall_id == hall_id, Ticket.state == TicketState.CLOSED
                )
            )
        )
        .values(current_ticket_id=None)
    )
    count = int(result.rowcount or 0) + len(held)
    if count:
        eventlog.emit(
            session,
            hall_id,
            "day_closed",
            {"before": before.isoformat(), "closed": count, "holds_closed": len(held)},
        )
    record(
        session,
        actor,
        "queue.close_day",
        "hall",
        hall_id,
        {"before": before.isoformat(), "closed": count, "holds_closed": len(held)},
    )
    return count


# --------------------------------------------------------------------------- appointments


def _appointment_by_lookup_hash(
    session: Session, hall_id: int, today: date, id_lookup_hash: str
) -> Appointment | None:
    """Today's booking of this hall for the person with this ID lookup hash: the
    earliest-slot one still BOOKED, else (a repeated check-in) one already checked in."""
    for state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
        found = (
            session.execute(
                select(Appointment)
                .where(
                    Appointment.hall_id == hall_id,
                    Appointment.day == today,
                    Appointment.id_lookup_hash == id_lookup_hash,
                    Appointment.state == state,
                )
                .order_by(Appointment.slot_start, Appointment.id)
                .limit(1)
                .with_for_update()
            )
            .scalars()
            .first()
        )
        if found is not None:
            return found
    return None


def check_in_appointment(
    session: Session,
    *,
    hall_id: int,
    code: str | None = None,
    id_lookup_hash: str | None = None,
    now: datetime,
    actor: str,
    client_request_id: str | None = None,
    device_id: str | None = None,
) -> TicketView:
    """Check in by the appointment code or by the ID card's lookup hash (exactly one).
    The hash is a person's identifier: it is never logged, recorded or returned."""
    if (code is None) == (id_lookup_hash is None):
        raise BadInput("请输入预约码或刷身份证 / give an appointment code or an ID card")
    hall = _hall(session, hall_id)
    today = local_day(now, hall.timezone)
    if id_lookup_hash is not None:
        appointment = _appointment_by_lookup_hash(session, hall_id, today, id_lookup_hash)
        if appointment is None:
            raise NotFound("未找到今日预约 / no appointment today for this ID card")
    else:
        assert code is not None
        appointment = session.execute(
            select(Appointment).where(Appointment.code == code.strip().upper()).with_for_update()
        ).scalar_one_or_none()
        if appointment is None or appointment.hall_id != hall_id:
            raise NotFound("预约码不存在 / unknown appointment code")
    if appointment.state is AppointmentState.CHECKED_IN and appointment.ticket_id:
        ticket = session.get(Ticket, appointment.ticket_id)
        assert ticket is not None
        return view_of(session, ticket, with_position=True)
    if appointment.state is not AppointmentState.BOOKED:
        raise InvalidTransition(f"预约状态为 {appointment.state.value} / appointment not bookable")
    if appointment.day != today:
        raise InvalidTransition(
            f"预约日期为 {appointment.day.isoformat()}，请在当天签到 / check in on the day booked"
        )
    slot_end = datetime.combine(appointment.day, appointment.slot_end, zone(hall.timezone))
    if now > slot_end + timedelta(minutes=30):
        appointment.state = AppointmentState.MISSED
        raise InvalidTransition("预约时段已过 / the booked slot has passed")
    category = session.get(QueueCategory, appointment.category_id)
    assert category is not None
    view = issue_ticket(
        session,
        hall_id=hall_id,
        category_prefix=category.prefix,
        channel=Channel.APPOINTMENT,
        appointment=appointment,
        client_request_id=client_request_id,
        device_id=device_id,
        id_lookup_hash=appointment.id_lookup_hash,  # the booking's person: a real-name ticket
        now=now,
        actor=actor,
    )
    appointment.state = AppointmentState.CHECKED_IN
    appointment.ticket_id = view.id
    from backend.services.turn_notice import contact_from_booking  # it imports this module

    contact_from_booking(session, ticket_id=view.id, appointment=appointment)
    return view


def slot_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as error:
        raise BadInput(f"时间格式应为 HH:MM / bad time {value!r}") from error


def insert_ticket_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert for benchmarks and generated history; bypasses the rules above."""
    session.execute(insert(Ticket), rows)


def matter_version_for(session: Session, ticket: Ticket) -> MatterVersion | None:
    return (
        session.get(MatterVersion, ticket.matter_version_id) if ticket.matter_version_id else None
    )
