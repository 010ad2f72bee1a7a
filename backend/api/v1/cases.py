"""办件: registration, steps, suspensions, forwarding, joint handling, lookup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.framework import PUBLIC, STAFF, Reply, operation, optional_principal, principal
from backend.api.v1.common import ext, hall_id, now, window_id
from backend.api.v1.schemas import (
    CaseTransition,
    Disclosure,
    Forward,
    JointDecision,
    PublicCaseLookup,
    RecordFee,
    RegisterCase,
    Resume,
    Suspend,
)
from backend.errors import Forbidden, NotFound
from backend.models import ApplicantKind, Case
from backend.services import access
from backend.services import cases as case_service
from backend.services.auth import Principal

blueprint = Blueprint("cases", __name__, url_prefix="/api/v1/cases")


def _actor(who: Principal, label: str | None = None) -> case_service.Actor:
    """`label`: a delegate acting for the delegator (backend.services.access.acting_label)."""
    return case_service.Actor(
        label=label or who.label, staff_id=who.staff_id, department_id=who.department_id
    )


@operation(
    blueprint,
    "",
    "POST",
    body=RegisterCase,
    auth=STAFF,
    summary="受理登记（或不予受理）/ register a case",
)
def register(body: RegisterCase) -> Reply:
    who = principal()
    extension = ext()
    with extension.db.writing() as session:
        scope = access.case_scope(session, who, now())
        if scope.read_only:
            raise Forbidden("监察人员只读 / supervisors have read-only access")
        hid = hall_id(session, body.hall)
        wid = window_id(session, hid, body.window) if body.window else who.window_id
        case = case_service.register_case(
            session,
            hall_id=hid,
            matter_code=body.matter_code,
            applicant=case_service.Applicant(
                kind=ApplicantKind(body.applicant.kind),
                name=body.applicant.name,
                id_number=body.applicant.id_number,
                phone=body.applicant.phone,
            ),
            protector=extension.protector,
            actor=_actor(who),
            now=now(),
            window_id=wid,
            ticket_id=body.ticket_id,
            joint_departments=tuple(body.joint_departments),
            not_accepted_reason=body.not_accepted_reason,
        )
        if not scope.all_departments and case.department_id not in scope.departments:
            raise Forbidden("该事项不属于您的部门 / this matter belongs to another department")
        view = case_service.staff_view(session, case, extension.protector)
        view["public_token"] = case.public_token
    return view, 201


@operation(blueprint, "/<int:case_id>", "GET", auth=STAFF, summary="办件详情与全程记录 / a case")
def get_case(case_id: int) -> Reply:
    who = principal()
    with ext().db.reading() as session:
        case, _scope = access.load_case(session, who, case_id, now())
        return case_service.staff_view(session, case, ext().protector)


def _change(
    case_id: int,
    change: Callable[..., Case],
    reply: Callable[[Session, Case], dict[str, Any]] | None = None,
    **details: Any,
) -> Reply:
    """Transitions, suspensions, forwarding and disclosure: the caller's write access
    to the case is checked here (the pages' rule: departments, delegations,
    supervisors), so the service is told to accept any department."""
    who = principal()
    with ext().db.writing() as session:
        case, scope = access.load_case(session, who, case_id, now(), write=True)
        label = access.acting_label(session, who, scope, case)
        case = change(
            session,
            case_id=case_id,
            actor=_actor(who, label),
            now=now(),
            allow_all_departments=True,
            **details,
        )
        if reply is None:
            return case_service.staff_view(session, case, ext().protector)
        return reply(session, case)


@operation(
    blueprint,
    "/<int:case_id>/transitions",
    "POST",
    body=CaseTransition,
    auth=STAFF,
    summary="办件流转：承办、审核、退回、批准、办结、发证、不予许可、撤回 / advance a case",
)
def transition(case_id: int, body: CaseTransition) -> Reply:
    return _change(
        case_id,
        case_service.transition,
        action=body.action,
        note=body.note,
        collected_by=body.collected_by,
    )


@operation(
    blueprint,
    "/<int:case_id>/suspend",
    "POST",
    body=Suspend,
    auth=STAFF,
    summary="暂停计时（补正、踏勘、专家论证、听证…）/ stop the clock",
)
def suspend(case_id: int, body: Suspend) -> Reply:
    return _change(case_id, case_service.suspend, kind=body.kind, reason=body.reason)


@operation(
    blueprint,
    "/<int:case_id>/fee",
    "POST",
    body=RecordFee,
    auth=STAFF,
    summary="收费登记（实收金额，元）/ record the fee charged",
)
def record_fee(case_id: int, body: RecordFee) -> Reply:
    return _change(case_id, case_service.record_fee, amount=body.amount, note=body.note)


@operation(
    blueprint,
    "/<int:case_id>/resume",
    "POST",
    body=Resume,
    auth=STAFF,
    summary="恢复计时（材料已补齐）/ restart the clock",
)
def resume(case_id: int, body: Resume) -> Reply:
    return _change(case_id, case_service.resume, note=body.note)


@operation(
    blueprint,
    "/<int:case_id>/forward",
    "POST",
    body=Forward,
    auth=STAFF,
    summary="转办到其他部门窗口 / forward to another department",
)
def forward(case_id: int, body: Forward) -> Reply:
    return _change(
        case_id,
        case_service.forward,
        lambda _session, case: {"id": case.id, "department_id": case.department_id},
        to_department=body.department,
        to_window=body.window,
        note=body.note,
    )


@operation(
    blueprint,
    "/<int:case_id>/joint-decision",
    "POST",
    body=JointDecision,
    auth=STAFF,
    summary="并联审批部门意见 / a joint department's decision",
)
def joint_decision(case_id: int, body: JointDecision) -> Reply:
    who = principal()
    with ext().db.writing() as session:
        case = case_service.joint_decision(
            session,
            case_id=case_id,
            department_code=body.department,
            approve=body.approve,
            note=body.note,
            actor=_actor(who),
            now=now(),
        )
        return {
            "id": case.id,
            "participants": [
                {"department_id": p.department_id, "decision": p.decision}
                for p in case.participants
            ],
        }


@operation(
    blueprint,
    "/<int:case_id>/disclosure",
    "POST",
    body=Disclosure,
    auth=STAFF,
    summary="办结公示 / mark for public disclosure",
)
def disclosure(case_id: int, body: Disclosure) -> Reply:
    return _change(
        case_id,
        case_service.set_disclosure,
        lambda _session, case: {"id": case.id, "public_disclosure": case.public_disclosure},
        public=body.public,
    )


public = Blueprint("public_cases", __name__, url_prefix="/api/v1/public")


@operation(
    public,
    "/case-lookup",
    "POST",
    body=PublicCaseLookup,
    auth=PUBLIC,
    summary="办件查询：受理号 + 手机号后四位（限频）/ public case lookup (rate-limited)",
)
def case_lookup(body: PublicCaseLookup) -> Reply:
    extension = ext()
    who = optional_principal()
    # Behind the hub every kiosk shares one address, so the hub names the kiosk;
    # anyone else is limited by address (X-Forwarded-For is not trusted: it is
    # whatever the client says).
    device = request.headers.get("X-Device-Id", "") if who is not None and who.is_hub else ""
    extension.lookup_limiter.check(f"{request.remote_addr or '-'}|{device[:64]}")
    with extension.db.reading() as session:
        case = case_service.public_lookup(
            session, receipt=body.receipt_number, phone_last4=body.phone_last4
        )
        return case_service.public_view(session, case)


@operation(
    public,
    "/cases/<token>",
    "GET",
    auth=PUBLIC,
    summary="手机查看办件进度（受理单二维码）/ case progress by its QR token",
)
def case_by_token(token: str) -> Reply:
    with ext().db.reading() as session:
        case = session.execute(select(Case).where(Case.public_token == token)).scalar_one_or_none()
        if case is None:
            raise NotFound("办件不存在 / case not found")
        return case_service.public_view(session, case)
