"""大厅公告: the notices the hall display rotates through.

Every change emits `notices_changed` on the hall's event log with the active
notices in display order, so the hub can push them to the hall displays
without asking again.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backend.errors import BadInput
from backend.models import Hall, Notice
from backend.services import eventlog
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    admin_only,
    all_halls,
    audit,
    audit_changes,
    done,
    ext,
    found,
    hall_of,
    invalid,
    readable,
    selected_hall,
    snapshot,
)


class NoticeForm(AdminForm):
    title = StringField(_l("标题"), validators=[DataRequired(), Length(1, 200), Clean()])
    body = TextAreaField(
        _l("内容"), validators=[Optional(), Length(max=2000), Clean(multiline=True)]
    )
    active = BooleanField(_l("在大厅屏显示"))


def _ordered(db: Session, hall_id: int) -> list[Notice]:
    return list(
        db.execute(
            select(Notice).where(Notice.hall_id == hall_id).order_by(Notice.sort, Notice.id)
        ).scalars()
    )


def _announce(db: Session, hall_id: int) -> None:
    db.flush()
    shown = [
        {"id": n.id, "title": n.title, "body": n.body} for n in _ordered(db, hall_id) if n.active
    ]
    eventlog.emit(db, hall_id, "notices_changed", {"notices": shown})


@blueprint.get("/notices")
@readable
def notices() -> str:
    with ext().db.reading() as db:
        hall = selected_hall(db)
        return render_template(
            "admin/notices/index.html", hall=hall, halls=all_halls(db), rows=_ordered(db, hall.id)
        )


def _notice(db: Session, notice_id: int) -> tuple[Notice, Hall]:
    notice = found(db, Notice, notice_id, _("公告不存在"))
    return notice, hall_of(db, notice)


@blueprint.route("/notices/new", methods=["GET", "POST"])
@admin_only
def notices_new() -> Any:
    form = NoticeForm()
    database = ext().db
    with database.reading() if request.method == "GET" else database.writing() as db:
        hall = selected_hall(db)
        if request.method == "GET":
            form.active.data = True
            return render_template("admin/notices/edit.html", form=form, hall=hall, notice=None)
        if not form.validate_on_submit():
            return invalid("admin/notices/edit.html", form=form, hall=hall, notice=None)
        last = db.execute(select(func.max(Notice.sort)).where(Notice.hall_id == hall.id))
        notice = Notice(
            hall_id=hall.id,
            title=form.title.data,
            body=form.body.data or "",
            active=bool(form.active.data),
            sort=(last.scalar_one() or 0) + 1,
        )
        db.add(notice)
        db.flush()
        audit(db, "notice.create", "notice", notice.id, {"hall": hall.code, "title": notice.title})
        _announce(db, hall.id)
        code = hall.code
    return done(_("公告已发布"), "admin.notices", hall=code)


@blueprint.get("/notices/<int:notice_id>")
@admin_only
def notices_edit(notice_id: int) -> str:
    with ext().db.reading() as db:
        notice, hall = _notice(db, notice_id)
        form = NoticeForm(formdata=None, obj=notice)
        return render_template("admin/notices/edit.html", form=form, hall=hall, notice=notice)


@blueprint.post("/notices/<int:notice_id>")
@admin_only
def notices_update(notice_id: int) -> Any:
    form = NoticeForm()
    with ext().db.writing() as db:
        notice, hall = _notice(db, notice_id)
        if not form.validate_on_submit():
            return invalid("admin/notices/edit.html", form=form, hall=hall, notice=notice)
        fields = ("title", "body", "active")
        before = snapshot(notice, fields)
        notice.title = form.title.data
        notice.body = form.body.data or ""
        notice.active = bool(form.active.data)
        if audit_changes(
            db, "notice.update", "notice", notice.id, before, snapshot(notice, fields)
        ):
            _announce(db, hall.id)
        code = hall.code
    return done(_("公告已保存"), "admin.notices", hall=code)


@blueprint.post("/notices/<int:notice_id>/active")
@admin_only
def notices_active(notice_id: int) -> Response:
    make_active = request.form.get("active") == "1"
    with ext().db.writing() as db:
        notice, hall = _notice(db, notice_id)
        if notice.active != make_active:
            notice.active = make_active
            audit(
                db,
                "notice.activate" if make_active else "notice.deactivate",
                "notice",
                notice.id,
                {},
            )
            _announce(db, hall.id)
        code = hall.code
    return done(_("公告已显示") if make_active else _("公告已隐藏"), "admin.notices", hall=code)


@blueprint.post("/notices/<int:notice_id>/move")
@admin_only
def notices_move(notice_id: int) -> Response:
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        raise BadInput(_("无效的移动方向"))
    with ext().db.writing() as db:
        notice, hall = _notice(db, notice_id)
        ordered = _ordered(db, hall.id)
        index = ordered.index(notice)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ordered):
            ordered[index], ordered[other] = ordered[other], ordered[index]
            # Renumber the whole list: old data may have equal sort values.
            for position, item in enumerate(ordered, start=1):
                item.sort = position
            audit(db, "notice.reorder", "notice", notice.id, {"order": [n.id for n in ordered]})
            _announce(db, hall.id)
        code = hall.code
    return done(_("顺序已调整"), "admin.notices", hall=code)
