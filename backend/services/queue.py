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

import math
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.errors import BadInput, Conflict, InvalidTransition, NotFound, QueueUnavailable
from backend.models import (
    Appointment,
    AppointmentState,
    Channel,
    DailySequence,
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

PRIORITY_KINDS = {"elderly": "老年人", "disabled": "残疾人", "military": "军人", "pregnant": "孕妇"}


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(now: datetime, timezone: str) -> date:
    return now.astimezone(zone(timezone)).date()


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


def _format_number(prefix: str, number: int, number_end: int) -> str:
    return f"{prefix}{number:0{max(3, len(str(number_end)))}d}"


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


def estimate_minutes(ahead: int, avg_service_seconds: float, open_windows: int) -> int:
    """People ahead divided over the open windows, at the category's rolling
    average service time; at least 1 window is assumed so a closed hall still
    gives an estimate for the morning."""
    return math.ceil(ahead * avg_service_seconds / max(1, open_windows) / 60)


def position_of(session: Session, ticket: Ticket, category: QueueCategory) -> tuple[int, int]:
    """How many waiting tickets of the same category would be called before this one."""
    ahead = session.execute(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.hall_id == ticket.hall_id,
            Ticket.service_day == ticket.service_day,
            Ticket.category_id == ticket.category_id,
            Ticket.state == TicketState.WAITING,
            Ticket.id != ticket.id,
            or_(
                Ticket.standing < ticket.standing,
                and_(Ticket.standing == ticket.standing, Ticket.sort_at < ticket.sort_at),
                and_(
                    Ticket.standing == ticket.standing,
                    Ticket.sort_at == ticket.sort_at,
                    Ticket.id < ticket.id,
                ),
            ),
        )
    ).scalar_one()
    windows = open_windows_serving(session, category.id)
    return int(ahead), estimate_minutes(int(ahead), category.avg_service_seconds, windows)


# --------------------------------------------------------------------------- issuing


def _next_number(session: Session, category: QueueCategory, day: date, count: int = 1) -> int:
    statement = (
        update(DailySequence)
        .where(DailySequence.category_id == category.id, DailySequence.service_day == day)
        .values(
            last_number=DailySequence.last_number + count,
            issued_count=DailySequence.issued_count + count,
        )
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
    last_number, issued = int(row[0]), int(row[1])
    if last_number > category.number_end:
        raise QueueUnavailable(
            f"{category.name}今日号码已用完 / today's numbers for this category are used up",
            category=category.prefix,
        )
    if issued > category.daily_cap:
        raise QueueUnavailable(
            f"{category.name}今日取号已满 / the daily limit for this category is reached",
            category=category.prefix,
            daily_cap=category.daily_cap,
        )
    return last_number - count + 1


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

        version = current_version(session, matter_code)
        matter_version_id = version.id
        category_prefix = category_prefix or version.queue_category
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
    eventlog.emit(
        session,
        hall_id,
        "ticket_issued",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "category": category.prefix,
            "standing": standing.name.lower(),
            "channel": channel.value,
            "waiting": waiting_count(session, category.id, day),
        },
    )
    record(session, actor, "ticket.issue", "ticket", ticket.id, {"number": ticket.display})
    return view


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
    eventlog.emit(
        session,
        hall_id,
        "ticket_issued",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "category": category.prefix,
            "standing": Standing(ticket.standing).name.lower(),
            "channel": Channel.HUB_OFFLINE.value,
            "waiting": waiting_count(session, category.id, day),
        },
    )
    record(session, actor, "ticket.import_offline", "ticket", ticket.id, {"number": ticket.display})
    return view_of(session, ticket)


def reserve_block(
    session: Session, *, hall_id: int, category_prefix: str, size: int, now: datetime, actor: str
) -> TicketBlock:
    if not 1 <= size <= 200:
        raise BadInput("预留号段大小须在 1–200 之间 / block size must be 1..200", size=size)
    hall = _hall(session, hall_id)
    category = category_by_prefix(session, hall_id, category_prefix)
    day = local_day(now, hall.timezone)
    first = _next_number(session, category, day, size)
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


def waiting_count(session: Session, category_id: int, day: date) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.category_id == category_id,
                Ticket.service_day == day,
                Ticket.state == TicketState.WAITING,
            )
        ).scalar_one()
    )


# --------------------------------------------------------------------------- calling


@dataclass(frozen=True)
class CallResult:
    ticket: TicketView | None
    finished: TicketView | None  # the ticket this call ended, if any


def _lock_window(session: Session, window_id: int) -> tuple[Window, Hall]:
    row = session.execute(
        select(Window, Hall)
        .join(Hall, Hall.id == Window.hall_id)
        .where(Window.id == window_id)
        .with_for_update(of=Window)
    ).one_or_none()
    if row is None:
        raise NotFound("窗口不存在 / window not found", window_id=window_id)
    return row[0], row[1]


def _require_open(window: Window) -> None:
    if window.state is not WindowState.OPEN:
        raise InvalidTransition(
            f"{window.number}号窗口当前不在服务状态 / window is not open",
            window=window.number,
            state=window.state.value,
        )


def _finish_current(
    session: Session, window: Window, hall: Hall, now: datetime, actor: str
) -> TicketView | None:
    if window.current_ticket_id is None:
        return None
    ticket = session.get(Ticket, window.current_ticket_id, with_for_update=True)
    window.current_ticket_id = None
    if ticket is None or ticket.state not in (TicketState.CALLED, TicketState.SERVING):
        return None
    return _finish(session, ticket, window, hall, now, actor)


def _finish(
    session: Session, ticket: Ticket, window: Window, hall: Hall, now: datetime, actor: str
) -> TicketView:
    policy = HallPolicy.from_json(hall.call_policy)
    started = ticket.started_at or ticket.called_at or now
    ticket.state = TicketState.DONE
    ticket.finished_at = now
    category = session.get(QueueCategory, ticket.category_id)
    assert category is not None
    duration = (now - started).total_seconds()
    if 0 < duration < 4 * 3600:  # a ticket left open over lunch says nothing about service time
        smoothing = policy.service_time_smoothing
        category.avg_service_seconds = (
            1 - smoothing
        ) * category.avg_service_seconds + smoothing * duration
    eventlog.emit(
        session,
        hall.id,
        "ticket_finished",
        {"ticket": ticket.display, "ticket_id": ticket.id, "window": window.number},
    )
    record(session, actor, "ticket.finish", "ticket", ticket.id, {"window": window.number})
    if policy.auto_invite_rating:
        from backend.services.ratings import request_rating

        request_rating(session, ticket=ticket, window=window, hall=hall, now=now, actor=actor)
    return view_of(session, ticket)


def _candidate_query(window: Window, day: date, now: datetime, prefer_ordinary: bool) -> Any:
    # Appointments count as such only once their slot has started (see queue_policy).
    effective_standing = case(
        (
            and_(Ticket.standing == Standing.APPOINTMENT.value, Ticket.sort_at > now),
            Standing.ORDINARY.value,
        ),
        else_=Ticket.standing,
    )
    ordering: list[Any] = []
    if prefer_ordinary:
        ordering.append(case((effective_standing == Standing.ORDINARY.value, 0), else_=1))
    ordering += [
        effective_standing,
        func.coalesce(WindowCategory.weight, 0).desc(),
        Ticket.sort_at,
        Ticket.id,
    ]
    return (
        select(Ticket.id, effective_standing.label("effective_standing"))
        .outerjoin(
            WindowCategory,
            and_(
                WindowCategory.category_id == Ticket.category_id,
                WindowCategory.window_id == window.id,
            ),
        )
        .where(
            Ticket.hall_id == window.hall_id,
            Ticket.service_day == day,
            Ticket.state == TicketState.WAITING,
            or_(
                and_(WindowCategory.window_id.is_not(None), Ticket.target_window_id.is_(None)),
                Ticket.target_window_id == window.id,
            ),
        )
        .order_by(*ordering)
        .limit(1)
        .with_for_update(of=Ticket, skip_locked=True)
    )


def call_next(
    session: Session, *, window_id: int, staff_id: int | None, now: datetime, actor: str
) -> CallResult:
    window, hall = _lock_window(session, window_id)
    _require_open(window)
    finished = _finish_current(session, window, hall, now, actor)
    policy = HallPolicy.from_json(hall.call_policy)
    day = local_day(now, hall.timezone)
    ratio = policy.ordinary_per_preferred
    prefer_ordinary = (
        ratio is not None and window.ordinary_streak is not None and window.ordinary_streak < ratio
    )
    row = session.execute(_candidate_query(window, day, now, prefer_ordinary)).one_or_none()
    if row is None:
        return CallResult(ticket=None, finished=finished)
    ticket_id, effective = int(row[0]), int(row[1])
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    _mark_called(session, ticket, window, hall, staff_id, now, actor)
    if effective == Standing.ORDINARY.value:
        window.ordinary_streak = min((window.ordinary_streak or 0) + 1, 1000)
    else:
        window.ordinary_streak = 0
    return CallResult(ticket=view_of(session, ticket), finished=finished)


def _mark_called(
    session: Session,
    ticket: Ticket,
    window: Window,
    hall: Hall,
    staff_id: int | None,
    now: datetime,
    actor: str,
    action: str = "ticket.call",
) -> None:
    ticket.state = TicketState.CALLED
    ticket.called_at = now
    ticket.window_id = window.id
    ticket.staff_id = staff_id
    ticket.recall_count = 0
    window.current_ticket_id = ticket.id
    session.flush()
    eventlog.emit(
        session,
        hall.id,
        "ticket_called",
        {
            "ticket": ticket.display,
            "ticket_id": ticket.id,
            "window": window.number,
            "category": _prefix_of(session, ticket.category_id),
            "called_at": now.isoformat(),
            "recall": 0,
            "waiting": waiting_count(session, ticket.category_id, ticket.service_day),
        },
    )
    record(session, actor, action, "ticket", ticket.id, {"window": window.number})


@lru_cache(maxsize=4096)
def _prefix_cache(category_id: int) -> str:  # pragma: no cover - replaced per session below
    raise LookupError


def _prefix_of(session: Session, category_id: int) -> str:
    category = session.get(QueueCategory, category_id)
    assert category is not None
    return category.prefix


def call_specific(
    session: Session,
    *,
    window_id: int,
    number: str,
    reason: str,
    staff_id: int | None,
    now: datetime,
    actor: str,
) -> CallResult:
    """Call one waiting ticket out of order; the reason is kept on the ticket and audited."""
    if not reason.strip():
        raise BadInput("跳号呼叫须填写原因 / a reason is required to call out of order")
    window, hall = _lock_window(session, window_id)
    _require_open(window)
    ticket = ticket_by_number(session, hall.id, local_day(now, hall.timezone), number)
    ticket = _ticket_for_update(session, ticket.id)
    if ticket.state is not TicketState.WAITING:
        raise InvalidTransition(
            f"号票 {ticket.display} 当前状态为 {ticket.state.value}，不能呼叫",
            state=ticket.state.value,
        )
    finished = _finish_current(session, window, hall, now, actor)
    ticket.out_of_order_reason = reason.strip()[:200]
    _mark_called(session, ticket, window, hall, staff_id, now, actor, "ticket.call_specific")
    return CallResult(ticket=view_of(session, ticket), finished=finished)


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


def recall(session: Session, *, window_id: int, now: datetime, actor: str) -> TicketView:
    window, hall = _lock_window(session, window_id)
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
        },
    )
    record(session, actor, "ticket.recall", "ticket", ticket.id, {"count": ticket.recall_count})
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
        {"ticket": ticket.display, "ticket_id": ticket.id, "window": window.number},
    )
    record(session, actor, "ticket.start", "ticket", ticket.id, {})
    return view_of(session, ticket)


def finish_service(session: Session, *, window_id: int, now: datetime, actor: str) -> TicketView:
    window, hall = _lock_window(session, window_id)
    ticket = _current_ticket(session, window, (TicketState.CALLED, TicketState.SERVING))
    window.current_ticket_id = None
    return _finish(session, ticket, window, hall, now, actor)


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
        },
    )
    record(session, actor, "ticket.no_show", "ticket", ticket.id, {"requeued": requeued})
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
        session, hall_id, "ticket_requeued", {"ticket": ticket.display, "ticket_id": ticket.id}
    )
    record(session, actor, "ticket.requeue", "ticket", ticket.id, {})
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
    ticket = _ticket_for_update(session, ticket_id)
    if ticket.hall_id != hall_id:
        raise NotFound("号票不存在 / ticket not found")
    if ticket.state not in (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING):
        raise InvalidTransition(
            f"号票 {ticket.display} 状态为 {ticket.state.value}，不能转移", state=ticket.state.value
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
        {"ticket": ticket.display, "ticket_id": ticket.id, **target},
    )
    record(session, actor, "ticket.transfer", "ticket", ticket.id, {**target, "reason": reason})
    return view_of(session, ticket)


def cancel(
    session: Session, *, hall_id: int, ticket_id: int, now: datetime, actor: str
) -> TicketView:
    ticket = _ticket_for_update(session, ticket_id)
    if ticket.hall_id != hall_id:
        raise NotFound("号票不存在 / ticket not found")
    if ticket.state is not TicketState.WAITING:
        raise InvalidTransition(
            f"号票 {ticket.display} 状态为 {ticket.state.value}，不能取消", state=ticket.state.value
        )
    ticket.state = TicketState.CANCELLED
    ticket.finished_at = now
    eventlog.emit(
        session, hall_id, "ticket_cancelled", {"ticket": ticket.display, "ticket_id": ticket.id}
    )
    record(session, actor, "ticket.cancel", "ticket", ticket.id, {})
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
    """Archive every ticket still open from days before `before` (the daily close)."""
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
    count = int(result.rowcount or 0)
    if count:
        eventlog.emit(
            session, hall_id, "day_closed", {"before": before.isoformat(), "closed": count}
        )
    record(
        session,
        actor,
        "queue.close_day",
        "hall",
        hall_id,
        {"before": before.isoformat(), "closed": count},
    )
    return count


# --------------------------------------------------------------------------- appointments


def check_in_appointment(
    session: Session,
    *,
    hall_id: int,
    code: str,
    now: datetime,
    actor: str,
    client_request_id: str | None = None,
    device_id: str | None = None,
) -> TicketView:
    appointment = session.execute(
        select(Appointment).where(Appointment.code == code.strip().upper()).with_for_update()
    ).scalar_one_or_none()
    if appointment is None or appointment.hall_id != hall_id:
        raise NotFound("预约码不存在 / unknown appointment code")
    hall = _hall(session, hall_id)
    today = local_day(now, hall.timezone)
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
        now=now,
        actor=actor,
    )
    appointment.state = AppointmentState.CHECKED_IN
    appointment.ticket_id = view.id
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
