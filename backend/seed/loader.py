"""Load the demo hall (organisation YAML + catalog YAML) into an empty database.

The organisation file is validated by the models below (extra keys refused)
before anything is written, so a typo in a hall's seed file is reported with
its path instead of half-loading a hall.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.catalog.spec import MatterSpec
from backend.models import (
    BadRatingReason,
    CategoryDepartment,
    Department,
    Floor,
    Hall,
    HallKind,
    Notice,
    QueueCategory,
    Staff,
    StaffPost,
    Window,
    WindowCategory,
    WindowDepartment,
    WindowState,
)
from backend.services.auth import hash_password
from backend.services.catalog import upsert_matters
from backend.services.eventlog import _ensure_counter, counter_name

SEED_DIR = Path(__file__).resolve().parent
DEMO_HALL = SEED_DIR / "demo_hall.yaml"
DEMO_CATALOG = SEED_DIR / "demo_catalog.yaml"
ROLE_NAMES = {
    "clerk": "clerk",
    "lead": "department_lead",
    "department_lead": "department_lead",
    "supervisor": "supervisor",
    "admin": "administrator",
    "administrator": "administrator",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FloorIn(_Strict):
    number: int
    name: str


class HallIn(_Strict):
    code: str
    name: str
    kind: Literal["centre", "branch", "subcentre", "station"]
    parent: str | None = None
    run_by: str | None = None
    address: str = ""
    floors: list[FloorIn] = Field(default_factory=list)


class DepartmentIn(_Strict):
    code: str
    name: str
    short_name: str = ""
    line: str = ""


class CategoryIn(_Strict):
    hall: str
    prefix: str
    name: str
    departments: list[str] = Field(default_factory=list)
    floor: int | None = None
    area: str = ""
    daily_cap: int = 999
    number_start: int = 1
    number_end: int = 999
    issue_from: time = time(8, 30)
    issue_until: time = time(17, 0)
    priority_allowed: bool = True


class WindowCategoryIn(_Strict):
    prefix: str
    weight: int = 1


class WindowIn(_Strict):
    hall: str
    number: str
    floor: int | None = None
    name: str = ""
    departments: list[str] = Field(default_factory=list)
    categories: list[WindowCategoryIn] = Field(default_factory=list)


class PostIn(_Strict):
    number: str
    post: Literal["A", "B"]
    hall: str | None = None


class StaffIn(_Strict):
    employee_no: str
    name: str
    department: str | None = None
    hall: str | None = None
    roles: list[str]
    windows: list[PostIn] = Field(default_factory=list)


class NoticeIn(_Strict):
    hall: str
    title: str
    body: str = ""


class HallSeed(_Strict):
    halls: list[HallIn]
    departments: list[DepartmentIn]
    queue_categories: list[CategoryIn]
    windows: list[WindowIn]
    staff: list[StaffIn]
    notices: list[NoticeIn] = Field(default_factory=list)
    bad_rating_reasons: list[str] = Field(default_factory=list)
    life_events: list[str] = Field(default_factory=list)


class SeedError(ValueError):
    pass


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SeedError(f"{path}: {error}") from error


def load_hall_seed(path: Path = DEMO_HALL) -> HallSeed:
    try:
        return HallSeed.model_validate(read_yaml(path))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise SeedError(f"{path}: {problems}") from error


def load_catalog_seed(path: Path = DEMO_CATALOG) -> list[MatterSpec]:
    data = read_yaml(path)
    specs = []
    for index, item in enumerate(data.get("matters", [])):
        try:
            specs.append(MatterSpec.model_validate(item))
        except ValidationError as error:
            raise SeedError(f"{path}: matters[{index}] ({item.get('code')}): {error}") from error
    return specs


def _centre_area(category: CategoryIn, windows: list[WindowIn]) -> str:
    numbers = [
        w.number
        for w in windows
        if w.hall == category.hall and any(c.prefix == category.prefix for c in w.categories)
    ]
    floor = (
        f"{'一二三四五'[category.floor - 1]}楼" if category.floor and category.floor <= 5 else ""
    )
    if not numbers:
        return floor
    return (
        f"{floor} {numbers[0]}–{numbers[-1]}号窗口"
        if len(numbers) > 1
        else f"{floor} {numbers[0]}号窗口"
    )


def seed_demo(
    session: Session,
    *,
    hall_path: Path = DEMO_HALL,
    catalog_path: Path = DEMO_CATALOG,
    staff_password: str = "demo-pass-2026",
    open_windows: bool = False,
) -> dict[str, int]:
    """Load the demo hall into an empty database. Every staff account gets the
    same demo password (printed by `hall demo`); production halls create their
    accounts through the administration pages instead."""
    if session.execute(select(Hall.id).limit(1)).first() is not None:
        raise SeedError("数据库中已有大厅数据，演示数据只能载入空库 / database is not empty")
    seed = load_hall_seed(hall_path)
    departments = {
        d.code: Department(code=d.code, name=d.name, short_name=d.short_name, line=d.line)
        for d in seed.departments
    }
    session.add_all(departments.values())
    session.flush()

    halls: dict[str, Hall] = {}
    floors: dict[tuple[str, int], Floor] = {}
    for item in seed.halls:
        if item.parent and item.parent not in halls:
            raise SeedError(f"hall {item.code}: parent {item.parent} must be listed before it")
        hall = Hall(
            code=item.code,
            name=item.name,
            kind=HallKind(item.kind),
            parent_id=halls[item.parent].id if item.parent else None,
            run_by_department_id=departments[item.run_by].id if item.run_by else None,
            address=item.address,
            call_policy={},
        )
        session.add(hall)
        session.flush()
        halls[item.code] = hall
        _ensure_counter(session, counter_name(hall.id))
        for floor_in in item.floors:
            floor = Floor(hall_id=hall.id, number=floor_in.number, name=floor_in.name)
            session.add(floor)
            floors[(item.code, floor_in.number)] = floor
    session.flush()

    categories: dict[tuple[str, str], QueueCategory] = {}
    for c in seed.queue_categories:
        category = QueueCategory(
            hall_id=halls[c.hall].id,
            prefix=c.prefix,
            name=c.name,
            floor_number=c.floor,
            area=c.area or _centre_area(c, seed.windows),
            daily_cap=c.daily_cap,
            number_start=c.number_start,
            number_end=c.number_end,
            issue_from=c.issue_from,
            issue_until=c.issue_until,
            priority_allowed=c.priority_allowed,
        )
        session.add(category)
        session.flush()
        categories[(c.hall, c.prefix)] = category
        for code in c.departments:
            session.add(
                CategoryDepartment(category_id=category.id, department_id=departments[code].id)
            )

    windows: dict[tuple[str, str], Window] = {}
    for w in seed.windows:
        window = Window(
            hall_id=halls[w.hall].id,
            number=w.number,
            name=w.name,
            floor_id=floors[(w.hall, w.floor)].id if (w.hall, w.floor) in floors else None,
            state=WindowState.OPEN if open_windows else WindowState.CLOSED,
        )
        session.add(window)
        session.flush()
        windows[(w.hall, w.number)] = window
        for code in w.departments:
            session.add(WindowDepartment(window_id=window.id, department_id=departments[code].id))
        for link in w.categories:
            session.add(
                WindowCategory(
                    window_id=window.id,
                    category_id=categories[(w.hall, link.prefix)].id,
                    weight=link.weight,
                )
            )

    password_hash = hash_password(staff_password)
    for s in seed.staff:
        unknown_roles = [r for r in s.roles if r not in ROLE_NAMES]
        if unknown_roles:
            raise SeedError(f"staff {s.employee_no}: unknown roles {unknown_roles}")
        staff = Staff(
            employee_no=s.employee_no,
            name=s.name,
            department_id=departments[s.department].id if s.department else None,
            roles=sorted({ROLE_NAMES[r] for r in s.roles}),
            password_hash=password_hash,
        )
        session.add(staff)
        session.flush()
        for post in s.windows:
            hall_code = post.hall or s.hall or "BH"
            session.add(
                StaffPost(
                    staff_id=staff.id,
                    window_id=windows[(hall_code, post.number)].id,
                    post=post.post,
                )
            )
    for index, notice in enumerate(seed.notices):
        session.add(
            Notice(hall_id=halls[notice.hall].id, title=notice.title, body=notice.body, sort=index)
        )
    for index, reason in enumerate(seed.bad_rating_reasons):
        session.add(BadRatingReason(text=reason, sort=index))
    session.flush()

    specs = load_catalog_seed(catalog_path)
    report = upsert_matters(session, specs, actor="seed")
    return {
        "halls": len(halls),
        "departments": len(departments),
        "windows": len(windows),
        "staff": len(seed.staff),
        "categories": len(categories),
        "matters": report.created,
    }
