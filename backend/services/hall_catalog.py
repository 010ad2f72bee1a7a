"""Which matters a hall handles, and under which of its queue categories.

A hall (the centre, a 分厅, a 分中心 or a 代办站) handles a matter when one of
its active queue categories serves the matter's department (category_departments
in the hall's set-up). The ticket for it is taken in the matter's own category
when that category of this hall serves the department (so the centre keeps the
catalog's categories), else in the first such category of the hall by prefix
(a sub-centre's "社保就业" takes the social-insurance matters the centre queues
under "社会保险").

The kiosk's catalog, its search, the matter guide's windows, tickets taken by
matter and the phone's booking page all ask this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import (
    CategoryDepartment,
    Matter,
    MatterVersion,
    QueueCategory,
    Window,
    WindowCategory,
)


@dataclass(frozen=True)
class HallCatalog:
    # matter code -> the hall's queue category prefix for it
    categories: dict[str, str]
    # department ids with at least one matter the hall handles
    departments: frozenset[int]

    def handles(self, matter_code: str) -> bool:
        return matter_code in self.categories


def _category_departments(session: Session, hall_id: int) -> dict[int, list[str]]:
    """department id -> prefixes of the hall's active categories serving it, sorted."""
    served: dict[int, list[str]] = {}
    rows = session.execute(
        select(CategoryDepartment.department_id, QueueCategory.prefix)
        .join(QueueCategory, QueueCategory.id == CategoryDepartment.category_id)
        .where(QueueCategory.hall_id == hall_id, QueueCategory.active.is_(True))
        .order_by(QueueCategory.prefix)
    ).all()
    for department_id, prefix in rows:
        served.setdefault(int(department_id), []).append(str(prefix))
    return served


def category_in_hall(served: list[str], own_category: str) -> str:
    """The hall's category for a matter, from the categories serving its department."""
    return own_category if own_category in served else served[0]


def hall_catalog(session: Session, hall_id: int) -> HallCatalog:
    served = _category_departments(session, hall_id)
    rows = session.execute(
        select(MatterVersion.code, MatterVersion.department_id, MatterVersion.queue_category)
        .join(Matter, Matter.current_version_id == MatterVersion.id)
        .where(Matter.active.is_(True), MatterVersion.department_id.in_(served or {-1}))
    ).all()
    categories = {
        str(code): category_in_hall(served[int(department)], str(own))
        for code, department, own in rows
    }
    departments = frozenset(int(department) for _code, department, _own in rows)
    return HallCatalog(categories, departments)


def matter_category(session: Session, hall_id: int, version: MatterVersion) -> str | None:
    """The hall's queue category for this matter; None when the hall does not handle it."""
    served = _category_departments(session, hall_id).get(version.department_id)
    return category_in_hall(served, version.queue_category) if served else None


def category_windows(session: Session, hall_id: int, prefix: str) -> list[str]:
    """Numbers of the hall's windows that call the category, in window order."""
    numbers = session.execute(
        select(Window.number)
        .join(WindowCategory, WindowCategory.window_id == Window.id)
        .join(QueueCategory, QueueCategory.id == WindowCategory.category_id)
        .where(
            Window.hall_id == hall_id,
            QueueCategory.hall_id == hall_id,
            QueueCategory.prefix == prefix,
        )
        .order_by(Window.id)
    ).scalars()
    return [str(number) for number in numbers]
