"""办件 desk: register a case from the catalog, keep its materials, print the
acceptance slip (受理通知书) or the 不予受理 notice, move it through its steps,
and read its full timeline.

Access goes through `backend.services.access` for every case: department of the
window signed in at (clerk), own department (lead), all read-only (supervisor),
all (administrator), plus cases delegated to the user while the delegation is
in force.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.api.errors import audit_refusal
from backend.errors import BadInput, DomainError, Forbidden
from backend.models import (
    ApplicantKind,
    Case,
    CaseState,
    Department,
    Hall,
    Matter,
    MatterVersion,
    Staff,
    Ticket,
    Window,
)
from backend.privacy import mask_name
from backend.services import access, audit
from backend.services import cases as case_service
from backend.services.access import Access, Resource
from backend.web import materials
from backend.web.auth import StaffUser, current_staff, permission_required, staff_required
from backend.web.layout import add_nav, page_errors, page_zone, use_hall_zone
from backend.web.qr import qr_svg
from backend.workdays import SuspensionKind

blueprint = Blueprint("desk", __name__, url_prefix="/cases")
page_errors(blueprint, fallback_endpoint="desk.index")
add_nav("desk.index", _l("办件"), order=20)

# Every action a case event records (CaseEvent.action), as a person reads it: the
# one table for the timeline and the desk's buttons. A code missing here shows as
# 其他操作, never as the code.
EVENT_LABELS = {
    "accept": _l("受理"),
    "not_accept": _l("不予受理"),
    "undertake": _l("承办"),
    "review": _l("送审核"),
    "return": _l("退回承办"),
    "approve": _l("批准"),
    "complete": _l("办结"),
    "deliver": _l("发证/取件"),
    "deny": _l("不予许可"),
    "withdraw": _l("撤回"),
    "suspend": _l("暂停计时"),
    "resume": _l("恢复计时"),
    "forward": _l("转办"),
    "joint_approve": _l("联办部门同意"),
    "joint_deny": _l("联办部门不同意"),
    "disclose": _l("设为办结公示"),
    "undisclose": _l("取消办结公示"),
}
OTHER_EVENT = _l("其他操作")
ACTION_LABELS = {action: EVENT_LABELS[action] for action in case_service.TRANSITIONS}
STATE_LABELS = {state.value: label for state, label in case_service.STEP_LABELS.items()}
SUSPENSION_CHOICES = [kind.value for kind in SuspensionKind]
# The kinds are stored in Chinese (the law's words); the pages show them through _().
SUSPENSION_TEXTS = (
    _l("补正"), _l("听证"), _l("招标"), _l("拍卖"), _l("检验"), _l("检测"), _l("检验检测"),
    _l("检疫"), _l("鉴定"), _l("专家评审"), _l("专家论证"), _l("踏勘"),
)  # fmt: skip
# How an actor label that names no staff member reads (CaseEvent.actor_label).
ACTOR_KIND_LABELS = {"device": _l("终端设备"), "hub": _l("大厅主机"), "system": _l("系统")}


def actor_text(label: str, staff: Staff | None) -> str:
    """Who did it, for people: 工作人员 韩*涵（BH0102）, 终端设备 kiosk-1, 系统.

    Staff names are masked as everywhere else a name is shown; the employee
    number identifies the person to those who may know."""
    if staff is not None:
        return str(
            _(
                "工作人员 %(name)s（%(number)s）",
                name=mask_name(staff.name),
                number=staff.employee_no,
            )
        )
    kind, _separator, rest = label.partition(":")
    if kind == "staff" and rest:
        return str(_("工作人员（%(number)s）", number=rest))
    kind_label = ACTOR_KIND_LABELS.get(kind)
    if kind_label is None:
        return str(ACTOR_KIND_LABELS["system"])
    return f"{kind_label} {rest}".strip()


def timeline_rows(session: Session, case: Case) -> list[dict[str, Any]]:
    """The case's events in the reader's language: step, action and actor as words."""
    staff_ids = {event.actor_staff_id for event in case.events if event.actor_staff_id}
    staff = (
        {
            row.id: row
            for row in session.execute(select(Staff).where(Staff.id.in_(staff_ids))).scalars()
        }
        if staff_ids
        else {}
    )
    return [
        {
            "at": event.at.isoformat(),
            "action": event.action,
            "step": _(STATE_LABELS[event.to_state])
            if event.to_state in STATE_LABELS
            else OTHER_EVENT,
            "action_label": EVENT_LABELS.get(event.action, OTHER_EVENT),
            "actor": actor_text(
                event.actor_label, staff.get(event.actor_staff_id) if event.actor_staff_id else None
            ),
            "note": event.note,
        }
        for event in case.events
    ]


def _ext() -> Any:
    return current_app.extensions["hallkit"]


def _now() -> datetime:
    now: datetime = _ext().clock()
    return now


def _actor(user: StaffUser, label: str | None = None) -> case_service.Actor:
    """`label`: who the case events and audit record, e.g. a delegate acting for
    the delegator (backend.services.access.acting_label)."""
    return case_service.Actor(
        label=label or user.principal.label,
        staff_id=user.principal.staff_id,
        department_id=user.principal.department_id,
    )


def available_actions(case: Case) -> list[tuple[str, Any]]:
    if case.suspended_kind:
        return [("withdraw", ACTION_LABELS["withdraw"])]
    actions = []
    for action, (allowed, _target) in case_service.TRANSITIONS.items():
        if case.state in allowed or (
            action == "complete" and case.state is CaseState.ACCEPTED and case.promised_days == 0
        ):
            actions.append((action, ACTION_LABELS[action]))
    return actions


def registrable_matters(session: Session, scope: access.CaseScope) -> list[MatterVersion]:
    query = (
        select(MatterVersion)
        .join(Matter, Matter.current_version_id == MatterVersion.id)
        .where(Matter.active.is_(True))
        .order_by(MatterVersion.code)
    )
    if not scope.all_departments:
        query = query.where(MatterVersion.department_id.in_(scope.departments or {-1}))
    return list(session.execute(query).scalars())


@blueprint.get("")
@staff_required()
def index() -> Any:
    user = current_staff()
    search = request.args.get("q", "").strip()
    state = request.args.get("state", "")
    with _ext().db.reading() as session:
        scope = access.case_scope(session, user.principal, _now())
        query = (
            select(Case, MatterVersion.name, Department.short_name)
            .join(MatterVersion, MatterVersion.id == Case.matter_version_id)
            .join(Department, Department.id == Case.department_id)
            .where(scope.case_filter())
            .order_by(Case.accepted_at.desc())
            .limit(100)
        )
        if search:
            query = query.where(
                or_(
                    Case.receipt_number.startswith(search),
                    MatterVersion.name.contains(search),
                    Case.applicant_name_masked.contains(search),
                )
            )
        if state == "open":
            query = query.where(Case.state.in_(case_service.OPEN_STATES))
        elif state in STATE_LABELS:
            query = query.where(Case.state == CaseState(state))
        rows = session.execute(query).all()
    return render_template(
        "cases/index.html",
        rows=rows,
        search=search,
        state=state,
        state_labels=STATE_LABELS,
        today=_today(),
    )


def _today() -> Any:
    from backend.services.queue import local_day

    return local_day(_now(), page_zone())


@blueprint.get("/new")
@permission_required(Resource.CASES, Access.WRITE)
def new() -> Any:
    user = current_staff()
    ticket_id = request.args.get("ticket", type=int)
    matter_code = request.args.get("matter", "")
    with _ext().db.reading() as session:
        scope = access.case_scope(session, user.principal, _now())
        matters = registrable_matters(session, scope)
        ticket = session.get(Ticket, ticket_id) if ticket_id else None
        if ticket is not None and not matter_code and ticket.matter_version_id:
            version = session.get(MatterVersion, ticket.matter_version_id)
            matter_code = version.code if version else ""
        chosen = next((m for m in matters if m.code == matter_code), None)
        if chosen is None and len(matters) == 1:
            chosen = matters[0]
        departments = list(session.execute(select(Department).order_by(Department.code)).scalars())
    return render_template(
        "cases/new.html",
        matters=matters,
        chosen=chosen,
        spec=chosen.as_spec() if chosen else None,
        ticket=ticket,
        departments=departments,
        form=request.args,
    )


@blueprint.post("/new")
@permission_required(Resource.CASES, Access.WRITE)
def register() -> Any:
    user = current_staff()
    form = request.form
    matter_code = form.get("matter", "")
    not_accepted = form.get("decision") == "not_accept"
    ticket_id = form.get("ticket_id", type=int)
    extension = _ext()
    try:
        with extension.db.writing() as session:
            scope = access.case_scope(session, user.principal, _now())
            if scope.read_only:
                raise Forbidden(_("监察人员只读"))
            version = next(
                (m for m in registrable_matters(session, scope) if m.code == matter_code), None
            )
            if version is None:
                raise BadInput(_("请选择本窗口可受理的事项"))
            case = case_service.register_case(
                session,
                hall_id=_hall_id(session, user),
                matter_code=matter_code,
                applicant=case_service.Applicant(
                    kind=ApplicantKind(form.get("applicant_kind", "person")),
                    name=form.get("applicant_name", ""),
                    id_number=form.get("id_number", ""),
                    phone=form.get("phone", ""),
                ),
                protector=extension.protector,
                actor=_actor(user),
                now=_now(),
                window_id=user.principal.window_id,
                ticket_id=ticket_id,
                joint_departments=tuple(form.getlist("joint")),
                not_accepted_reason=form.get("reason", "") if not_accepted else None,
            )
            spec = version.as_spec()
            received = set(form.getlist("received"))
            checklist = [
                {
                    "name": item.name,
                    "form": item.form.value,
                    "count": item.count,
                    "received": str(index) in received,
                }
                for index, item in enumerate(spec.materials)
            ]
            audit.record(
                session,
                user.principal.label,
                "case.materials_checked",
                "case",
                case.id,
                {
                    "received": sum(1 for c in checklist if c["received"]),
                    "required": len(checklist),
                },
            )
            case_id = case.id
    except DomainError as error:
        if error.refusal:
            audit_refusal(error.message, error.status)
        flash(error.message, "error")
        return render_new_again(form), error.status
    manifest = materials.read_manifest(extension.settings.upload_dir, case_id)
    manifest.checklist = checklist
    materials.write_manifest(extension.settings.upload_dir, case_id, manifest)
    if not_accepted:
        flash(_("已登记不予受理，请打印告知书"), "success")
        return redirect(url_for("desk.detail", case_id=case_id, print="notice"))
    flash(_("已受理，请打印受理通知书"), "success")
    return redirect(url_for("desk.detail", case_id=case_id, print="slip"))


def render_new_again(form: Any) -> str:
    user = current_staff()
    with _ext().db.reading() as session:
        scope = access.case_scope(session, user.principal, _now())
        matters = registrable_matters(session, scope)
        chosen = next((m for m in matters if m.code == form.get("matter")), None)
        ticket_id = form.get("ticket_id", type=int)
        ticket = session.get(Ticket, ticket_id) if ticket_id else None
        departments = list(session.execute(select(Department).order_by(Department.code)).scalars())
    return render_template(
        "cases/new.html",
        matters=matters,
        chosen=chosen,
        spec=chosen.as_spec() if chosen else None,
        ticket=ticket,
        departments=departments,
        form=form,
    )


def _hall_id(session: Session, user: StaffUser) -> int:
    if user.principal.hall_id is not None:
        return user.principal.hall_id
    hall = session.execute(select(Hall.id).order_by(Hall.id).limit(1)).scalar_one()
    return int(hall)


def _case_context(
    session: Session, user: StaffUser, case: Case, scope: access.CaseScope
) -> dict[str, Any]:
    view = case_service.staff_view(session, case, _ext().protector)
    version = session.get(MatterVersion, case.matter_version_id)
    department = session.get(Department, case.department_id)
    window = session.get(Window, case.window_id) if case.window_id else None
    handler = session.get(Staff, case.handler_staff_id) if case.handler_staff_id else None
    departments = list(session.execute(select(Department).order_by(Department.code)).scalars())
    return {
        "case": case,
        "view": view,
        "version": version,
        "spec": version.as_spec() if version else None,
        "department": department,
        "window": window,
        "handler": handler,
        "departments": departments,
        "can_act": access.can_act_on(session, scope, case),
        "actions": available_actions(case),
        "suspension_kinds": SUSPENSION_CHOICES,
        "state_labels": STATE_LABELS,
        "timeline": timeline_rows(session, case),
        "manifest": materials.read_manifest(_ext().settings.upload_dir, case.id),
        "open_states": case_service.OPEN_STATES,
        "fee_states": case_service.FEE_STATES,
    }


@blueprint.get("/<int:case_id>")
@staff_required()
def detail(case_id: int) -> Any:
    user = current_staff()
    with _ext().db.reading() as session:
        case, scope = access.load_case(session, user.principal, case_id, _now())
        context = _case_context(session, user, case, scope)
    context["print_hint"] = request.args.get("print")
    return render_template("cases/detail.html", **context)


def _write(case_id: int, change: Callable[[Session, StaffUser, str], None], message: str) -> Any:
    user = current_staff()
    with _ext().db.writing() as session:
        case, scope = access.load_case(session, user.principal, case_id, _now(), write=True)
        change(session, user, access.acting_label(session, user.principal, scope, case))
    flash(message, "success")
    return redirect(url_for("desk.detail", case_id=case_id))


def _change(case_id: int, change: Callable[..., Any], message: str, **details: Any) -> Any:
    """Transitions, suspensions, forwarding and disclosure from the desk: `_write`
    checks the user may change this case, so the service accepts any department."""

    def apply(session: Session, user: StaffUser, label: str) -> None:
        change(
            session,
            case_id=case_id,
            actor=_actor(user, label),
            now=_now(),
            allow_all_departments=True,
            **details,
        )

    return _write(case_id, apply, message)


@blueprint.post("/<int:case_id>/transition")
@staff_required()
def transition(case_id: int) -> Any:
    action = request.form.get("action", "")
    if action not in ACTION_LABELS:
        abort(400)
    return _change(
        case_id,
        case_service.transition,
        _("已%(action)s", action=ACTION_LABELS[action]),
        action=action,
        note=request.form.get("note", ""),
        collected_by=request.form.get("collected_by", ""),
    )


@blueprint.post("/<int:case_id>/suspend")
@staff_required()
def suspend(case_id: int) -> Any:
    return _change(
        case_id,
        case_service.suspend,
        _("已暂停计时"),
        kind=request.form.get("kind", ""),
        reason=request.form.get("reason", ""),
    )


@blueprint.post("/<int:case_id>/fee")
@staff_required()
def fee(case_id: int) -> Any:
    return _change(
        case_id,
        case_service.record_fee,
        _("已登记收费"),
        amount=request.form.get("amount", ""),
        note=request.form.get("note", ""),
    )


@blueprint.post("/<int:case_id>/resume")
@staff_required()
def resume(case_id: int) -> Any:
    return _change(case_id, case_service.resume, _("已恢复计时"), note=request.form.get("note", ""))


@blueprint.post("/<int:case_id>/forward")
@staff_required()
def forward(case_id: int) -> Any:
    return _change(
        case_id,
        case_service.forward,
        _("已转办"),
        to_department=request.form.get("department", ""),
        to_window=request.form.get("window") or None,
        note=request.form.get("note", ""),
    )


@blueprint.post("/<int:case_id>/disclosure")
@staff_required()
def disclosure(case_id: int) -> Any:
    public = request.form.get("public") == "1"
    return _change(
        case_id,
        case_service.set_disclosure,
        _("已设置公示") if public else _("已取消公示"),
        public=public,
    )


@blueprint.post("/<int:case_id>/materials")
@staff_required()
def upload_material(case_id: int) -> Any:
    user = current_staff()
    extension = _ext()
    with extension.db.reading() as session:
        access.load_case(session, user.principal, case_id, _now(), write=True)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadInput(_("请选择要上传的文件"))
    stored = materials.store_file(
        Path(extension.settings.upload_dir),
        case_id,
        stream=upload.stream,
        original_name=upload.filename,
        material=request.form.get("material", ""),
        actor=user.principal.label,
        now=_now(),
    )
    with extension.db.writing() as session:
        audit.record(
            session,
            user.principal.label,
            "case.material_upload",
            "case",
            case_id,
            {"file": stored.file_id, "size": stored.size, "type": stored.content_type},
        )
    flash(_("材料已上传"), "success")
    return redirect(url_for("desk.detail", case_id=case_id) + "#materials")


@blueprint.get("/<int:case_id>/files/<file_id>")
@staff_required()
def material_file(case_id: int, file_id: str) -> Any:
    user = current_staff()
    with _ext().db.reading() as session:
        access.load_case(session, user.principal, case_id, _now())
    path, stored = materials.file_path(Path(_ext().settings.upload_dir), case_id, file_id)
    return send_file(
        path,
        mimetype=stored.content_type,
        download_name=stored.original_name,
        as_attachment=stored.content_type == "application/pdf",
    )


def _print_context(case_id: int) -> dict[str, Any]:
    user = current_staff()
    extension = _ext()
    with extension.db.reading() as session:
        case, scope = access.load_case(session, user.principal, case_id, _now())
        context = _case_context(session, user, case, scope)
        hall = session.get(Hall, case.hall_id)
        clerk = (
            session.get(Staff, case.registered_by_staff_id) if case.registered_by_staff_id else None
        )
    applicant_name = case.applicant_name
    if case.applicant_kind is ApplicantKind.PERSON:
        try:
            applicant_name = extension.protector.open_text(case.applicant_name)
        except ValueError:
            applicant_name = case.applicant_name_masked
    progress_url = url_for("mobile.case_progress", token=case.public_token, _external=True)
    use_hall_zone(hall.timezone if hall else None)  # the slip shows the hall's clock
    context.update(
        hall=hall,
        clerk=clerk,
        applicant_name=applicant_name,
        progress_url=progress_url,
        qr=qr_svg(progress_url),
        printed_at=_now(),
    )
    return context


@blueprint.get("/<int:case_id>/slip")
@staff_required()
def slip(case_id: int) -> Any:
    context = _print_context(case_id)
    if context["case"].state is CaseState.NOT_ACCEPTED:
        return redirect(url_for("desk.notice", case_id=case_id))
    return render_template("cases/slip.html", **context)


@blueprint.get("/<int:case_id>/notice")
@staff_required()
def notice(case_id: int) -> Any:
    context = _print_context(case_id)
    if context["case"].state is not CaseState.NOT_ACCEPTED:
        return redirect(url_for("desk.slip", case_id=case_id))
    return render_template("cases/notice.html", **context)
