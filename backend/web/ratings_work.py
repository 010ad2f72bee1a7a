"""差评整改与申诉: the pages for what follows a bad rating.

* 整改 (``/ratings/rectifications``): the department lead (own department) or an
  administrator takes each 差评 through 回访 (callback) → 整改 (rectification)
  → 复评 (follow-up rating, which closes it), each step before its
  working-day deadline; supervisors read every department's.
* 我的差评 (``/ratings/mine``): the clerk a 差评 was given to sees it --
  level, reasons, the applicant's words, the day, the matter; never the
  ticket, case, device or time of day that would identify the rater -- and
  may file an appeal (申诉) with a reason.
* 申诉复核 (``/ratings/appeals``): a supervisor decides each pending appeal with
  a reason. Upheld: the rating is set aside from every figure (voided, never
  deleted); rejected: it stays, and the appeal stays on record.

The rules are in backend.services.ratings; these views only call them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadInput, Forbidden, NotFound
from backend.models import (
    AppealState,
    Case,
    Department,
    Rating,
    RatingAppeal,
    RatingLevel,
    Rectification,
    RectificationState,
    Role,
    Staff,
    Ticket,
    Window,
)
from backend.services import ratings as rating_service
from backend.services.calendar import calendar_for
from backend.services.queue import local_day
from backend.web.auth import StaffUser, current_staff, staff_required
from backend.web.layout import add_nav, page_errors, page_zone

blueprint = Blueprint("ratings_work", __name__, url_prefix="/ratings")
page_errors(blueprint, fallback_endpoint="workbench.index")

RECTIFY_ROLES = (Role.DEPARTMENT_LEAD, Role.ADMINISTRATOR, Role.SUPERVISOR)
DECIDE_ROLES = (Role.SUPERVISOR, Role.ADMINISTRATOR)
add_nav("ratings_work.rectifications", _l("差评整改"), roles=RECTIFY_ROLES, order=42)
add_nav("ratings_work.appeals", _l("申诉复核"), roles=DECIDE_ROLES, order=43)
add_nav("ratings_work.mine", _l("我的差评"), roles=(Role.CLERK,), order=44)

OPEN_RECTIFICATION = (
    RectificationState.OPEN,
    RectificationState.CALLED_BACK,
    RectificationState.RECTIFIED,
)
STATE_LABELS = {
    RectificationState.OPEN: _l("待回访"),
    RectificationState.CALLED_BACK: _l("已回访，待整改"),
    RectificationState.RECTIFIED: _l("已整改，待复评"),
    RectificationState.CLOSED: _l("已办结"),
    RectificationState.VOIDED: _l("评价已作废"),
}
APPEAL_LABELS = {
    AppealState.PENDING: _l("待复核"),
    AppealState.UPHELD: _l("申诉成立，评价已作废"),
    AppealState.REJECTED: _l("申诉不成立，评价保留"),
}


def _ext() -> Any:
    return current_app.extensions["hallkit"]


def _now() -> datetime:
    now: datetime = _ext().clock()
    return now


def _today() -> date:
    return local_day(_now(), page_zone())


def _may_act(user: StaffUser, item: Rectification) -> bool:
    """Administrators, and the lead of the rated department; supervisors read."""
    if user.has_role(Role.ADMINISTRATOR):
        return True
    return user.has_role(Role.DEPARTMENT_LEAD) and (
        item.department_id is not None and item.department_id == user.principal.department_id
    )


def _scoped_rectifications(user: StaffUser) -> Any:
    statement = select(Rectification, Rating).join(Rating, Rating.id == Rectification.rating_id)
    if not user.has_role(Role.ADMINISTRATOR, Role.SUPERVISOR):
        statement = statement.where(Rectification.department_id == user.principal.department_id)
    return statement


def _deadline(session: Session, due: date, today: date) -> dict[str, Any]:
    """The due day and working days left (negative: overdue)."""
    left = calendar_for(session).remaining_working_days(due, today)
    return {"due": due, "left": left, "overdue": today > due}


def _step_due(item: Rectification) -> date | None:
    if item.state is RectificationState.OPEN:
        return item.callback_due
    if item.state is RectificationState.CALLED_BACK:
        return item.rectify_due
    return None


def open_rectifications(session: Session, user: StaffUser, today: date) -> list[dict[str, Any]]:
    """The open 整改 items the user may work on or read, soonest deadline first
    (the workbench lists them too)."""
    rows = session.execute(
        _scoped_rectifications(user)
        .where(Rectification.state.in_(OPEN_RECTIFICATION))
        .order_by(Rectification.callback_due, Rectification.id)
        .limit(200)
    ).all()
    items = []
    for item, rating in rows:
        due = _step_due(item)
        items.append(
            {
                "item": item,
                "rating": rating,
                "state": STATE_LABELS[item.state],
                "deadline": _deadline(session, due, today) if due else None,
            }
        )
    items.sort(
        key=lambda row: (
            row["deadline"] is None,
            row["deadline"]["due"] if row["deadline"] else date.max,
        )
    )
    return items


def pending_appeals(session: Session, today: date) -> list[dict[str, Any]]:
    rows = session.execute(
        select(RatingAppeal, Rating)
        .join(Rating, Rating.id == RatingAppeal.rating_id)
        .where(RatingAppeal.state == AppealState.PENDING)
        .order_by(RatingAppeal.decide_due, RatingAppeal.id)
        .limit(200)
    ).all()
    return [
        {
            "appeal": appeal,
            "rating": rating,
            "deadline": _deadline(session, appeal.decide_due, today),
        }
        for appeal, rating in rows
    ]


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(wanted))).all())


def _level_label(level: int) -> str:
    return str(_(RatingLevel(level).label))


@blueprint.app_template_filter("rating_level")
def rating_level_filter(level: int) -> str:
    return _level_label(level)


# ----------------------------------------------------------------- 整改


@blueprint.get("/rectifications")
@staff_required(*RECTIFY_ROLES)
def rectifications() -> Any:
    user = current_staff()
    show = request.args.get("show", "open")
    with _ext().db.reading() as session:
        today = _today()
        if show == "all":
            rows = session.execute(
                _scoped_rectifications(user).order_by(Rectification.id.desc()).limit(300)
            ).all()
            items = [
                {
                    "item": item,
                    "rating": rating,
                    "state": STATE_LABELS[item.state],
                    "deadline": None,
                }
                for item, rating in rows
            ]
        else:
            items = open_rectifications(session, user, today)
        departments = dict(session.execute(select(Department.id, Department.name)).all())
    return render_template(
        "ratings/rectifications.html", items=items, show=show, departments=departments
    )


def _rectification_or_404(
    session: Session, user: StaffUser, item_id: int
) -> tuple[Rectification, Rating]:
    row = session.execute(_scoped_rectifications(user).where(Rectification.id == item_id)).first()
    if row is None:
        raise NotFound(_("整改项不存在"))
    return row[0], row[1]


@blueprint.get("/rectifications/<int:item_id>")
@staff_required(*RECTIFY_ROLES)
def rectification(item_id: int) -> Any:
    user = current_staff()
    with _ext().db.reading() as session:
        item, rating = _rectification_or_404(session, user, item_id)
        today = _today()
        due = _step_due(item)
        # The department needs to know which service it was to call the applicant
        # back: the ticket or the receipt number, never the rater's name.
        ticket = session.get(Ticket, rating.ticket_id) if rating.ticket_id else None
        case = session.get(Case, rating.case_id) if rating.case_id else None
        window = session.get(Window, rating.window_id) if rating.window_id else None
        staff = session.get(Staff, rating.staff_id) if rating.staff_id else None
        appeals = list(
            session.execute(
                select(RatingAppeal)
                .where(RatingAppeal.rating_id == rating.id)
                .order_by(RatingAppeal.id)
            ).scalars()
        )
        context = {
            "item": item,
            "rating": rating,
            "state": STATE_LABELS[item.state],
            "deadline": _deadline(session, due, today) if due else None,
            "callback": _deadline(session, item.callback_due, today),
            "rectify": _deadline(session, item.rectify_due, today),
            "ticket": ticket.display if ticket else None,
            "receipt": case.receipt_number if case else None,
            "window": window.number if window else None,
            "clerk": staff,
            "appeals": appeals,
            "appeal_labels": APPEAL_LABELS,
            "may_act": _may_act(user, item),
            "levels": [(level.value, _(level.label)) for level in RatingLevel],
            "rated_day": local_day(rating.rated_at, page_zone()),
        }
    return render_template("ratings/rectification.html", **context)


def _step(item_id: int, action: str) -> Any:
    user = current_staff()
    form = request.form
    with _ext().db.writing() as session:
        item, _rating = _rectification_or_404(session, user, item_id)
        if not _may_act(user, item):
            raise Forbidden(_("只有本部门负责人或管理员可以办理整改"))
        if action == "callback":
            rating_service.record_callback(
                session,
                rectification_id=item.id,
                note=form.get("note", "")[:2000],
                now=_now(),
                actor=user.principal.label,
            )
            message = _("已记录回访")
        elif action == "rectified":
            rating_service.record_rectified(
                session,
                rectification_id=item.id,
                outcome=form.get("outcome", "")[:2000],
                now=_now(),
                actor=user.principal.label,
            )
            message = _("已记录整改结果")
        else:
            level = form.get("level", "")
            if level not in {str(value.value) for value in RatingLevel}:
                # No default level: the applicant's follow-up answer must be chosen.
                raise BadInput(_("请选择申请人复评的满意程度"))
            rating_service.record_follow_up(
                session, rectification_id=item.id, level=int(level), actor=user.principal.label
            )
            message = _("已复评，整改办结")
    flash(message, "success")
    return redirect(url_for("ratings_work.rectification", item_id=item_id))


@blueprint.post("/rectifications/<int:item_id>/callback")
@staff_required(*RECTIFY_ROLES)
def rectification_callback(item_id: int) -> Any:
    return _step(item_id, "callback")


@blueprint.post("/rectifications/<int:item_id>/rectified")
@staff_required(*RECTIFY_ROLES)
def rectification_rectified(item_id: int) -> Any:
    return _step(item_id, "rectified")


@blueprint.post("/rectifications/<int:item_id>/follow-up")
@staff_required(*RECTIFY_ROLES)
def rectification_follow_up(item_id: int) -> Any:
    return _step(item_id, "follow_up")


# ----------------------------------------------------------------- 我的差评 / 申诉


def my_bad_ratings(session: Session, staff_id: int) -> list[dict[str, Any]]:
    """The clerk's own 差评 with what the clerk may see of them."""
    ratings = list(
        session.execute(
            select(Rating)
            .where(Rating.staff_id == staff_id, Rating.level <= 2)
            .order_by(Rating.rated_at.desc())
            .limit(100)
        ).scalars()
    )
    appeals: dict[int, list[RatingAppeal]] = {}
    if ratings:
        for appeal in session.execute(
            select(RatingAppeal)
            .where(RatingAppeal.rating_id.in_([r.id for r in ratings]))
            .order_by(RatingAppeal.id)
        ).scalars():
            appeals.setdefault(appeal.rating_id, []).append(appeal)
    rows = []
    for rating in ratings:
        history = appeals.get(rating.id, [])
        rows.append(
            {
                # rating_json(for_clerk=True) leaves out ticket, case and device;
                # the day only, not the time: the minute would point at the rater.
                "rating": rating_service.rating_json(rating, for_clerk=True),
                "id": rating.id,
                "day": local_day(rating.rated_at, page_zone()),
                "appeals": history,
                "may_appeal": not rating.voided
                and not any(a.state is AppealState.PENDING for a in history),
            }
        )
    return rows


@blueprint.get("/mine")
@staff_required()
def mine() -> Any:
    user = current_staff()
    with _ext().db.reading() as session:
        rows = my_bad_ratings(session, user.staff_id)
    return render_template("ratings/mine.html", rows=rows, appeal_labels=APPEAL_LABELS)


@blueprint.post("/<int:rating_id>/appeal")
@staff_required()
def appeal(rating_id: int) -> Any:
    user = current_staff()
    with _ext().db.writing() as session:
        rating_service.file_appeal(
            session,
            rating_id=rating_id,
            staff_id=user.staff_id,
            reason=request.form.get("reason", "")[:1001],
            now=_now(),
            actor=user.principal.label,
        )
    flash(_("申诉已提交，监察室将在期限内复核"), "success")
    return redirect(url_for("ratings_work.mine"))


# ----------------------------------------------------------------- 申诉复核


@blueprint.get("/appeals")
@staff_required(*DECIDE_ROLES)
def appeals() -> Any:
    with _ext().db.reading() as session:
        today = _today()
        pending = pending_appeals(session, today)
        decided = session.execute(
            select(RatingAppeal, Rating)
            .join(Rating, Rating.id == RatingAppeal.rating_id)
            .where(RatingAppeal.state != AppealState.PENDING)
            .order_by(RatingAppeal.decided_at.desc())
            .limit(50)
        ).all()
        names = _names(
            session,
            {row["appeal"].filed_by_staff_id for row in pending}
            | {a.filed_by_staff_id for a, _r in decided}
            | {a.decided_by_staff_id for a, _r in decided},
        )
    return render_template(
        "ratings/appeals.html",
        pending=pending,
        decided=decided,
        names=names,
        appeal_labels=APPEAL_LABELS,
    )


@blueprint.post("/appeals/<int:appeal_id>/decide")
@staff_required(*DECIDE_ROLES)
def decide(appeal_id: int) -> Any:
    user = current_staff()
    decision = request.form.get("decision", "")
    if decision not in ("upheld", "rejected"):
        raise BadInput(_("请选择申诉成立或不成立"))
    with _ext().db.writing() as session:
        rating_service.decide_appeal(
            session,
            appeal_id=appeal_id,
            upheld=decision == "upheld",
            reason=request.form.get("reason", "")[:2000],
            staff_id=user.staff_id,
            now=_now(),
            actor=user.principal.label,
        )
    flash(
        _("申诉成立，该评价已作废（记录保留）")
        if decision == "upheld"
        else _("申诉不成立，评价保留"),
        "success",
    )
    return redirect(url_for("ratings_work.appeals"))
