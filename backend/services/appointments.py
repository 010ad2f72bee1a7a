"""预约: booking a time slot from the phone page, cancelling it, and the rules.

The hall's published rules (demo notice 预约办理): book at least one working
day ahead, at most five working days ahead; one booking per person per day;
cancel at least two hours before the slot starts. A person is recognised by
the HMAC lookup hash of their ID number (never stored in clear); the phone
number is stored encrypted with its last four digits for the kiosk prompt,
and the name only masked. The code the kiosk checks in is 8 characters from
an alphabet without look-alikes (0/O, 1/I), drawn from the OS's generator.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import BadInput, Conflict, InvalidTransition, NotFound
from backend.models import Appointment, AppointmentState, Hall, QueueCategory
from backend.privacy import IdentityProtector, mask_name, validate_resident_id
from backend.services.audit import record
from backend.services.calendar import calendar_for
from backend.services.catalog import current_version
from backend.services.hall_catalog import matter_category
from backend.services.queue import local_day, zone

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


@dataclass(frozen=True)
class BookingRules:
    min_working_days_ahead: int = 1
    max_working_days_ahead: int = 5
    slot_minutes: int = 30
    # Morning and afternoon booking periods (hall local time).
    periods: tuple[tuple[time, time], ...] = (
        (time(9, 0), time(11, 30)),
        (time(13, 30), time(16, 30)),
    )
    per_slot_capacity: int = 4
    cancel_cutoff: timedelta = timedelta(hours=2)


DEFAULT_RULES = BookingRules()


@dataclass(frozen=True)
class Slot:
    start: time
    end: time
    remaining: int

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def bookable_days(session: Session, today: date, rules: BookingRules = DEFAULT_RULES) -> list[date]:
    calendar = calendar_for(session)
    days: list[date] = []
    day = today
    counted = 0
    while counted < rules.max_working_days_ahead:
        day += timedelta(days=1)
        if not calendar.is_workday(day):
            continue
        counted += 1
        if counted >= rules.min_working_days_ahead:
            days.append(day)
    return days


def slots_for(
    session: Session, category_id: int, day: date, rules: BookingRules = DEFAULT_RULES
) -> list[Slot]:
    taken = dict(
        session.execute(
            select(Appointment.slot_start, func.count())
            .where(
                Appointment.category_id == category_id,
                Appointment.day == day,
                Appointment.state.in_([AppointmentState.BOOKED, AppointmentState.CHECKED_IN]),
            )
            .group_by(Appointment.slot_start)
        ).all()
    )
    slots: list[Slot] = []
    step = timedelta(minutes=rules.slot_minutes)
    for begin, end in rules.periods:
        cursor = datetime.combine(day, begin)
        while (cursor + step).time() <= end and cursor.date() == day:
            start = cursor.time()
            slots.append(
                Slot(
                    start,
                    (cursor + step).time(),
                    max(0, rules.per_slot_capacity - int(taken.get(start, 0))),
                )
            )
            cursor += step
    return slots


def _new_code(session: Session) -> str:
    for _attempt in range(10):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.execute(select(Appointment.id).where(Appointment.code == code)).first() is None:
            return code
    raise Conflict("无法生成预约码，请重试 / could not allocate a code")  # pragma: no cover


def book(
    session: Session,
    *,
    hall_id: int,
    matter_code: str,
    day: date,
    slot_start: time,
    name: str,
    id_number: str,
    phone: str,
    protector: IdentityProtector,
    now: datetime,
    actor: str = "public:phone",
    rules: BookingRules = DEFAULT_RULES,
) -> Appointment:
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFound("大厅不存在 / hall not found")
    name = name.strip()
    if not 2 <= len(name) <= 40:
        raise BadInput("请填写真实姓名 / please give your name", field="name")
    try:
        id_number = validate_resident_id(id_number)
    except ValueError as error:
        raise BadInput(str(error), field="id_number") from error
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) != 11 or not digits.startswith("1"):
        raise BadInput("请填写11位手机号码 / an 11-digit mobile number is required", field="phone")
    version = current_version(session, matter_code)
    prefix = matter_category(session, hall_id, version)
    category = (
        session.execute(
            select(QueueCategory).where(
                QueueCategory.hall_id == hall_id, QueueCategory.prefix == prefix
            )
        ).scalar_one_or_none()
        if prefix is not None
        else None
    )
    if category is None or not category.active:
        raise BadInput("该事项在本大厅不可预约 / this matter cannot be booked here")
    today = local_day(now, hall.timezone)
    if day not in bookable_days(session, today, rules):
        raise BadInput(
            f"可预约 {rules.min_working_days_ahead}–{rules.max_working_days_ahead} 个工作日内的时段"
            " / this day cannot be booked",
            field="day",
        )
    # The row lock on the category serialises bookings of one queue, so two
    # people cannot both take the last place of a slot.
    session.execute(
        select(QueueCategory.id).where(QueueCategory.id == category.id).with_for_update()
    )
    slot = next(
        (s for s in slots_for(session, category.id, day, rules) if s.start == slot_start), None
    )
    if slot is None:
        raise BadInput("没有这个预约时段 / no such slot", field="slot")
    if slot.remaining <= 0:
        raise Conflict("该时段已约满，请选择其他时段 / this slot is full")
    person = protector.lookup_hash(id_number)
    same_day = session.execute(
        select(Appointment.id).where(
            Appointment.hall_id == hall_id,
            Appointment.day == day,
            Appointment.id_lookup_hash == person,
            Appointment.state.in_([AppointmentState.BOOKED, AppointmentState.CHECKED_IN]),
        )
    ).first()
    if same_day is not None:
        raise Conflict("每人每天限预约一次 / one booking per person per day")
    appointment = Appointment(
        hall_id=hall_id,
        category_id=category.id,
        matter_version_id=version.id,
        day=day,
        slot_start=slot.start,
        slot_end=slot.end,
        code=_new_code(session),
        name_masked=mask_name(name),
        phone_last4=digits[-4:],
        phone_cipher=protector.seal_text(digits),
        id_lookup_hash=person,
        state=AppointmentState.BOOKED,
        created_at=now,
    )
    session.add(appointment)
    session.flush()
    record(
        session,
        actor,
        "appointment.book",
        "appointment",
        appointment.id,
        {"matter": version.code, "day": day.isoformat(), "slot": slot.label},
    )
    return appointment


def cancel_deadline(
    appointment: Appointment, hall: Hall, rules: BookingRules = DEFAULT_RULES
) -> datetime:
    start = datetime.combine(appointment.day, appointment.slot_start, zone(hall.timezone))
    return start - rules.cancel_cutoff


def cancel(
    session: Session,
    *,
    appointment_id: int,
    now: datetime,
    actor: str = "public:phone",
    rules: BookingRules = DEFAULT_RULES,
) -> Appointment:
    appointment = session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None:
        raise NotFound("预约不存在 / appointment not found")
    if appointment.state is not AppointmentState.BOOKED:
        raise InvalidTransition("该预约已签到或已取消 / the booking can no longer be cancelled")
    hall = session.get(Hall, appointment.hall_id)
    assert hall is not None
    if now > cancel_deadline(appointment, hall, rules):
        raise InvalidTransition("预约时段开始前2小时内不能取消 / too late to cancel this booking")
    appointment.state = AppointmentState.CANCELLED
    record(session, actor, "appointment.cancel", "appointment", appointment.id, {})
    return appointment
