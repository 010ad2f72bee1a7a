"""Generate one year of hall data into PostgreSQL for the supervision and
performance benchmarks: tickets, cases with their events, ratings and
rectifications, with the daily and hourly rhythm of a real hall (no service on
weekends and holidays, 调休 Saturdays open, morning and afternoon peaks,
Mondays busiest).

    .venv/bin/python bench/generate_year.py --database hallkit_bench \
        --tickets 1000000 --cases 300000 --ratings 500000

The database is created (dropped first with --recreate), migrated and seeded
with the demo hall; rows are streamed with COPY. The last day is "today" up to
15:00, with tickets still waiting, so the live hall view has something to show.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import psycopg
from sqlalchemy import select

from backend.db import Database
from backend.migrate import upgrade
from backend.models import (
    Hall,
    MatterVersion,
    QueueCategory,
    Role,
    Staff,
    StaffPost,
    Window,
    WindowCategory,
    WindowDepartment,
)
from backend.seed.loader import seed_demo
from backend.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Share of a day's tickets issued in each opening hour (8:30-17:00): two peaks.
HOUR_WEIGHTS = {
    8: 0.06,
    9: 0.17,
    10: 0.17,
    11: 0.10,
    12: 0.05,
    13: 0.09,
    14: 0.15,
    15: 0.14,
    16: 0.07,
}
WEEKDAY_WEIGHTS = {0: 1.30, 1: 1.05, 2: 1.0, 3: 0.95, 4: 0.90, 5: 0.8, 6: 0.8}  # 调休 weekends
RATING_LEVELS = ((5, 0.70), (4, 0.18), (3, 0.07), (2, 0.03), (1, 0.02))


@dataclass(frozen=True)
class Hallmap:
    hall_id: int
    categories: list[tuple[int, str]]  # (id, prefix)
    category_weights: list[float]
    windows_for_category: dict[int, list[tuple[int, int | None]]]  # -> [(window, staff)]
    staff_department: dict[int, int | None]
    matters: list[tuple[int, str, int, int, int]]  # (version, code, version no, dept, days)
    clerks_for_department: dict[int, list[int]]
    window_for_department: dict[int, int]


def _connect_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def create_database(admin_url: str, name: str, recreate: bool) -> str:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if recreate:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _connect_url(admin_url, name)
    sqlalchemy_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    upgrade(sqlalchemy_url)
    database = Database(sqlalchemy_url)
    with database.writing() as session:
        seed_demo(session, staff_password="demo-pass-2026")
    database.dispose()
    return url


def load_hall(url: str, hall_code: str) -> Hallmap:
    database = Database(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with database.reading() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == hall_code)).scalar_one()
        categories = [
            (c.id, c.prefix, c.daily_cap)
            for c in session.execute(
                select(QueueCategory).where(QueueCategory.hall_id == hall_id)
            ).scalars()
        ]
        post_a = {
            window: staff
            for staff, window in session.execute(
                select(StaffPost.staff_id, StaffPost.window_id).where(StaffPost.post == "A")
            )
        }
        windows_for_category: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
        for window_id, category_id in session.execute(
            select(WindowCategory.window_id, WindowCategory.category_id)
            .join(Window, Window.id == WindowCategory.window_id)
            .where(Window.hall_id == hall_id)
        ):
            windows_for_category[category_id].append((window_id, post_a.get(window_id)))
        staff = list(session.execute(select(Staff)).scalars())
        matters = [
            (v.id, v.code, v.version, v.department_id, v.promised_days)
            for v in session.execute(select(MatterVersion)).scalars()
        ]
        window_for_department = {
            department: window
            for window, department in session.execute(
                select(WindowDepartment.window_id, WindowDepartment.department_id)
                .join(Window, Window.id == WindowDepartment.window_id)
                .where(Window.hall_id == hall_id)
            )
        }
    database.dispose()
    usable = [(cid, prefix, cap) for cid, prefix, cap in categories if windows_for_category[cid]]
    clerks: dict[int, list[int]] = defaultdict(list)
    for member in staff:
        if member.department_id and member.has_role(Role.CLERK):
            clerks[member.department_id].append(member.id)
    return Hallmap(
        hall_id=hall_id,
        categories=[(cid, prefix) for cid, prefix, _ in usable],
        category_weights=[float(cap) for _, _, cap in usable],
        windows_for_category=dict(windows_for_category),
        staff_department={s.id: s.department_id for s in staff},
        matters=[m for m in matters if clerks.get(m[3])],
        clerks_for_department=dict(clerks),
        window_for_department=window_for_department,
    )


def working_days(calendar: WorkCalendar, first: date, last: date) -> list[date]:
    days = []
    day = first
    while day <= last:
        if calendar.is_workday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def local(day: date, seconds: float) -> datetime:
    return (
        datetime.combine(day, clock_time(0), tzinfo=SHANGHAI) + timedelta(seconds=seconds)
    ).astimezone(UTC)


def ticket_rows(
    hall: Hallmap, days: list[date], total: int, today: date, now_seconds: float, rng: random.Random
) -> Iterator[tuple[object, ...]]:
    day_weights = [WEEKDAY_WEIGHTS[d.weekday()] for d in days]
    scale = total / sum(day_weights)
    hours = list(HOUR_WEIGHTS)
    hour_weights = list(HOUR_WEIGHTS.values())
    ticket_id = 0
    for day, weight in zip(days, day_weights, strict=True):
        count = round(weight * scale * rng.uniform(0.9, 1.1))
        picks = rng.choices(range(len(hall.categories)), hall.category_weights, k=count)
        issued = sorted(
            (h * 3600 + rng.uniform(30 * 60 if h == 8 else 0, 3600), c)
            for h, c in zip(rng.choices(hours, hour_weights, k=count), picks, strict=True)
        )
        numbers: dict[int, int] = defaultdict(int)
        for seconds, pick in issued:
            category_id, prefix = hall.categories[pick]
            numbers[category_id] += 1
            if numbers[category_id] > 999:
                continue
            ticket_id += 1
            is_today = day == today
            if is_today and seconds > now_seconds:
                break
            # Waiting grows with the hour's load: the peaks wait longest.
            load = HOUR_WEIGHTS[int(seconds // 3600)] / 0.17
            wait = rng.expovariate(1 / (240 + 900 * load))
            window: int | None
            staff: int | None
            window, staff = rng.choice(hall.windows_for_category[category_id])
            service = rng.lognormvariate(math.log(300), 0.5)
            issued_at = local(day, seconds)
            state = "done"
            called_at = started_at = finished_at = None
            roll = rng.random()
            if is_today and seconds + wait > now_seconds:
                state, window, staff = "waiting", None, None
            else:
                called_at = local(day, seconds + wait)
                if roll < 0.04:
                    state = "no_show"
                elif roll < 0.06:
                    state, called_at, window, staff = "cancelled", None, None, None
                else:
                    started_at = called_at + timedelta(seconds=20)
                    finished_at = started_at + timedelta(seconds=service)
            yield (
                ticket_id,
                hall.hall_id,
                category_id,
                category_id,
                day,
                numbers[category_id],
                f"{prefix}{numbers[category_id]:03d}",
                "kiosk",
                2,
                state,
                issued_at,
                issued_at,
                called_at,
                window,
                staff,
                started_at,
                finished_at,
                0,
                0,
                f"t{ticket_id:x}-{uuid.uuid4().hex[:8]}",
                "",
            )


TICKET_COLUMNS = (
    "id",
    "hall_id",
    "category_id",
    "issue_category_id",
    "service_day",
    "number",
    "display",
    "channel",
    "standing",
    "state",
    "issued_at",
    "sort_at",
    "called_at",
    "window_id",
    "staff_id",
    "started_at",
    "finished_at",
    "recall_count",
    "no_show_count",
    "public_token",
    "out_of_order_reason",
)
CASE_COLUMNS = (
    "id",
    "receipt_number",
    "public_token",
    "hall_id",
    "matter_version_id",
    "department_id",
    "window_id",
    "handler_staff_id",
    "registered_by_staff_id",
    "applicant_kind",
    "applicant_name",
    "applicant_name_masked",
    "applicant_id_cipher",
    "applicant_id_hash",
    "applicant_id_masked",
    "phone_cipher",
    "phone_last4",
    "state",
    "accepted_at",
    "accepted_on",
    "promised_days",
    "due_on",
    "due_provisional",
    "joint",
    "public_disclosure",
    "decision_reason",
    "completed_at",
    "collected_by",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "case_id",
    "at",
    "action",
    "from_state",
    "to_state",
    "actor_staff_id",
    "actor_label",
    "department_id",
    "note",
)
MAIN_LINE = (
    ("undertake", "accepted", "undertaking"),
    ("review", "undertaking", "reviewing"),
    ("approve", "reviewing", "approved"),
    ("complete", "approved", "completed"),
    ("deliver", "completed", "delivered"),
)


def case_rows(
    hall: Hallmap,
    calendar: WorkCalendar,
    days: list[date],
    total: int,
    today: date,
    rng: random.Random,
) -> Iterator[tuple[tuple[object, ...], list[tuple[object, ...]]]]:
    per_day = total / len(days)
    case_id = event_id = 0
    due_cache: dict[tuple[date, int], date] = {}
    for day in days:
        for _ in range(round(per_day * rng.uniform(0.85, 1.15))):
            case_id += 1
            version, _code, _number, department, promised = rng.choice(hall.matters)
            handler = rng.choice(hall.clerks_for_department[department])
            key = (day, promised)
            if key not in due_cache:
                due_cache[key] = calendar.add_working_days(day, promised).due  # type: ignore[assignment]
            due = due_cache[key]
            accepted_at = local(day, rng.uniform(9 * 3600, 16.5 * 3600))
            events: list[tuple[object, ...]] = []
            label = f"staff:{handler}"

            # Called only within this iteration, so the loop variables are current.
            def add(at: datetime, action: str, before: str | None, after: str) -> None:
                nonlocal event_id
                event_id += 1
                events.append(  # noqa: B023
                    (event_id, case_id, at, action, before, after, handler, label, department, "")  # noqa: B023
                )

            roll = rng.random()
            completed_at = None
            if roll < 0.005:
                state = "not_accepted"
                add(accepted_at, "not_accept", None, "not_accepted")
                completed_at = None
            else:
                add(accepted_at, "accept", None, "accepted")
                # Finishing day: mostly on time, 5 % late, recent cases may be open.
                late = rng.random() < 0.05
                spread = max(promised, 1)
                finish_day = (
                    due + timedelta(days=rng.randint(1, 6))
                    if late
                    else day + timedelta(days=rng.randint(0, spread))
                )
                finish = local(finish_day, rng.uniform(9 * 3600, 16.5 * 3600))
                finish = max(finish, accepted_at + timedelta(minutes=30))
                steps: tuple[tuple[str, str, str], ...] = (
                    MAIN_LINE
                    if promised
                    else (
                        ("complete", "accepted", "completed"),
                        ("deliver", "completed", "delivered"),
                    )
                )
                if finish_day >= today:
                    # Still open: stop somewhere along the main line.
                    steps = steps[: rng.randint(0, min(3, len(steps) - 2))]
                elif roll < 0.015:
                    steps = (("withdraw", "accepted", "withdrawn"),)
                elif roll < 0.02 and promised:
                    steps = (MAIN_LINE[0], ("deny", "undertaking", "denied"))
                gap = (finish - accepted_at) / (len(steps) + 1)
                state = "accepted"
                for position, (action, before, after) in enumerate(steps, start=1):
                    add(accepted_at + gap * position, action, before, after)
                    state = after
                if state in ("completed", "delivered", "denied", "withdrawn"):
                    completed_at = events[-1][2] if state != "delivered" else events[-2][2]
            yield (
                (
                    case_id,
                    f"{day:%Y%m%d}{case_id:010d}",
                    f"c{case_id:x}-{uuid.uuid4().hex[:8]}",
                    hall.hall_id,
                    version,
                    department,
                    hall.window_for_department.get(department),
                    handler,
                    handler,
                    "organisation",
                    "测试企业",
                    "测试企业",
                    "x",
                    f"h{case_id}",
                    "9121********",
                    "x",
                    "0000",
                    state,
                    accepted_at,
                    day,
                    promised,
                    None if state == "not_accepted" else due,
                    False,
                    False,
                    False,
                    "",
                    completed_at,
                    "",
                    completed_at or accepted_at,
                ),
                events,
            )


def rating_rows(
    ticket_facts: list[tuple[int, datetime, int | None, int | None]],
    hall: Hallmap,
    total: int,
    today: date,
    rng: random.Random,
) -> Iterator[tuple[tuple[object, ...], tuple[object, ...] | None]]:
    chosen = rng.sample(range(len(ticket_facts)), min(total, len(ticket_facts)))
    chosen.sort()
    levels = [level for level, _ in RATING_LEVELS]
    weights = [weight for _, weight in RATING_LEVELS]
    calendar_days = 15
    for rating_id, index in enumerate(chosen, start=1):
        ticket_id, finished_at, window, staff = ticket_facts[index]
        level = rng.choices(levels, weights)[0]
        department = hall.staff_department.get(staff) if staff else None
        rated_at = finished_at + timedelta(seconds=rng.uniform(5, 60))
        rating = (
            rating_id,
            f"r{rating_id:x}",
            f"ticket:{ticket_id}",
            hall.hall_id,
            ticket_id,
            "",
            window,
            staff,
            department,
            "evaluator",
            level,
            "[]",
            "",
            "{}",
            rated_at,
            rated_at,
            rng.random() < 0.002,
            "",
        )
        rectification = None
        if level <= 2:
            day = rated_at.astimezone(SHANGHAI).date()
            old = (today - day).days > calendar_days
            state = rng.choices(
                ["rectified", "closed", "open", "called_back"],
                [0.5, 0.35, 0.1, 0.05] if old else [0.2, 0.1, 0.5, 0.2],
            )[0]
            rectification = (
                rating_id,
                rating_id,
                department,
                '["办事效率低"]',
                state,
                day + timedelta(days=1),
                day + timedelta(days=21),
                False,
                "",
                "",
                rated_at,
            )
        yield rating, rectification


RATING_COLUMNS = (
    "id",
    "rating_uid",
    "service_key",
    "hall_id",
    "ticket_id",
    "matter_code",
    "window_id",
    "staff_id",
    "department_id",
    "channel",
    "level",
    "reasons",
    "note",
    "dimensions",
    "rated_at",
    "received_at",
    "voided",
    "void_reason",
)
RECTIFICATION_COLUMNS = (
    "id",
    "rating_id",
    "department_id",
    "reasons",
    "state",
    "callback_due",
    "rectify_due",
    "due_provisional",
    "callback_note",
    "outcome",
    "created_at",
)


def generate(
    url: str, hall_code: str, tickets: int, cases: int, ratings: int, end: date, seed: int
) -> dict[str, float]:
    rng = random.Random(seed)
    calendar = WorkCalendar()
    hall = load_hall(url, hall_code)
    days = working_days(calendar, end - timedelta(days=364), end)
    timings: dict[str, float] = {}
    facts: list[tuple[int, datetime, int | None, int | None]] = []
    counts: dict[str, int] = defaultdict(int)
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY tickets ({', '.join(TICKET_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in ticket_rows(hall, days, tickets, end, 15 * 3600, rng):
                copy.write_row(row)
                counts["tickets"] += 1
                if row[9] == "done":
                    facts.append((row[0], row[16], row[13], row[14]))  # type: ignore[arg-type]
        timings["tickets"] = time.perf_counter() - started
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as case_copy,
        ):
            pending_events: list[tuple[object, ...]] = []
            for case, events in case_rows(hall, calendar, days, cases, end, rng):
                case_copy.write_row(case)
                pending_events.extend(events)
                counts["cases"] += 1
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY case_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as event_copy,
        ):
            for event in pending_events:
                event_copy.write_row(event)
                counts["case_events"] += 1
        timings["cases"] = time.perf_counter() - started
        started = time.perf_counter()
        rectifications: list[tuple[object, ...]] = []
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY ratings ({', '.join(RATING_COLUMNS)}) FROM STDIN") as rating_copy,
        ):
            for rating, rectification in rating_rows(facts, hall, ratings, end, rng):
                rating_copy.write_row(rating)
                counts["ratings"] += 1
                if rectification is not None:
                    rectifications.append(rectification)
        with (
            connection.cursor() as cursor,
            cursor.copy(
                f"COPY rectifications ({', '.join(RECTIFICATION_COLUMNS)}) FROM STDIN"
            ) as rectification_copy,
        ):
            for row in rectifications:
                rectification_copy.write_row(row)
                counts["rectifications"] += 1
        timings["ratings"] = time.perf_counter() - started
        started = time.perf_counter()
        for table in ("tickets", "cases", "case_events", "ratings", "rectifications"):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
        timings["analyze"] = time.perf_counter() - started
    return {
        **{f"rows_{k}": float(v) for k, v in counts.items()},
        **{f"seconds_{k}": round(v, 1) for k, v in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default="hallkit_bench")
    parser.add_argument("--recreate", action="store_true")
    parser.add_argument("--hall", default="BH")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=300_000)
    parser.add_argument("--ratings", type=int, default=500_000)
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=date(2026, 11, 26),
        help='the last day ("today"); one year back from it is generated',
    )
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()
    started = time.perf_counter()
    url = create_database(arguments.admin_url, arguments.database, arguments.recreate)
    result = generate(
        url,
        arguments.hall,
        arguments.tickets,
        arguments.cases,
        arguments.ratings,
        arguments.end,
        arguments.seed,
    )
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    for key, value in result.items():
        print(f"{key:24} {value:,.1f}")


if __name__ == "__main__":
    main()
