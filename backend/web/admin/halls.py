"""Halls (中心 / 分厅 / 分中心 / 代办站) as a tree, their floors, and departments.

The hierarchy is kept well-formed: a 中心 has no parent, a 分厅 or 分中心
hangs under a 中心, a 代办站 under a 分中心. A hall's code names it in API
paths and (lower-cased) in the hall bus topics, so it is fixed once created.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from backend.errors import BadInput, NotFound
from backend.models import Department, Floor, Hall, HallKind, QueueCategory, Staff, Window
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    admin_only,
    audit,
    audit_changes,
    db_session,
    done,
    ext,
    found,
    invalid,
    options,
    readable,
    snapshot,
)

KIND_LABELS = {
    HallKind.CENTRE.value: _l("中心"),
    HallKind.BRANCH.value: _l("分厅"),
    HallKind.SUBCENTRE.value: _l("分中心"),
    HallKind.STATION.value: _l("代办站"),
}
# Which kind of hall each kind may hang under (None: a root).
PARENT_KIND = {
    HallKind.CENTRE: None,
    HallKind.BRANCH: HallKind.CENTRE,
    HallKind.SUBCENTRE: HallKind.CENTRE,
    HallKind.STATION: HallKind.SUBCENTRE,
}
HALL_FIELDS = ("name", "kind", "parent_id", "run_by_department_id", "address")
CODE = r"^[A-Z0-9][A-Z0-9-]{0,31}$"


class HallForm(AdminForm):
    code = StringField(
        _l("编码"),
        validators=[DataRequired(), Regexp(CODE, message=_l("大写字母、数字和 -，至多 32 位"))],
    )
    name = StringField(_l("名称"), validators=[DataRequired(), Length(2, 200), Clean()])
    kind = SelectField(_l("类型"), choices=options([(k, v) for k, v in KIND_LABELS.items()]))
    parent = SelectField(_l("上级"), coerce=int)
    run_by = SelectField(_l("主办部门（分厅）"), coerce=int)
    address = StringField(_l("地址"), validators=[Optional(), Length(max=300), Clean()])


class FloorForm(AdminForm):
    number = IntegerField(_l("楼层"), validators=[DataRequired(), NumberRange(-5, 99)])
    name = StringField(_l("名称"), validators=[DataRequired(), Length(1, 100), Clean()])


class DepartmentForm(AdminForm):
    code = StringField(
        _l("编码"),
        validators=[
            DataRequired(),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", message=_l("字母、数字、_ 和 -")),
        ],
    )
    name = StringField(_l("名称"), validators=[DataRequired(), Length(2, 200), Clean()])
    short_name = StringField(_l("简称"), validators=[Optional(), Length(max=40), Clean()])
    line = StringField(_l("服务线"), validators=[Optional(), Length(max=100), Clean()])


def _tree(halls: list[Hall]) -> list[tuple[Hall, list[Any]]]:
    children: dict[int | None, list[Hall]] = {}
    for hall in halls:
        children.setdefault(hall.parent_id, []).append(hall)

    def build(parent: int | None) -> list[tuple[Hall, list[Any]]]:
        return [(hall, build(hall.id)) for hall in children.get(parent, [])]

    return build(None)


@blueprint.get("/halls")
@readable
def halls() -> str:
    with ext().db.reading() as db:
        every = list(db.execute(select(Hall).order_by(Hall.id)).scalars())
        floors = dict(db.execute(select(Floor.hall_id, func.count()).group_by(Floor.hall_id)).all())
        windows = dict(
            db.execute(select(Window.hall_id, func.count()).group_by(Window.hall_id)).all()
        )
    return render_template(
        "admin/halls/index.html",
        tree=_tree(every),
        floors=floors,
        windows=windows,
        kind_labels=KIND_LABELS,
    )


def _hall_choices(db: Session, form: HallForm, exclude: int | None) -> None:
    halls = db.execute(select(Hall).order_by(Hall.id)).scalars()
    form.parent.choices = options(
        [(0, "—")]
        + [(h.id, f"{h.name}（{KIND_LABELS[h.kind.value]}）") for h in halls if h.id != exclude]
    )
    form.run_by.choices = options(
        [(0, "—")]
        + [
            (d.id, d.name)
            for d in db.execute(select(Department).order_by(Department.code)).scalars()
        ]
    )


def _check_hierarchy(db: Session, form: HallForm, hall: Hall | None) -> bool:
    kind = HallKind(form.kind.data)
    wanted = PARENT_KIND[kind]
    parent = db.get(Hall, form.parent.data) if form.parent.data else None
    if wanted is None and parent is not None:
        form.parent.errors = [_("中心没有上级")]
    elif wanted is not None and (parent is None or parent.kind is not wanted):
        form.parent.errors = [
            _(
                "%(kind)s 的上级必须是%(parent)s",
                kind=KIND_LABELS[kind.value],
                parent=KIND_LABELS[wanted.value],
            )
        ]
    if hall is not None and hall.kind is not kind:
        has_children = db.execute(select(Hall.id).where(Hall.parent_id == hall.id)).first()
        if has_children and kind is HallKind.STATION:
            form.kind.errors = [_("有下级的大厅不能改为代办站")]
    return not (form.parent.errors or form.kind.errors)


def _apply(hall: Hall, form: HallForm) -> None:
    hall.name = form.name.data
    hall.kind = HallKind(form.kind.data)
    hall.parent_id = form.parent.data or None
    hall.run_by_department_id = form.run_by.data or None
    hall.address = form.address.data or ""


@blueprint.route("/halls/new", methods=["GET", "POST"])
@admin_only
def halls_new() -> Any:
    form = HallForm()
    with db_session() as db:
        _hall_choices(db, form, None)
        if request.method == "GET":
            return render_template("admin/halls/edit.html", form=form, hall=None)
        if not (form.validate_on_submit() and _check_hierarchy(db, form, None)):
            return invalid("admin/halls/edit.html", form=form, hall=None)
        if db.execute(select(Hall.id).where(Hall.code == form.code.data)).first():
            form.code.errors = [_("该编码已存在")]
            return invalid("admin/halls/edit.html", form=form, hall=None)
        hall = Hall(code=form.code.data, call_policy={})
        _apply(hall, form)
        db.add(hall)
        db.flush()
        audit(
            db,
            "hall.create",
            "hall",
            hall.code,
            snapshot(hall, ("code", *HALL_FIELDS)) | {"kind": hall.kind.value},
        )
    return done(_("大厅已创建"), "admin.halls_edit", hall_id=hall.id)


def _hall(db: Session, hall_id: int) -> Hall:
    return found(db, Hall, hall_id, _("大厅不存在"))


def _edit_context(db: Session, form: HallForm, hall: Hall) -> dict[str, Any]:
    _hall_choices(db, form, hall.id)
    floors = list(
        db.execute(select(Floor).where(Floor.hall_id == hall.id).order_by(Floor.number)).scalars()
    )
    return {"form": form, "hall": hall, "floors": floors, "floor_form": FloorForm(formdata=None)}


@blueprint.get("/halls/<int:hall_id>")
@readable
def halls_edit(hall_id: int) -> str:
    form = HallForm(formdata=None)
    with ext().db.reading() as db:
        hall = _hall(db, hall_id)
        context = _edit_context(db, form, hall)
        form.code.data = hall.code
        form.name.data = hall.name
        form.kind.data = hall.kind.value
        form.parent.data = hall.parent_id or 0
        form.run_by.data = hall.run_by_department_id or 0
        form.address.data = hall.address
        return render_template("admin/halls/edit.html", **context)


@blueprint.post("/halls/<int:hall_id>")
@admin_only
def halls_update(hall_id: int) -> Any:
    form = HallForm()
    with ext().db.writing() as db:
        hall = _hall(db, hall_id)
        context = _edit_context(db, form, hall)
        form.code.data = hall.code  # fixed: API paths and bus topics use it
        if not (form.validate_on_submit() and _check_hierarchy(db, form, hall)):
            return invalid("admin/halls/edit.html", **context)
        before = snapshot(hall, HALL_FIELDS)
        _apply(hall, form)
        audit_changes(db, "hall.update", "hall", hall.code, before, snapshot(hall, HALL_FIELDS))
    return done(_("已保存"), "admin.halls_edit", hall_id=hall_id)


@blueprint.post("/halls/<int:hall_id>/floors")
@admin_only
def halls_floor_add(hall_id: int) -> Any:
    form = FloorForm()
    with ext().db.writing() as db:
        hall = _hall(db, hall_id)
        if not form.validate_on_submit():
            raise BadInput(
                "；".join(f"{getattr(form, k).label.text}：{v[0]}" for k, v in form.errors.items())
            )
        if db.execute(
            select(Floor.id).where(Floor.hall_id == hall.id, Floor.number == form.number.data)
        ).first():
            raise BadInput(_("该楼层已存在"))
        floor = Floor(hall_id=hall.id, number=form.number.data, name=form.name.data)
        db.add(floor)
        db.flush()
        audit(
            db,
            "floor.create",
            "floor",
            floor.id,
            {"hall": hall.code, "number": floor.number, "name": floor.name},
        )
    return done(_("楼层已添加"), "admin.halls_edit", hall_id=hall_id)


@blueprint.post("/halls/<int:hall_id>/floors/<int:floor_id>/delete")
@admin_only
def halls_floor_delete(hall_id: int, floor_id: int) -> Response:
    with ext().db.writing() as db:
        floor = db.get(Floor, floor_id)
        if floor is None or floor.hall_id != hall_id:
            raise NotFound(_("楼层不存在"))
        in_use = (
            db.execute(select(Window.id).where(Window.floor_id == floor.id)).first()
            or db.execute(
                select(QueueCategory.id).where(
                    QueueCategory.hall_id == hall_id, QueueCategory.floor_number == floor.number
                )
            ).first()
        )
        if in_use:
            raise BadInput(_("该楼层还有窗口或排队类别，不能删除"))
        audit(db, "floor.delete", "floor", floor.id, {"number": floor.number, "name": floor.name})
        db.delete(floor)
    return done(_("楼层已删除"), "admin.halls_edit", hall_id=hall_id)


# ----------------------------------------------------------------- departments

DEPARTMENT_FIELDS = ("name", "short_name", "line")


@blueprint.get("/departments")
@readable
def departments() -> str:
    with ext().db.reading() as db:
        rows = list(
            db.execute(select(Department).order_by(Department.line, Department.code)).scalars()
        )
        staff = dict(
            db.execute(
                select(Staff.department_id, func.count())
                .where(Staff.active.is_(True))
                .group_by(Staff.department_id)
            ).all()
        )
    return render_template("admin/departments/index.html", rows=rows, staff=staff)


@blueprint.route("/departments/new", methods=["GET", "POST"])
@admin_only
def departments_new() -> Any:
    form = DepartmentForm()
    if request.method == "GET":
        return render_template("admin/departments/edit.html", form=form, department=None)
    if not form.validate_on_submit():
        return invalid("admin/departments/edit.html", form=form, department=None)
    with ext().db.writing() as db:
        if db.execute(select(Department.id).where(Department.code == form.code.data)).first():
            form.code.errors = [_("该编码已存在")]
            return invalid("admin/departments/edit.html", form=form, department=None)
        department = Department(code=form.code.data)
        for name in DEPARTMENT_FIELDS:
            setattr(department, name, getattr(form, name).data or "")
        db.add(department)
        db.flush()
        audit(
            db,
            "department.create",
            "department",
            department.code,
            snapshot(department, DEPARTMENT_FIELDS),
        )
    return done(_("部门已创建"), "admin.departments")


@blueprint.route("/departments/<int:department_id>", methods=["GET", "POST"])
@admin_only
def departments_edit(department_id: int) -> Any:
    form = DepartmentForm()
    with db_session() as db:
        department = db.get(Department, department_id)
        if department is None:
            raise NotFound(_("部门不存在"))
        if request.method == "GET":
            form.process(obj=department)
            return render_template("admin/departments/edit.html", form=form, department=department)
        form.code.data = department.code  # referenced by the catalog spreadsheets
        if not form.validate_on_submit():
            return invalid("admin/departments/edit.html", form=form, department=department)
        before = snapshot(department, DEPARTMENT_FIELDS)
        for name in DEPARTMENT_FIELDS:
            setattr(department, name, getattr(form, name).data or "")
        audit_changes(
            db,
            "department.update",
            "department",
            department.code,
            before,
            snapshot(department, DEPARTMENT_FIELDS),
        )
    return done(_("已保存"), "admin.departments")
