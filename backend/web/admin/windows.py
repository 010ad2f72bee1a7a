"""窗口: number, floor, departments, the categories a window calls with their
weights (higher = called first, see backend.services.policy), and its state.

Category weights are cached per process by the queue service for a few
seconds; this process's cache is cleared on save, other workers pick the
change up when their entry expires (5 s).
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from backend.errors import BadInput
from backend.models import (
    Department,
    Floor,
    Hall,
    QueueCategory,
    Staff,
    StaffPost,
    Window,
    WindowCategory,
    WindowDepartment,
    WindowState,
)
from backend.services import queue as queue_service
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    actor,
    admin_only,
    all_halls,
    audit,
    audit_changes,
    done,
    ext,
    found,
    hall_of,
    invalid,
    now,
    options,
    readable,
    selected_hall,
)

STATE_LABELS = {
    WindowState.OPEN.value: _l("服务中"),
    WindowState.PAUSED.value: _l("暂停服务"),
    WindowState.RESTING.value: _l("休息"),
    WindowState.CLOSED.value: _l("未开放"),
}


class WindowForm(AdminForm):
    number = StringField(
        _l("窗口号"),
        validators=[
            DataRequired(),
            Regexp(r"^[0-9A-Za-z][0-9A-Za-z-]{0,15}$", message=_l("字母、数字和 -，至多 16 位")),
        ],
    )
    name = StringField(_l("名称"), validators=[Optional(), Length(max=100), Clean()])
    floor = SelectField(_l("楼层"), coerce=int)
    departments = SelectMultipleField(
        _l("进驻部门"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class StateForm(AdminForm):
    state = SelectField(
        _l("状态"),
        choices=options(
            [
                (WindowState.OPEN.value, _l("服务中")),
                (WindowState.RESTING.value, _l("休息")),
                (WindowState.CLOSED.value, _l("未开放")),
            ]
        ),
    )


def _form_class(categories: list[QueueCategory]) -> type[WindowForm]:
    """One weight field per category of the hall: 0 = the window does not call it."""
    fields = {
        f"weight_{category.id}": IntegerField(
            f"{category.prefix} {category.name}",
            validators=[Optional(), NumberRange(0, 99)],
            default=0,
        )
        for category in categories
    }
    return type("HallWindowForm", (WindowForm,), fields)


def _categories(db: Session, hall_id: int) -> list[QueueCategory]:
    return list(
        db.execute(
            select(QueueCategory)
            .where(QueueCategory.hall_id == hall_id)
            .order_by(QueueCategory.prefix)
        ).scalars()
    )


def _prepare(db: Session, hall: Hall, formdata: bool = True) -> tuple[WindowForm, list[Any]]:
    categories = _categories(db, hall.id)
    form_class = _form_class(categories)
    form = form_class() if formdata else form_class(formdata=None)
    form.floor.choices = options(
        [(0, "—")]
        + [
            (f.id, f"{f.number} {f.name}")
            for f in db.execute(
                select(Floor).where(Floor.hall_id == hall.id).order_by(Floor.number)
            ).scalars()
        ]
    )
    form.departments.choices = options(
        [
            (d.id, d.short_name or d.name)
            for d in db.execute(select(Department).order_by(Department.code)).scalars()
        ]
    )
    return form, categories


def _sort_key(window: Window) -> tuple[int, str]:
    return (len(window.number), window.number)


@blueprint.get("/windows")
@readable
def windows() -> str:
    with ext().db.reading() as db:
        hall = selected_hall(db)
        rows = sorted(
            db.execute(select(Window).where(Window.hall_id == hall.id)).scalars(), key=_sort_key
        )
        ids = [w.id for w in rows]
        departments: dict[int, list[str]] = {}
        for window_id, name in db.execute(
            select(WindowDepartment.window_id, Department.short_name)
            .join(Department, Department.id == WindowDepartment.department_id)
            .where(WindowDepartment.window_id.in_(ids))
        ).all():
            departments.setdefault(window_id, []).append(name)
        categories: dict[int, list[tuple[str, int]]] = {}
        for window_id, prefix, weight in db.execute(
            select(WindowCategory.window_id, QueueCategory.prefix, WindowCategory.weight)
            .join(QueueCategory, QueueCategory.id == WindowCategory.category_id)
            .where(WindowCategory.window_id.in_(ids))
            .order_by(WindowCategory.weight.desc(), QueueCategory.prefix)
        ).all():
            categories.setdefault(window_id, []).append((prefix, weight))
        posts: dict[int, list[tuple[str, str]]] = {}
        for window_id, post, name in db.execute(
            select(StaffPost.window_id, StaffPost.post, Staff.name)
            .join(Staff, Staff.id == StaffPost.staff_id)
            .where(StaffPost.window_id.in_(ids))
            .order_by(StaffPost.post)
        ).all():
            posts.setdefault(window_id, []).append((post, name))
        signed_in = {
            s.id: s.name
            for s in db.execute(
                select(Staff).where(
                    Staff.id.in_([w.signed_in_staff_id for w in rows if w.signed_in_staff_id])
                )
            ).scalars()
        }
        floors = {
            f.id: f for f in db.execute(select(Floor).where(Floor.hall_id == hall.id)).scalars()
        }
        return render_template(
            "admin/windows/index.html",
            hall=hall,
            halls=all_halls(db),
            rows=rows,
            departments=departments,
            categories=categories,
            posts=posts,
            signed_in=signed_in,
            floors=floors,
            state_labels=STATE_LABELS,
            state_form=StateForm(formdata=None),
        )


def _window(db: Session, window_id: int) -> tuple[Window, Hall]:
    window = found(db, Window, window_id, _("窗口不存在"))
    return window, hall_of(db, window)


def _current(db: Session, window: Window) -> dict[str, Any]:
    return {
        "number": window.number,
        "name": window.name,
        "floor_id": window.floor_id,
        "departments": sorted(
            db.execute(
                select(WindowDepartment.department_id).where(
                    WindowDepartment.window_id == window.id
                )
            ).scalars()
        ),
        "categories": {
            str(category_id): weight
            for category_id, weight in db.execute(
                select(WindowCategory.category_id, WindowCategory.weight).where(
                    WindowCategory.window_id == window.id
                )
            ).all()
        },
    }


def _save(db: Session, window: Window, form: WindowForm, categories: list[QueueCategory]) -> None:
    window.number = form.number.data
    window.name = form.name.data or ""
    window.floor_id = form.floor.data or None
    db.flush()
    db.execute(delete(WindowDepartment).where(WindowDepartment.window_id == window.id))
    db.execute(delete(WindowCategory).where(WindowCategory.window_id == window.id))
    for department_id in sorted(set(form.departments.data or [])):
        db.add(WindowDepartment(window_id=window.id, department_id=department_id))
    for category in categories:
        weight = getattr(form, f"weight_{category.id}").data or 0
        if weight > 0:
            db.add(WindowCategory(window_id=window.id, category_id=category.id, weight=weight))
    db.flush()
    queue_service.clear_caches()


def _number_taken(db: Session, hall: Hall, number: str, window_id: int | None) -> bool:
    found = db.execute(
        select(Window.id).where(Window.hall_id == hall.id, Window.number == number)
    ).scalar_one_or_none()
    return found is not None and found != window_id


@blueprint.route("/windows/new", methods=["GET", "POST"])
@admin_only
def windows_new() -> Any:
    database = ext().db
    with database.reading() if request.method == "GET" else database.writing() as db:
        hall = selected_hall(db)
        form, categories = _prepare(db, hall, request.method == "POST")
        context = {"form": form, "hall": hall, "window": None, "categories": categories}
        if request.method == "GET":
            return render_template("admin/windows/edit.html", **context)
        if not form.validate_on_submit():
            return invalid("admin/windows/edit.html", **context)
        if _number_taken(db, hall, form.number.data, None):
            form.number.errors = [_("该大厅已有此窗口号")]
            return invalid("admin/windows/edit.html", **context)
        window = Window(hall_id=hall.id, number=form.number.data, state=WindowState.CLOSED)
        db.add(window)
        _save(db, window, form, categories)
        audit(db, "window.create", "window", window.id, {"hall": hall.code, **_current(db, window)})
        code = hall.code
    return done(_("窗口已创建"), "admin.windows", hall=code)


@blueprint.get("/windows/<int:window_id>")
@admin_only
def windows_edit(window_id: int) -> str:
    with ext().db.reading() as db:
        window, hall = _window(db, window_id)
        form, categories = _prepare(db, hall, formdata=False)
        current = _current(db, window)
        form.number.data = window.number
        form.name.data = window.name
        form.floor.data = window.floor_id or 0
        form.departments.data = current["departments"]
        for category in categories:
            getattr(form, f"weight_{category.id}").data = current["categories"].get(
                str(category.id), 0
            )
        return render_template(
            "admin/windows/edit.html", form=form, hall=hall, window=window, categories=categories
        )


@blueprint.post("/windows/<int:window_id>")
@admin_only
def windows_update(window_id: int) -> Any:
    with ext().db.writing() as db:
        window, hall = _window(db, window_id)
        form, categories = _prepare(db, hall)
        context = {"form": form, "hall": hall, "window": window, "categories": categories}
        if not form.validate_on_submit():
            return invalid("admin/windows/edit.html", **context)
        if _number_taken(db, hall, form.number.data, window.id):
            form.number.errors = [_("该大厅已有此窗口号")]
            return invalid("admin/windows/edit.html", **context)
        before = _current(db, window)
        _save(db, window, form, categories)
        audit_changes(db, "window.update", "window", window.id, before, _current(db, window))
        code = hall.code
    return done(_("窗口已保存"), "admin.windows", hall=code)


@blueprint.post("/windows/<int:window_id>/state")
@admin_only
def windows_state(window_id: int) -> Response:
    form = StateForm()
    with ext().db.writing() as db:
        window, hall = _window(db, window_id)
        if not form.validate_on_submit():
            raise BadInput(_("状态无效"))
        # Through the queue service: it refuses while a ticket is being served,
        # tells the displays (window_state event) and writes the audit entry.
        queue_service.set_window_state(
            db,
            window_id=window.id,
            state=WindowState(form.state.data),
            now=now(),
            actor=actor(),
        )
        code = hall.code
    return done(_("窗口状态已更新"), "admin.windows", hall=code)
