"""Who may see and change which cases, for the pages.

- 窗口人员 (clerk): the departments of the window they signed in at (their own
  department when signed in without a window).
- 部门首席代表 (department lead): their own department.
- 电子监察 (supervisor): every case, read-only.
- 系统管理员 (administrator): every case.
- 委托 (delegation): while a delegation is in force, the delegate may read and
  act on the delegator's cases (those the delegator handles), all of them or
  only those of the delegated matters.
- A joint-handling department (并联审批) may read a case it must sign off.

A case outside the scope answers 404, exactly like a missing one, so a clerk
learns nothing about other departments' cases (not even that an id exists).
The JSON API applies the same department rule (backend/api/v1/common.py);
it does not yet know delegations — see docs/web.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from backend.errors import Forbidden, NotFound
from backend.models import (
    Case,
    CaseParticipant,
    Delegation,
    MatterVersion,
    Role,
    WindowDepartment,
)
from backend.services.auth import Principal


@dataclass(frozen=True)
class CaseScope:
    all_departments: bool
    departments: frozenset[int]
    delegations: tuple[Delegation, ...]
    read_only: bool

    def department_filter(self) -> ColumnElement[bool]:
        if self.all_departments:
            return true()
        if not self.departments:
            return false()
        return Case.department_id.in_(self.departments)

    def delegation_filter(self) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = []
        for delegation in self.delegations:
            handler = Case.handler_staff_id == delegation.delegator_staff_id
            if delegation.scope == "all":
                clauses.append(handler)
            elif delegation.matter_codes:
                clauses.append(
                    and_(
                        handler,
                        Case.matter_version_id.in_(
                            select(MatterVersion.id).where(
                                MatterVersion.code.in_(delegation.matter_codes)
                            )
                        ),
                    )
                )
        return or_(false(), *clauses)

    def case_filter(self) -> ColumnElement[bool]:
        """Cases this person may act on (reading adds joint-handling cases)."""
        return or_(self.department_filter(), self.delegation_filter())


def delegations_in_force(
    session: Session, delegate_staff_id: int, now: datetime
) -> list[Delegation]:
    return list(
        session.execute(
            select(Delegation).where(
                Delegation.delegate_staff_id == delegate_staff_id,
                Delegation.revoked_at.is_(None),
                Delegation.starts_at <= now,
                Delegation.ends_at > now,
            )
        ).scalars()
    )


def case_scope(session: Session, principal: Principal, now: datetime) -> CaseScope:
    read_only = principal.has_role(Role.SUPERVISOR) and not principal.has_role(
        Role.ADMINISTRATOR, Role.CLERK, Role.DEPARTMENT_LEAD
    )
    if principal.has_role(Role.ADMINISTRATOR, Role.SUPERVISOR):
        return CaseScope(True, frozenset(), (), read_only)
    departments: set[int] = set()
    if principal.has_role(Role.CLERK) and principal.window_id is not None:
        departments |= set(
            session.execute(
                select(WindowDepartment.department_id).where(
                    WindowDepartment.window_id == principal.window_id
                )
            ).scalars()
        )
    elif principal.department_id is not None:
        departments.add(principal.department_id)
    if principal.has_role(Role.DEPARTMENT_LEAD) and principal.department_id is not None:
        departments.add(principal.department_id)
    delegations = (
        tuple(delegations_in_force(session, principal.staff_id, now))
        if principal.staff_id is not None
        else ()
    )
    return CaseScope(False, frozenset(departments), delegations, read_only)


def _matter_code(session: Session, case: Case) -> str:
    version = session.get(MatterVersion, case.matter_version_id)
    return version.code if version else ""


def can_act_on(session: Session, scope: CaseScope, case: Case) -> bool:
    if scope.read_only:
        return False
    if scope.all_departments or case.department_id in scope.departments:
        return True
    code = _matter_code(session, case)
    return any(
        case.handler_staff_id == d.delegator_staff_id and d.covers_matter(code)
        for d in scope.delegations
    )


def can_read(session: Session, scope: CaseScope, case: Case) -> bool:
    if scope.all_departments or case.department_id in scope.departments:
        return True
    code = _matter_code(session, case)
    if any(
        case.handler_staff_id == d.delegator_staff_id and d.covers_matter(code)
        for d in scope.delegations
    ):
        return True
    joint = session.execute(
        select(CaseParticipant.id).where(
            CaseParticipant.case_id == case.id,
            CaseParticipant.department_id.in_(scope.departments or {-1}),
        )
    ).first()
    return joint is not None


def load_case(
    session: Session, principal: Principal, case_id: int, now: datetime, *, write: bool = False
) -> tuple[Case, CaseScope]:
    scope = case_scope(session, principal, now)
    case = session.get(Case, case_id)
    if case is None or not can_read(session, scope, case):
        raise NotFound("办件不存在 / case not found")
    if write and not can_act_on(session, scope, case):
        if scope.read_only:
            raise Forbidden("监察人员只读 / supervisors have read-only access")
        raise Forbidden("您只能查看该办件 / you may only view this case")
    return case, scope
