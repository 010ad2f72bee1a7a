"""Cases (办件): registration, the step machine, suspensions, forwarding, joint
handling, and the public lookup. Every change appends a CaseEvent (who, when,
from-state, to-state, note); events are never rewritten.

Steps: 受理 accepted → 承办 undertaking → 审核 reviewing → 批准 approved →
办结 completed → 发证/取件 delivered. Side exits: 不予受理 not_accepted (at
registration), 不予许可 denied, 撤回 withdrawn. A 即办 matter (0 promised days)
may go from accepted straight to completed. Reviewing may send a case back to
undertaking (退回). While suspended (补正, 踏勘, 专家论证, 听证 …) a case only
resumes or is withdrawn, and the deadline clock stands still.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.catalog.fees import FeeFormatError, format_fen, parse_yuan
from backend.errors import BadInput, Forbidden, InvalidTransition, NotFound
from backend.models import (
    ApplicantKind,
    Case,
    CaseEvent,
    CaseParticipant,
    CaseState,
    CaseSuspension,
    Department,
    Hall,
    MatterVersion,
    Staff,
    Ticket,
    TicketState,
    Window,
)
from backend.privacy import (
    IdentityProtector,
    mask_name,
    mask_phone,
    validate_credit_code,
    validate_resident_id,
)
from backend.receipts import is_well_formed_receipt, new_public_token, new_receipt_number
from backend.services import eventlog
from backend.services.audit import record
from backend.services.calendar import calendar_for
from backend.services.catalog import current_version
from backend.services.queue import local_day
from backend.texts import N_
from backend.workdays import Suspension, SuspensionKind

log = logging.getLogger(__name__)

STEP_LABELS = {
    CaseState.ACCEPTED: "受理",
    CaseState.UNDERTAKING: "承办",
    CaseState.REVIEWING: "审核",
    CaseState.APPROVED: "批准",
    CaseState.COMPLETED: "办结",
    CaseState.DELIVERED: "发证/取件",
    CaseState.NOT_ACCEPTED: "不予受理",
    CaseState.DENIED: "不予许可",
    CaseState.WITHDRAWN: "撤回",
}

OPEN_STATES = frozenset(
    {CaseState.ACCEPTED, CaseState.UNDERTAKING, CaseState.REVIEWING, CaseState.APPROVED}
)
TERMINAL_STATES = frozenset(
    {CaseState.DELIVERED, CaseState.NOT_ACCEPTED, CaseState.DENIED, CaseState.WITHDRAWN}
)

# action → (allowed from-states, to-state)
TRANSITIONS: dict[str, tuple[frozenset[CaseState], CaseState]] = {
    "undertake": (frozenset({CaseState.ACCEPTED}), CaseState.UNDERTAKING),
    "review": (frozenset({CaseState.UNDERTAKING}), CaseState.REVIEWING),
    "return": (frozenset({CaseState.REVIEWING}), CaseState.UNDERTAKING),
    "approve": (frozenset({CaseState.REVIEWING}), CaseState.APPROVED),
    "complete": (frozenset({CaseState.APPROVED}), CaseState.COMPLETED),
    "deliver": (frozenset({CaseState.COMPLETED}), CaseState.DELIVERED),
    "deny": (
        frozenset({CaseState.UNDERTAKING, CaseState.REVIEWING}),
        CaseState.DENIED,
    ),
    "withdraw": (OPEN_STATES, CaseState.WITHDRAWN),
}
NEEDS_REASON = {"deny", "withdraw", "return"}
# The case event written when a calendar change moves an open case's due date.
DEADLINE_MOVED_ACTION = "deadline_moved"


@dataclass(frozen=True)
class Applicant:
    kind: ApplicantKind
    name: str
    id_number: str  # 身份证号 or 统一社会信用代码
    phone: str


@dataclass(frozen=True)
class Actor:
    label: str  # "staff:BH0101"
    staff_id: int | None
    department_id: int | None


def _event(
    session: Session,
    case: Case,
    action: str,
    from_state: CaseState | None,
    to_state: CaseState,
    actor: Actor,
    note: str = "",
    now: datetime | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now or datetime.now().astimezone(),
            action=action,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            actor_staff_id=actor.staff_id,
            actor_label=actor.label,
            department_id=case.department_id,
            note=note,
        )
    )


def _validate_applicant(applicant: Applicant) -> tuple[str, str]:
    name = applicant.name.strip()
    if not 1 <= len(name) <= 200:
        raise BadInput("申请人名称不能为空 / applicant name is required")
    try:
        if applicant.kind is ApplicantKind.PERSON:
            id_number = validate_resident_id(applicant.id_number)
        else:
            id_number = validate_credit_code(applicant.id_number)
    except ValueError as error:
        raise BadInput(str(error), field="id_number") from error
    phone = "".join(ch for ch in applicant.phone if ch.isdigit())
    if not 7 <= len(phone) <= 15:
        raise BadInput("联系电话格式不正确 / phone number is not valid", field="phone")
    return id_number, phone


def register_case(
    session: Session,
    *,
    hall_id: int,
    matter_code: str,
    applicant: Applicant,
    protector: IdentityProtector,
    actor: Actor,
    now: datetime,
    window_id: int | None = None,
    ticket_id: int | None = None,
    joint_departments: tuple[str, ...] = (),
    not_accepted_reason: str | None = None,
) -> Case:
    """受理 (or 不予受理 when a reason is given): the matter must be in the catalog."""
    version = current_version(session, matter_code)
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFound("大厅不存在 / hall not found")
    id_number, phone = _validate_applicant(applicant)
    if ticket_id is not None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or ticket.hall_id != hall_id:
            raise NotFound("号票不存在 / ticket not found")
        if ticket.state not in (TicketState.CALLED, TicketState.SERVING, TicketState.DONE):
            raise InvalidTransition("只能从已叫号的号票登记办件 / the ticket has not been served")
        window_id = window_id or ticket.window_id
    protected_id = protector.protect(id_number)
    protected_phone = protector.protect(phone)
    accepted_on = local_day(now, hall.timezone)
    state = CaseState.NOT_ACCEPTED if not_accepted_reason else CaseState.ACCEPTED
    if not_accepted_reason is not None and not not_accepted_reason.strip():
        raise BadInput("不予受理须写明理由 / a reason is required")
    calendar = calendar_for(session)
    deadline = calendar.add_working_days(accepted_on, version.promised_days)
    public_name = (
        applicant.name.strip()
        if applicant.kind is ApplicantKind.ORGANISATION
        else mask_name(applicant.name.strip())
    )
    case = Case(
        hall_id=hall_id,
        matter_version_id=version.id,
        department_id=version.department_id,
        window_id=window_id,
        ticket_id=ticket_id,
        handler_staff_id=actor.staff_id,
        registered_by_staff_id=actor.staff_id,
        applicant_kind=applicant.kind,
        # A person's full name is personal data: keep only the masked form in clear.
        applicant_name=applicant.name.strip()
        if applicant.kind is ApplicantKind.ORGANISATION
        else protector.seal_text(applicant.name.strip()),
        applicant_name_masked=public_name,
        applicant_id_cipher=protected_id.ciphertext,
        applicant_id_hash=protected_id.lookup_hash,
        applicant_id_masked=protected_id.masked,
        phone_cipher=protected_phone.ciphertext,
        phone_last4=phone[-4:],
        state=state,
        accepted_at=now,
        accepted_on=accepted_on,
        promised_days=version.promised_days,
        due_on=None if state is CaseState.NOT_ACCEPTED else deadline.due,
        due_provisional=deadline.provisional,
        joint=bool(joint_departments),
        decision_reason=(not_accepted_reason or "").strip(),
    )
    # Receipt numbers are random (not guessable by counting); a collision in the
    # 10^8 daily space is rare, so look before use and let the unique constraint
    # catch the remaining race.
    for _attempt in range(10):
        candidate = new_receipt_number(accepted_on)
        taken = session.execute(select(Case.id).where(Case.receipt_number == candidate)).first()
        if taken is None:
            break
    else:  # pragma: no cover - ten collisions in a row
        raise InvalidTransition("无法生成受理号，请重试 / could not allocate a receipt number")
    case.receipt_number = candidate
    case.public_token = new_public_token()
    session.add(case)
    session.flush()
    for code in joint_departments:
        department = session.execute(
            select(Department).where(Department.code == code)
        ).scalar_one_or_none()
        if department is None:
            raise BadInput(f"未知的联办部门 {code} / unknown department", department=code)
        session.add(CaseParticipant(case_id=case.id, department_id=department.id))
    action = "not_accept" if state is CaseState.NOT_ACCEPTED else "accept"
    _event(session, case, action, None, state, actor, case.decision_reason, now)
    eventlog.emit(
        session,
        hall_id,
        "case_registered",
        {"receipt": case.receipt_number, "matter": version.code, "state": state.value},
    )
    record(session, actor.label, f"case.{action}", "case", case.id, {"matter": version.code})
    return case


def get_case(session: Session, *, case_id: int | None = None, receipt: str | None = None) -> Case:
    if case_id is not None:
        case = session.get(Case, case_id)
    else:
        case = session.execute(
            select(Case).where(Case.receipt_number == receipt)
        ).scalar_one_or_none()
    if case is None:
        raise NotFound("办件不存在 / case not found")
    return case


def _lock_case(
    session: Session, case_id: int, actor: Actor | None = None, *, allow_all: bool = False
) -> Case:
    """Lock the case for a change; with an actor, also check it may change this
    department's cases (a joint decision checks its own participant instead)."""
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound("办件不存在 / case not found")
    if actor is not None:
        check_department(case, actor, allow_all=allow_all)
    return case


def _hall_day(session: Session, case: Case, now: datetime) -> date:
    """Suspensions are kept in days of the hall where the case was registered."""
    hall = session.get(Hall, case.hall_id)
    assert hall is not None
    return local_day(now, hall.timezone)


def check_department(case: Case, actor: Actor, *, allow_all: bool) -> None:
    if not allow_all and actor.department_id != case.department_id:
        raise Forbidden("无权处理其他部门的办件 / this case belongs to another department")


def transition(
    session: Session,
    *,
    case_id: int,
    action: str,
    actor: Actor,
    now: datetime,
    note: str = "",
    allow_all_departments: bool = False,
    collected_by: str = "",
) -> Case:
    if action not in TRANSITIONS:
        raise BadInput(f"未知的操作 {action} / unknown action", action=action)
    case = _lock_case(session, case_id, actor, allow_all=allow_all_departments)
    allowed, target = TRANSITIONS[action]
    version = session.get(MatterVersion, case.matter_version_id)
    assert version is not None
    # 即办: a same-day matter can be completed straight from acceptance.
    if action == "complete" and case.state is CaseState.ACCEPTED and case.promised_days == 0:
        allowed = allowed | {CaseState.ACCEPTED}
    if case.suspended_kind and action != "withdraw":
        raise InvalidTransition(
            f"办件处于{case.suspended_kind}暂停计时中，请先恢复 / resume the case first",
            suspended=case.suspended_kind,
        )
    if case.state not in allowed:
        raise InvalidTransition(
            f"办件当前为「{STEP_LABELS[case.state]}」，不能执行该操作 / illegal transition",
            state=case.state.value,
            action=action,
        )
    if action in NEEDS_REASON and not note.strip():
        raise BadInput("该操作须写明理由 / a reason is required")
    if action == "approve" and case.joint:
        pending = [p for p in case.participants if p.decision != "approved"]
        if pending:
            raise InvalidTransition(
                "并联审批尚有部门未同意 / joint departments have not all approved",
                pending=len(pending),
            )
    if action == "deliver":
        if not collected_by.strip():
            raise BadInput("请填写领取人 / who collected the certificate is required")
        case.collected_by = collected_by.strip()[:100]
    previous = case.state
    if action == "withdraw" and case.suspended_kind:
        _close_open_suspension(session, case, _hall_day(session, case, now))
    case.state = target
    if target in (CaseState.COMPLETED, CaseState.DENIED, CaseState.WITHDRAWN):
        case.completed_at = now
    if action in ("deny", "withdraw"):
        case.decision_reason = note.strip()
    _event(session, case, action, previous, target, actor, note.strip(), now)
    eventlog.emit(
        session,
        case.hall_id,
        "case_changed",
        {"receipt": case.receipt_number, "state": target.value},
    )
    record(session, actor.label, f"case.{action}", "case", case.id, {"from": previous.value})
    return case


def suspend(
    session: Session,
    *,
    case_id: int,
    kind: str,
    reason: str,
    actor: Actor,
    now: datetime,
    allow_all_departments: bool = False,
) -> Case:
    try:
        suspension_kind = SuspensionKind(kind)
    except ValueError as error:
        raise BadInput(f"未知的暂停计时类别 {kind} / unknown suspension kind", kind=kind) from error
    case = _lock_case(session, case_id, actor, allow_all=allow_all_departments)
    if case.state not in OPEN_STATES:
        raise InvalidTransition("只有办理中的办件可以暂停计时 / only open cases can be suspended")
    if case.suspended_kind:
        raise InvalidTransition(f"办件已处于{case.suspended_kind}中 / already suspended")
    if not reason.strip():
        raise BadInput("请写明暂停原因（如需补正的材料）/ a reason is required")
    today = _hall_day(session, case, now)
    session.add(
        CaseSuspension(
            case_id=case.id, kind=suspension_kind.value, started_on=today, reason=reason.strip()
        )
    )
    case.suspended_kind = suspension_kind.value
    session.flush()
    _recompute_deadline(session, case)
    _event(
        session,
        case,
        "suspend",
        case.state,
        case.state,
        actor,
        f"{suspension_kind.value}：{reason.strip()}",
        now,
    )
    record(session, actor.label, "case.suspend", "case", case.id, {"kind": suspension_kind.value})
    return case


# A fee is recorded while the case is handled or once it is decided (收费 at the
# 财政（银行）集中收费窗口 comes with the decision or the certificate).
FEE_STATES = OPEN_STATES | {CaseState.COMPLETED, CaseState.DELIVERED}


def record_fee(
    session: Session,
    *,
    case_id: int,
    amount: str,
    actor: Actor,
    now: datetime,
    note: str = "",
    allow_all_departments: bool = False,
) -> Case:
    """收费登记: what the applicant was charged, in yuan. A later record replaces
    the amount (a correction); every record stays in the case's timeline, and
    the supervision scan compares it with the catalog's 收费标准 (收费异常)."""
    try:
        fen = parse_yuan(amount)
    except FeeFormatError as error:
        raise BadInput(str(error), field="amount") from error
    case = _lock_case(session, case_id, actor, allow_all=allow_all_departments)
    if case.state not in FEE_STATES:
        raise InvalidTransition(
            "不予受理、不予许可或撤回的办件不能登记收费 / no fee on a case that was refused"
        )
    previous = case.fee_charged_fen
    case.fee_charged_fen = fen
    text = f"收费 {format_fen(fen)} 元"
    if previous is not None:
        text += f"（更正，原 {format_fen(previous)} 元）"
    _event(
        session, case, "fee", case.state, case.state, actor, f"{text} {note.strip()}".strip(), now
    )
    record(
        session,
        actor.label,
        "case.fee",
        "case",
        case.id,
        {"fen": fen, "previous_fen": previous},
    )
    return case


def _close_open_suspension(session: Session, case: Case, day: date) -> None:
    for suspension in case.suspensions:
        if suspension.ended_on is None:
            suspension.ended_on = max(day, suspension.started_on)


def resume(
    session: Session,
    *,
    case_id: int,
    note: str,
    actor: Actor,
    now: datetime,
    allow_all_departments: bool = False,
) -> Case:
    case = _lock_case(session, case_id, actor, allow_all=allow_all_departments)
    if not case.suspended_kind:
        raise InvalidTransition("办件未处于暂停计时 / the case is not suspended")
    _close_open_suspension(session, case, _hall_day(session, case, now))
    kind = case.suspended_kind
    case.suspended_kind = None
    session.flush()
    _recompute_deadline(session, case)
    _event(
        session, case, "resume", case.state, case.state, actor, f"{kind}结束 {note}".strip(), now
    )
    record(session, actor.label, "case.resume", "case", case.id, {"kind": kind})
    return case


def _recompute_deadline(session: Session, case: Case) -> None:
    calendar = calendar_for(session)
    suspensions = [Suspension(s.started_on, s.ended_on, s.kind) for s in case.suspensions]
    deadline = calendar.deadline_with_suspensions(case.accepted_on, case.promised_days, suspensions)
    case.due_on = deadline.due
    case.due_provisional = deadline.provisional


def recount_after_calendar_change(
    session: Session, case: Case, *, actor: Actor, now: datetime, reason: str
) -> bool:
    """Count an open case's deadline again on the current calendar (an
    administrator changed a holiday or confirmed a year).  When the due date
    moves, the move is a case event with the old and the new date; True then."""
    old_due = case.due_on
    _recompute_deadline(session, case)
    if case.due_on == old_due:
        return False
    old_text = old_due.isoformat() if old_due else "—"
    new_text = case.due_on.isoformat() if case.due_on else "—"
    _event(
        session,
        case,
        DEADLINE_MOVED_ACTION,
        case.state,
        case.state,
        actor,
        f"承诺办结日期由 {old_text} 调整为 {new_text}（{reason}）",
        now,
    )
    return True


def forward(
    session: Session,
    *,
    case_id: int,
    to_department: str,
    to_window: str | None,
    note: str,
    actor: Actor,
    now: datetime,
    allow_all_departments: bool = False,
) -> Case:
    case = _lock_case(session, case_id, actor, allow_all=allow_all_departments)
    if case.state not in OPEN_STATES:
        raise InvalidTransition("只有办理中的办件可以转办 / only open cases can be forwarded")
    department = session.execute(
        select(Department).where(Department.code == to_department)
    ).scalar_one_or_none()
    if department is None:
        raise BadInput(f"未知的部门 {to_department} / unknown department")
    if department.id == case.department_id:
        raise BadInput("不能转办给本部门 / already with this department")
    if to_window is not None:
        window = session.execute(
            select(Window).where(Window.hall_id == case.hall_id, Window.number == to_window)
        ).scalar_one_or_none()
        if window is None:
            raise BadInput(f"窗口 {to_window} 不存在 / unknown window")
        case.window_id = window.id
    previous_department = case.department_id
    case.department_id = department.id
    case.handler_staff_id = None
    _event(
        session,
        case,
        "forward",
        case.state,
        case.state,
        actor,
        f"转办至{department.name} {note}".strip(),
        now,
    )
    record(
        session,
        actor.label,
        "case.forward",
        "case",
        case.id,
        {"from_department": previous_department, "to_department": department.id},
    )
    return case


def joint_decision(
    session: Session,
    *,
    case_id: int,
    department_code: str,
    approve: bool,
    note: str,
    actor: Actor,
    now: datetime,
) -> Case:
    case = _lock_case(session, case_id)
    participant = next(
        (
            p
            for p in case.participants
            if session.get(Department, p.department_id)
            and session.get(Department, p.department_id).code == department_code
        ),  # type: ignore[union-attr]
        None,
    )
    if participant is None:
        raise NotFound("该部门不是本件的联办部门 / not a joint department of this case")
    if actor.department_id != participant.department_id:
        raise Forbidden("只能为本部门签署意见 / sign for your own department only")
    if participant.decision != "pending":
        raise InvalidTransition("本部门已签署意见 / already decided")
    if case.state not in OPEN_STATES:
        raise InvalidTransition("办件已结束 / the case is closed")
    participant.decision = "approved" if approve else "denied"
    participant.decided_at = now
    participant.note = note.strip()
    _event(
        session,
        case,
        "joint_approve" if approve else "joint_deny",
        case.state,
        case.state,
        actor,
        note.strip(),
        now,
    )
    record(session, actor.label, "case.joint_decision", "case", case.id, {"approve": approve})
    return case


def set_disclosure(
    session: Session,
    *,
    case_id: int,
    public: bool,
    actor: Actor,
    now: datetime,
    allow_all_departments: bool = False,
) -> Case:
    case = _lock_case(session, case_id, actor, allow_all=allow_all_departments)
    if case.state not in (CaseState.COMPLETED, CaseState.DELIVERED, CaseState.DENIED):
        raise InvalidTransition("办结后才能设置公示 / only finished cases can be disclosed")
    case.public_disclosure = public
    _event(
        session,
        case,
        "disclose" if public else "undisclose",
        case.state,
        case.state,
        actor,
        "",
        now,
    )
    record(session, actor.label, "case.disclosure", "case", case.id, {"public": public})
    return case


# --------------------------------------------------------------------------- views


def timeline(case: Case) -> list[dict[str, Any]]:
    return [
        {
            "at": event.at.isoformat(),
            "action": event.action,
            "from": event.from_state,
            "to": event.to_state,
            "step": STEP_LABELS.get(CaseState(event.to_state), event.to_state),
            "actor": event.actor_label,
            "note": event.note,
        }
        for event in case.events
    ]


NEXT_STEP_TEXTS = {
    CaseState.ACCEPTED: N_("已受理，等待承办"),
    CaseState.UNDERTAKING: N_("承办中"),
    CaseState.REVIEWING: N_("审核中"),
    CaseState.APPROVED: N_("已批准，等待办结"),
    CaseState.COMPLETED: N_("已办结，请凭受理单到窗口领取结果"),
    CaseState.DELIVERED: N_("已领取"),
    CaseState.NOT_ACCEPTED: N_("不予受理，详见告知书"),
    CaseState.DENIED: N_("不予许可，详见决定书"),
    CaseState.WITHDRAWN: N_("已撤回"),
}


def next_step_text(case: Case) -> tuple[str, dict[str, str]]:
    """What the applicant does or waits for next: a message id and its arguments
    (``kind`` is a label itself), for next_step_hint and the pages to translate."""
    if case.suspended_kind == SuspensionKind.SUPPLEMENT.value:
        open_items = [s for s in case.suspensions if s.ended_on is None]
        detail = open_items[-1].reason if open_items else ""
        if detail:
            return N_("请补正材料：%(items)s"), {"items": detail}
        return N_("请按告知补正材料"), {}
    if case.suspended_kind:
        return N_("%(kind)s中，期间不计入办理时限"), {"kind": case.suspended_kind}
    return NEXT_STEP_TEXTS[case.state], {}


def next_step_hint(case: Case) -> str:
    """next_step_text in Chinese (the API, the kiosk and the hub read this)."""
    message, arguments = next_step_text(case)
    return message % arguments if arguments else message


def public_view(session: Session, case: Case) -> dict[str, Any]:
    """What a kiosk or a phone may show: no name, ID or phone in clear."""
    version = session.get(MatterVersion, case.matter_version_id)
    department = session.get(Department, case.department_id)
    assert version is not None and department is not None
    return {
        "receipt_number": case.receipt_number,
        "matter": {"code": version.code, "name": version.name, "version": version.version},
        "department": department.name,
        "applicant": case.applicant_name_masked,
        "state": case.state.value,
        "step": STEP_LABELS[case.state],
        "suspended": case.suspended_kind,
        "accepted_on": case.accepted_on.isoformat(),
        "due_on": case.due_on.isoformat() if case.due_on else None,
        "due_provisional": case.due_provisional,
        "next_step": next_step_hint(case),
        "timeline": [
            {"at": item["at"], "step": item["step"], "action": item["action"]}
            for item in timeline(case)
        ],
    }


def masked_phone(case: Case, protector: IdentityProtector) -> str:
    """The applicant's phone as staff see it: 138****8000, 022-****1234.

    Its shape (mobile or landline, the area code) is in the sealed number only;
    when that cannot be opened, the last four digits are all there is to show."""
    try:
        return mask_phone(protector.reveal(case.phone_cipher))
    except ValueError:
        return "*" * 7 + case.phone_last4


def staff_view(session: Session, case: Case, protector: IdentityProtector) -> dict[str, Any]:
    view = public_view(session, case)
    view.update(
        {
            "id": case.id,
            "applicant_kind": case.applicant_kind.value,
            "applicant_id": case.applicant_id_masked,
            "phone": masked_phone(case, protector),
            "joint": case.joint,
            "participants": [
                {"department_id": p.department_id, "decision": p.decision}
                for p in case.participants
            ],
            "public_disclosure": case.public_disclosure,
            "decision_reason": case.decision_reason,
            "collected_by": case.collected_by,
            "fee_charged": format_fen(case.fee_charged_fen)
            if case.fee_charged_fen is not None
            else None,
            "timeline": timeline(case),
            "suspensions": [
                {
                    "kind": s.kind,
                    "started_on": s.started_on.isoformat(),
                    "ended_on": s.ended_on.isoformat() if s.ended_on else None,
                    "reason": s.reason,
                }
                for s in case.suspensions
            ],
        }
    )
    return view


def public_lookup(session: Session, *, receipt: str, phone_last4: str) -> Case:
    """Both must match; the same answer for "no such case" and "wrong digits", so
    the lookup does not reveal which receipt numbers exist."""
    receipt = receipt.strip()
    if not is_well_formed_receipt(receipt) or not (phone_last4.isdigit() and len(phone_last4) == 4):
        raise BadInput("受理号或手机号后四位格式不正确 / malformed receipt number or phone digits")
    case = session.execute(select(Case).where(Case.receipt_number == receipt)).scalar_one_or_none()
    if case is None or case.phone_last4 != phone_last4:
        raise NotFound("未找到该办件，请核对受理号和手机号后四位 / no case matches")
    return case


def staff_name(session: Session, staff_id: int | None) -> str:
    staff = session.get(Staff, staff_id) if staff_id else None
    return staff.name if staff else ""
