"""差评原因: the reasons an applicant picks on the evaluator after a bad rating.

Reasons are never deleted (ratings already given keep their words); a reason
no longer offered is deactivated. The list is the same for every hall; each
change emits `rating_reasons_changed` to every hall so hubs can refresh the
evaluators.
"""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from backend.errors import BadInput
from backend.models import BadRatingReason, Hall
from backend.services import eventlog
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    admin_only,
    audit,
    done,
    ext,
    found,
    invalid,
    readable,
)


class ReasonForm(AdminForm):
    text = StringField(_l("原因"), validators=[DataRequired(), Length(2, 100), Clean()])


def _ordered(db: Session) -> list[BadRatingReason]:
    return list(
        db.execute(
            select(BadRatingReason).order_by(BadRatingReason.sort, BadRatingReason.id)
        ).scalars()
    )


def _announce(db: Session) -> None:
    db.flush()
    reasons = [r.text for r in _ordered(db) if r.active]
    for hall_id in db.execute(select(Hall.id)).scalars():
        eventlog.emit(db, hall_id, "rating_reasons_changed", {"reasons": reasons})


@blueprint.get("/rating-reasons")
@readable
def rating_reasons() -> str:
    with ext().db.reading() as db:
        rows = _ordered(db)
    return render_template("admin/ratings/index.html", rows=rows, form=ReasonForm(formdata=None))


@blueprint.post("/rating-reasons")
@admin_only
def rating_reasons_add() -> Response | tuple[str, int]:
    form = ReasonForm()
    with ext().db.writing() as db:
        if not form.validate_on_submit():
            return invalid("admin/ratings/index.html", rows=_ordered(db), form=form)
        if db.execute(
            select(BadRatingReason.id).where(BadRatingReason.text == form.text.data)
        ).first():
            form.text.errors = [_("已有相同的原因")]
            return invalid("admin/ratings/index.html", rows=_ordered(db), form=form)
        last = db.execute(select(func.max(BadRatingReason.sort))).scalar_one()
        reason = BadRatingReason(text=form.text.data, active=True, sort=(last or 0) + 1)
        db.add(reason)
        db.flush()
        audit(db, "rating_reason.create", "rating_reason", reason.id, {"text": reason.text})
        _announce(db)
    return done(_("已添加"), "admin.rating_reasons")


def _reason(db: Session, reason_id: int) -> BadRatingReason:
    return found(db, BadRatingReason, reason_id, _("原因不存在"))


@blueprint.post("/rating-reasons/<int:reason_id>/active")
@admin_only
def rating_reasons_active(reason_id: int) -> Response:
    make_active = request.form.get("active") == "1"
    with ext().db.writing() as db:
        reason = _reason(db, reason_id)
        if reason.active != make_active:
            if not make_active and sum(1 for r in _ordered(db) if r.active) <= 1:
                raise BadInput(_("至少保留一个可选的差评原因"))
            reason.active = make_active
            audit(
                db,
                "rating_reason.activate" if make_active else "rating_reason.deactivate",
                "rating_reason",
                reason.id,
                {"text": reason.text},
            )
            _announce(db)
    return done(_("已启用") if make_active else _("已停用"), "admin.rating_reasons")


@blueprint.post("/rating-reasons/<int:reason_id>/move")
@admin_only
def rating_reasons_move(reason_id: int) -> Response:
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        raise BadInput(_("无效的移动方向"))
    with ext().db.writing() as db:
        reason = _reason(db, reason_id)
        ordered = _ordered(db)
        index = ordered.index(reason)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ordered):
            ordered[index], ordered[other] = ordered[other], ordered[index]
            for position, item in enumerate(ordered, start=1):
                item.sort = position
            audit(
                db,
                "rating_reason.reorder",
                "rating_reason",
                reason.id,
                {"order": [r.id for r in ordered]},
            )
            _announce(db)
    return done(_("顺序已调整"), "admin.rating_reasons")
