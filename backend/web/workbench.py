"""工作台: 待办, 委托 (delegated by me), 受托 (delegated to me), 监督 (cases
near or past their deadline), work statistics and deadline reminders.

A delegation is created here for a period and lapses by itself at its end
time: every access check asks whether it is in force *now* (see
`backend.services.access`), so there is no job that has to run at the end.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.errors import BadInput, Forbidden, NotFound
from backend.models import (
    Case,
    Delegation,
    MatterVersion,
    Rating,
    Staff,
    Ticket,
    TicketState,
)
from backend.models.delegation import DELEGATION_SCOPE_ALL, DELEGATION_SCOPE_MATTERS
from backend.models.supervision import Alert, AlertKind
from backend.services import access, audit
from backend.services import cases as case_service
from backend.services import supervision as supervision_service
from backend.services.calendar import calendar_for
from backend.services.queue import local_day
from backend.web import ratings_work
from backend.web.auth import StaffUser, current_staff, staff_required
from backend.web.layout import add_nav, page_errors, page_zone

blueprint = Blueprint("workbench", __name__, url_prefix="/workbench")
page_errors(blueprint, fallback_endpoint="workbench.index")
add_nav("workbench.index", _l("工作台"), order=5)

REMINDER_HOURS = 24


def _ext() -> Any:
    return current_app.extensions["hallkit"]


def _now() -> datetime:
    now: datetime = _ext().clock()
    return now


def due_moment(due_on: date) -> datetime:
    """A case due on a day may be finished until that day's end (hall time)."""
    return datetime.combine(due_on + timedelta(days=1), datetime.min.time(), page_zone())


def _case_rows(session: Session, condition: Any, limit: int = 100) -> list[Any]:
    return list(
        session.execute(
            select(Case, MatterVersion.name)
            .join(MatterVersion, MatterVersion.id == Case.matter_version_id)
            .where(condition)
            .order_by(Case.due_on.is_(None), Case.due_on, Case.accepted_at)
            .limit(limit)
        ).all()
    )


def _staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids))).all())


def workbench_context(session: Session, user: StaffUser, now: datetime) -> dict[str, Any]:
    scope = access.case_scope(session, user.principal, now)
    today = local_day(now, page_zone())
    open_cases = Case.state.in_(case_service.OPEN_STATES)
    mine = or_(Case.handler_staff_id == user.staff_id, Case.handler_staff_id.is_(None))
    todo = _case_rows(session, open_cases & scope.department_filter() & mine)
    delegated_to_me = _case_rows(session, open_cases & scope.delegation_filter())
    calendar = calendar_for(session)
    # 监督: the supervision rule of the plan — warning on the last working day of
    # the promised period, yellow card once it has passed.
    supervised = []
    for case, matter_name in _case_rows(
        session,
        open_cases & scope.case_filter() & Case.due_on.is_not(None) & (Case.due_on <= today),
    ):
        if case.due_on < today:
            level = "yellow"
        elif case.suspended_kind:
            continue
        else:
            level = "warning"
        supervised.append((case, matter_name, level))
    reminders = [
        (case, name)
        for case, name in _case_rows(
            session,
            open_cases
            & scope.case_filter()
            & Case.due_on.is_not(None)
            & (Case.due_on >= today)
            & (Case.due_on <= today + timedelta(days=3)),
        )
        if case.suspended_kind is None
        and now <= due_moment(case.due_on) <= now + timedelta(hours=REMINDER_HOURS)
    ]
    # A calendar change moved the due date of a case I handle (期限变更), until I
    # have taken note of it.
    moved_deadlines = list(
        session.execute(
            select(Alert)
            .where(
                Alert.kind == AlertKind.DEADLINE_MOVED.value,
                Alert.handler_staff_id == user.staff_id,
                Alert.cleared_at.is_(None),
                Alert.acknowledged_at.is_(None),
            )
            .order_by(Alert.created_at.desc())
            .limit(50)
        ).scalars()
    )
    by_me = list(
        session.execute(
            select(Delegation)
            .where(Delegation.delegator_staff_id == user.staff_id)
            .order_by(Delegation.ends_at.desc())
            .limit(30)
        ).scalars()
    )
    to_me = list(
        session.execute(
            select(Delegation)
            .where(Delegation.delegate_staff_id == user.staff_id)
            .order_by(Delegation.ends_at.desc())
            .limit(30)
        ).scalars()
    )
    names = _staff_names(
        session, {d.delegate_staff_id for d in by_me} | {d.delegator_staff_id for d in to_me}
    )
    colleagues = (
        list(
            session.execute(
                select(Staff)
                .where(
                    Staff.department_id == user.principal.department_id,
                    Staff.id != user.staff_id,
                    Staff.active.is_(True),
                )
                .order_by(Staff.employee_no)
            ).scalars()
        )
        if user.principal.department_id
        else []
    )
    matters = list(
        session.execute(
            select(MatterVersion.code, MatterVersion.name)
            .where(MatterVersion.department_id == user.principal.department_id)
            .group_by(MatterVersion.code, MatterVersion.name)
            .order_by(MatterVersion.code)
        ).all()
    )
    return {
        "todo": todo,
        "delegated_to_me": delegated_to_me,
        "supervised": supervised,
        "reminders": reminders,
        "moved_deadlines": moved_deadlines,
        # 差评整改 and 申诉 with their deadlines, for the roles that act on them.
        "rectifications": ratings_work.open_rectifications(session, user, today)
        if user.has_role(*ratings_work.RECTIFY_ROLES)
        else [],
        "appeals": ratings_work.pending_appeals(session, today)
        if user.has_role(*ratings_work.DECIDE_ROLES)
        else [],
        "delegations_by_me": by_me,
        "delegations_to_me": to_me,
        "staff_names": names,
        "colleagues": colleagues,
        "matters": matters,
        "stats": work_statistics(session, user, now, today),
        "now": now,
        "today": today,
        "calendar_provisional": calendar.is_workday(today).provisional,
        "state_labels": {s.value: label for s, label in case_service.STEP_LABELS.items()},
    }


def work_statistics(
    session: Session, user: StaffUser, now: datetime, today: date
) -> dict[str, Any]:
    month_start = today.replace(day=1)
    registered = session.execute(
        select(func.count())
        .select_from(Case)
        .where(Case.registered_by_staff_id == user.staff_id, Case.accepted_on >= month_start)
    ).scalar_one()
    finished = session.execute(
        select(Case.due_on, Case.completed_at).where(
            Case.handler_staff_id == user.staff_id,
            Case.completed_at.is_not(None),
            Case.accepted_on >= month_start - timedelta(days=62),
        )
    ).all()
    on_time = sum(
        1 for due, done in finished if due is None or done.astimezone(page_zone()).date() <= due
    )
    served_by_day = dict(
        session.execute(
            select(Ticket.service_day, func.count())
            .where(
                Ticket.staff_id == user.staff_id,
                Ticket.state == TicketState.DONE,
                Ticket.service_day > today - timedelta(days=14),
            )
            .group_by(Ticket.service_day)
        ).all()
    )
    days = [today - timedelta(days=offset) for offset in range(13, -1, -1)]
    levels = list(
        session.execute(
            select(Rating.level).where(
                Rating.staff_id == user.staff_id,
                Rating.voided.is_(False),
                Rating.rated_at >= now - timedelta(days=30),
            )
        ).scalars()
    )
    return {
        "registered_this_month": int(registered),
        "finished": len(finished),
        "on_time": on_time,
        "ratings": len(levels),
        "satisfied": sum(1 for level in levels if level >= 4),
        "chart": {
            "days": [d.strftime("%m-%d") for d in days],
            "served": [int(served_by_day.get(d, 0)) for d in days],
        },
    }


@blueprint.get("")
@staff_required()
def index() -> Any:
    user = current_staff()
    with _ext().db.reading() as session:
        context = workbench_context(session, user, _now())
    return render_template("workbench/index.html", **context)


def _parse_local(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=page_zone())
    except ValueError as error:
        raise BadInput(_("时间格式不正确")) from error


@blueprint.post("/delegations")
@staff_required()
def create_delegation() -> Any:
    user = current_staff()
    if user.is_read_only:
        raise Forbidden(_("监察人员只读"))
    form = request.form
    now = _now()
    starts = _parse_local(form["starts_at"]) if form.get("starts_at") else now
    ends = _parse_local(form.get("ends_at", ""))
    scope = form.get("scope", DELEGATION_SCOPE_ALL)
    codes = [code for code in form.getlist("matters") if code]
    if scope not in (DELEGATION_SCOPE_ALL, DELEGATION_SCOPE_MATTERS):
        raise BadInput(_("委托范围不正确"))
    if scope == DELEGATION_SCOPE_MATTERS and not codes:
        raise BadInput(_("请选择委托的事项"))
    if ends <= starts or ends <= now:
        raise BadInput(_("结束时间须晚于开始时间和当前时间"))
    if ends - starts > timedelta(days=90):
        raise BadInput(_("委托期限最长90天"))
    with _ext().db.writing() as session:
        # Usually a colleague of the same department; anyone active may be named
        # (a deputy from another department covers a lead's leave, for example).
        employee_no = (form.get("delegate_other") or form.get("delegate") or "").strip()
        delegate = session.execute(
            select(Staff).where(Staff.employee_no == employee_no, Staff.active.is_(True))
        ).scalar_one_or_none()
        if delegate is None or delegate.id == user.staff_id:
            raise BadInput(_("请选择受托人"))
        delegation = Delegation(
            delegator_staff_id=user.staff_id,
            delegate_staff_id=delegate.id,
            scope=scope,
            matter_codes=codes if scope == DELEGATION_SCOPE_MATTERS else [],
            starts_at=starts,
            ends_at=ends,
            reason=form.get("reason", "").strip()[:500],
            created_at=now,
        )
        session.add(delegation)
        session.flush()
        audit.record(
            session,
            user.principal.label,
            "delegation.create",
            "delegation",
            delegation.id,
            delegation.as_json(),
        )
    flash(_("已委托 %(name)s", name=delegate.name), "success")
    return redirect(url_for("workbench.index") + "#delegations")


@blueprint.post("/deadline-notices/<int:alert_id>/seen")
@staff_required()
def deadline_notice_seen(alert_id: int) -> Any:
    """The handler takes note of a moved due date (签收 of the 期限变更 notice)."""
    user = current_staff()
    with _ext().db.writing() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.kind != AlertKind.DEADLINE_MOVED.value:
            raise NotFound(_("通知不存在"))
        supervision_service.acknowledge(session, alert_id, user.principal, _now())
    flash(_("已知悉"), "success")
    return redirect(url_for("workbench.index"))


@blueprint.post("/delegations/<int:delegation_id>/revoke")
@staff_required()
def revoke_delegation(delegation_id: int) -> Any:
    user = current_staff()
    with _ext().db.writing() as session:
        delegation = session.get(Delegation, delegation_id, with_for_update=True)
        if delegation is None or delegation.delegator_staff_id != user.staff_id:
            raise NotFound(_("委托不存在"))
        if delegation.revoked_at is None and delegation.ends_at > _now():
            delegation.revoked_at = _now()
            audit.record(
                session, user.principal.label, "delegation.revoke", "delegation", delegation.id, {}
            )
    flash(_("委托已收回"), "success")
    return redirect(url_for("workbench.index") + "#delegations")
