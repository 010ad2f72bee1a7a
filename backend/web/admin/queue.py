"""排队类别 and the hall's call policy (叫号规则).

Categories: prefix, name, floor/area printed on the ticket, daily cap, number
range, issuing hours, whether 绿色通道 priority tickets may be taken, active.
The call policy is the JSON on Hall.call_policy; the form's values go through
the HallPolicy pydantic model (its ranges are the only rules), so the page can
never store a policy the queue service would refuse to load.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import BooleanField, FloatField, IntegerField, SelectField, StringField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from backend.models import Floor, Hall, QueueCategory
from backend.services import queue as queue_service
from backend.services.policy import HallPolicy
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    admin_only,
    all_halls,
    audit,
    audit_changes,
    changed,
    done,
    ext,
    found,
    hall_of,
    invalid,
    options,
    readable,
    selected_hall,
    snapshot,
)

CATEGORY_FIELDS = (
    "prefix",
    "name",
    "floor_number",
    "area",
    "daily_cap",
    "number_start",
    "number_end",
    "issue_from",
    "issue_until",
    "priority_allowed",
    "active",
    "turn_near_ahead",
)


class CategoryForm(AdminForm):
    prefix = StringField(
        _l("字头"),
        validators=[DataRequired(), Regexp(r"^[A-Z]{1,2}$", message=_l("1-2 个大写字母"))],
    )
    name = StringField(_l("名称"), validators=[DataRequired(), Length(1, 100), Clean()])
    floor_number = SelectField(_l("楼层"), coerce=int)
    area = StringField(
        _l("区域（打印在号票上）"), validators=[Optional(), Length(max=100), Clean()]
    )
    daily_cap = IntegerField(_l("每日限号"), validators=[InputRequired(), NumberRange(1, 9999)])
    number_start = IntegerField(_l("起始号"), validators=[InputRequired(), NumberRange(1, 9999)])
    number_end = IntegerField(_l("结束号"), validators=[InputRequired(), NumberRange(1, 9999)])
    issue_from = TimeField(_l("取号开始"), validators=[InputRequired()])
    issue_until = TimeField(_l("取号截止"), validators=[InputRequired()])
    priority_allowed = BooleanField(_l("可取绿色通道（优先）号"))
    active = BooleanField(_l("启用"))
    turn_near_ahead = IntegerField(
        _l("到号提醒：前面剩几人时提醒（短信与手机页，0 = 不提醒）"),
        validators=[InputRequired(), NumberRange(0, 50)],
    )

    def cross_check(self) -> bool:
        ok = True
        if self.number_start.data > self.number_end.data:
            self.number_end.errors = [_("结束号不能小于起始号")]
            ok = False
        elif self.daily_cap.data > self.number_end.data - self.number_start.data + 1:
            self.daily_cap.errors = [_("每日限号超过号码范围可发的数量")]
            ok = False
        if self.issue_from.data >= self.issue_until.data:
            self.issue_until.errors = [_("截止时间须晚于开始时间")]
            ok = False
        return ok


class PolicyForm(AdminForm):
    ordinary_per_preferred = IntegerField(
        _l("普通号 : 优先号 比例（每叫 N 个普通号叫 1 个优先号）"), validators=[Optional()]
    )
    recall_limit = IntegerField(_l("重呼次数上限"), validators=[InputRequired()])
    no_show_requeue = SelectField(
        _l("过号处理"),
        choices=options([("none", _l("过号作废（可手工重排）")), ("back", _l("自动排到队尾"))]),
    )
    requeue_limit = IntegerField(_l("过号重排次数上限"), validators=[InputRequired()])
    auto_invite_rating = BooleanField(_l("办结后自动邀请评价"))
    rating_timeout_seconds = IntegerField(_l("评价超时（秒）"), validators=[InputRequired()])
    callback_working_days = IntegerField(_l("差评回访时限（工作日）"), validators=[InputRequired()])
    rectify_working_days = IntegerField(_l("差评整改时限（工作日）"), validators=[InputRequired()])
    service_time_smoothing = FloatField(_l("平均办理时长平滑系数"), validators=[InputRequired()])


POLICY_FIELDS = tuple(HallPolicy.model_fields)


def _floor_choices(db: Session, hall: Hall, form: CategoryForm) -> None:
    form.floor_number.choices = options(
        [(0, "—")]
        + [
            (f.number, f"{f.number} {f.name}")
            for f in db.execute(
                select(Floor).where(Floor.hall_id == hall.id).order_by(Floor.number)
            ).scalars()
        ]
    )


@blueprint.get("/queue")
@readable
def queue() -> str:
    with ext().db.reading() as db:
        hall = selected_hall(db)
        categories = list(
            db.execute(
                select(QueueCategory)
                .where(QueueCategory.hall_id == hall.id)
                .order_by(QueueCategory.prefix)
            ).scalars()
        )
        policy = HallPolicy.from_json(hall.call_policy)
        form = PolicyForm(formdata=None, data=policy.model_dump())
        return render_template(
            "admin/queue/index.html",
            hall=hall,
            halls=all_halls(db),
            categories=categories,
            policy_form=form,
        )


@blueprint.post("/queue/policy")
@admin_only
def queue_policy() -> Any:
    form = PolicyForm()
    with ext().db.writing() as db:
        hall = selected_hall(db)
        context: dict[str, Any] = {
            "hall": hall,
            "halls": all_halls(db),
            "categories": list(
                db.execute(
                    select(QueueCategory)
                    .where(QueueCategory.hall_id == hall.id)
                    .order_by(QueueCategory.prefix)
                ).scalars()
            ),
            "policy_form": form,
        }
        if not form.validate_on_submit():
            return invalid("admin/queue/index.html", **context)
        values = {name: getattr(form, name).data for name in POLICY_FIELDS}
        try:
            policy = HallPolicy.model_validate(values)
        except ValidationError as error:
            for detail in error.errors():
                name = str(detail["loc"][0]) if detail["loc"] else "recall_limit"
                target = getattr(form, name, form.recall_limit)
                target.errors = [*target.errors, _policy_reason(detail)]
            return invalid("admin/queue/index.html", **context)
        before = HallPolicy.from_json(hall.call_policy).model_dump()
        hall.call_policy = policy.model_dump(mode="json")
        audit_changes(db, "hall.policy", "hall", hall.code, before, policy.model_dump())
        code = hall.code
    return done(_("叫号规则已保存"), "admin.queue", hall=code)


def _policy_reason(detail: Any) -> str:
    context = detail.get("ctx") or {}
    kind = detail["type"]
    if kind in ("greater_than_equal", "greater_than"):
        return str(_("不能小于 %(n)s", n=context.get("ge", context.get("gt"))))
    if kind in ("less_than_equal", "less_than"):
        return str(_("不能大于 %(n)s", n=context.get("le", context.get("lt"))))
    return str(detail["msg"])


def _category(db: Session, category_id: int) -> tuple[QueueCategory, Hall]:
    category = found(db, QueueCategory, category_id, _("排队类别不存在"))
    return category, hall_of(db, category)


def _apply(category: QueueCategory, form: CategoryForm) -> None:
    category.prefix = form.prefix.data
    category.name = form.name.data
    category.floor_number = form.floor_number.data or None
    category.area = form.area.data or ""
    category.daily_cap = form.daily_cap.data
    category.number_start = form.number_start.data
    category.number_end = form.number_end.data
    category.issue_from = form.issue_from.data
    category.issue_until = form.issue_until.data
    category.priority_allowed = bool(form.priority_allowed.data)
    category.active = bool(form.active.data)
    category.turn_near_ahead = form.turn_near_ahead.data


def _prefix_taken(db: Session, hall: Hall, prefix: str, category_id: int | None) -> bool:
    found = db.execute(
        select(QueueCategory.id).where(
            QueueCategory.hall_id == hall.id, QueueCategory.prefix == prefix
        )
    ).scalar_one_or_none()
    return found is not None and found != category_id


@blueprint.route("/queue/categories/new", methods=["GET", "POST"])
@admin_only
def queue_category_new() -> Any:
    form = CategoryForm()
    database = ext().db
    with database.reading() if request.method == "GET" else database.writing() as db:
        hall = selected_hall(db)
        _floor_choices(db, hall, form)
        context = {"form": form, "hall": hall, "category": None}
        if request.method == "GET":
            form.daily_cap.data, form.number_start.data, form.number_end.data = 300, 1, 999
            form.issue_from.data, form.issue_until.data = time(8, 30), time(16, 30)
            form.priority_allowed.data = form.active.data = True
            form.turn_near_ahead.data = 3
            return render_template("admin/queue/edit.html", **context)
        if not (form.validate_on_submit() and form.cross_check()):
            return invalid("admin/queue/edit.html", **context)
        if _prefix_taken(db, hall, form.prefix.data, None):
            form.prefix.errors = [_("该大厅已有此字头")]
            return invalid("admin/queue/edit.html", **context)
        category = QueueCategory(hall_id=hall.id)
        _apply(category, form)
        db.add(category)
        db.flush()
        audit(
            db,
            "category.create",
            "queue_category",
            category.id,
            changed({}, snapshot(category, CATEGORY_FIELDS)),
        )
        code = hall.code
    queue_service.clear_caches()
    return done(_("排队类别已创建"), "admin.queue", hall=code)


@blueprint.get("/queue/categories/<int:category_id>")
@admin_only
def queue_category_edit(category_id: int) -> str:
    with ext().db.reading() as db:
        category, hall = _category(db, category_id)
        form = CategoryForm(formdata=None, obj=category)
        _floor_choices(db, hall, form)
        form.floor_number.data = category.floor_number or 0
        return render_template("admin/queue/edit.html", form=form, hall=hall, category=category)


@blueprint.post("/queue/categories/<int:category_id>")
@admin_only
def queue_category_update(category_id: int) -> Response | tuple[str, int]:
    form = CategoryForm()
    with ext().db.writing() as db:
        category, hall = _category(db, category_id)
        _floor_choices(db, hall, form)
        # Fixed once created: the catalog's 排队类别 and issued tickets refer to it.
        form.prefix.data = category.prefix
        context = {"form": form, "hall": hall, "category": category}
        if not (form.validate_on_submit() and form.cross_check()):
            return invalid("admin/queue/edit.html", **context)
        if _prefix_taken(db, hall, form.prefix.data, category.id):
            form.prefix.errors = [_("该大厅已有此字头")]
            return invalid("admin/queue/edit.html", **context)
        before = snapshot(category, CATEGORY_FIELDS)
        _apply(category, form)
        audit_changes(
            db,
            "category.update",
            "queue_category",
            category.id,
            before,
            snapshot(category, CATEGORY_FIELDS),
        )
        code = hall.code
    queue_service.clear_caches()
    return done(_("排队类别已保存"), "admin.queue", hall=code)
