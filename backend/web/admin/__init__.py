"""系统管理: the administration pages (issue 7 item 5).

One blueprint, `admin`, under /admin; one module per area registers its routes
on it (catalog, halls/floors/departments, windows, staff, queue categories and
call policy, appointments, notices, holiday overrides, devices, 差评 reasons).
docs/admin.md lists the pages and the rules they keep.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backend.models import (
    Appointment,
    BadRatingReason,
    Department,
    Device,
    Hall,
    Matter,
    Notice,
    QueueCategory,
    Role,
    Staff,
    Window,
    WorkdayOverride,
)
from backend.web.layout import add_nav, page_errors

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
page_errors(blueprint, fallback_endpoint="admin.index")
add_nav("admin.index", _l("系统管理"), roles=(Role.ADMINISTRATOR, Role.SUPERVISOR), order=80)

# (endpoint, label, model counted on the overview) in the order of the side menu.
AREAS: tuple[tuple[str, Any, Any], ...] = (
    ("admin.catalog", _l("事项目录"), Matter),
    ("admin.halls", _l("大厅与楼层"), Hall),
    ("admin.departments", _l("部门"), Department),
    ("admin.windows", _l("窗口"), Window),
    ("admin.staff", _l("工作人员"), Staff),
    ("admin.queue", _l("排队类别与叫号规则"), QueueCategory),
    ("admin.appointments", _l("预约"), Appointment),
    ("admin.notices", _l("大厅公告"), Notice),
    ("admin.calendar", _l("节假日调整"), WorkdayOverride),
    ("admin.devices", _l("设备"), Device),
    ("admin.rating_reasons", _l("差评原因"), BadRatingReason),
)


@blueprint.context_processor
def _admin_menu() -> dict[str, Any]:
    return {"admin_areas": [(endpoint, label) for endpoint, label, _model in AREAS]}


from backend.web.admin import (  # noqa: E402  (the modules add routes to the blueprint)
    appointments,
    calendar,
    catalog,
    common,
    devices,
    halls,
    notices,
    queue,
    ratings,
    staff,
    windows,
)

__all__ = [
    "appointments",
    "blueprint",
    "calendar",
    "catalog",
    "devices",
    "halls",
    "notices",
    "queue",
    "ratings",
    "staff",
    "windows",
]


@blueprint.get("")
@common.readable
def index() -> str:
    with common.ext().db.reading() as session:
        counts = {
            endpoint: int(session.execute(select(func.count()).select_from(model)).scalar_one())
            for endpoint, _label, model in AREAS
        }
        offline = int(
            session.execute(
                select(func.count()).select_from(Device).where(Device.online.is_(False))
            ).scalar_one()
        )
    return render_template("admin/index.html", counts=counts, offline=offline, areas=AREAS)
