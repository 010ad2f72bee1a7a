"""Who may do what — one rule for the staff pages and the JSON API.

Resources by role (`permitted`, `require`; the table is `RULES`):

| Resource | Read | Change |
|---|---|---|
| cases (办件) | clerk, department lead, supervisor, administrator | clerk, lead, administrator |
| devices (设备) | supervisor, administrator | administrator |
| administration (大厅、窗口、人员、日历、公告…) | supervisor, administrator | administrator |
| catalog edits (事项目录) | — (reading the catalog is public) | administrator |
| supervision (电子监察), performance (绩效) | supervisor, administrator, lead (own dept.) | — |
| rating follow-up (差评整改) | — | supervisor, administrator, department lead |

Which cases, within that:

- 窗口人员 (clerk): the departments of the window they signed in at (their own
  department when signed in without a window).
- 部门首席代表 (department lead): their own department.
- 电子监察 (supervisor): every case, read-only.
- 系统管理员 (administrator): every case.
- 委托 (delegation): while a delegation is in force, the delegate may read and
  act on the delegator's cases (those the delegator handles), all of them or
  only those of the delegated matters; what a delegate does is recorded as
  "staff:<delegate> on behalf of staff:<delegator>" (`acting_label`).
- A joint-handling department (并联审批) may read a case it must sign off.

A case outside the scope answers 404, exactly like a missing one, so a clerk
learns nothing about other departments' cases (not even that an id exists).
Every refusal (403, and a 404 for a case out of scope) is written to the audit
log by the error handlers of the API and the pages (`backend.api.errors`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from backend.errors import Forbidden, NotFound
from backend.models import (
    Case,
    CaseParticipant,
    Delegation,
    MatterVersion,
    Role,
    Staff,
    WindowDepartment,
)
from backend.services.auth import Principal


class Resource(enum.StrEnum):
    CASES = "cases"
    DEVICES = "devices"
    ADMINISTRATION = "administration"
    CATALOG = "catalog"
    SUPERVISION = "supervision"  # 电子监察: the live hall, alerts, overdue cases
    PERFORMANCE = "performance"  # 绩效: rankings, trends, rating reports
    RATING_FOLLOW_UP = "rating_follow_up"  # 差评整改 and voiding ratings


class Access(enum.StrEnum):
    READ = "read"
    WRITE = "write"


_EVERY_STAFF_ROLE = frozenset(Role)
# Supervisors and administrators for the whole hall, department leads for their own
# department (the views narrow the rows to it).
_OVERSIGHT = frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR, Role.DEPARTMENT_LEAD})
RULES: Final[dict[tuple[Resource, Access], frozenset[Role]]] = {
    (Resource.CASES, Access.READ): _EVERY_STAFF_ROLE,
    (Resource.CASES, Access.WRITE): frozenset(
        {Role.CLERK, Role.DEPARTMENT_LEAD, Role.ADMINISTRATOR}
    ),
    (Resource.DEVICES, Access.READ): frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR}),
    (Resource.DEVICES, Access.WRITE): frozenset({Role.ADMINISTRATOR}),
    (Resource.ADMINISTRATION, Access.READ): frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR}),
    (Resource.ADMINISTRATION, Access.WRITE): frozenset({Role.ADMINISTRATOR}),
    (Resource.CATALOG, Access.WRITE): frozenset({Role.ADMINISTRATOR}),
    (Resource.SUPERVISION, Access.READ): _OVERSIGHT,
    (Resource.PERFORMANCE, Access.READ): _OVERSIGHT,
    (Resource.RATING_FOLLOW_UP, Access.WRITE): _OVERSIGHT,
}


class OutOfScope(NotFound):
    """A case that exists but is not this person's: answered like a missing one,
    and audited as a refusal."""

    refusal = True


def roles_for(resource: Resource, access: Access) -> frozenset[Role]:
    return RULES.get((resource, access), frozenset())


def permitted(principal: Principal | None, resource: Resource, access: Access) -> bool:
    """Staff holding one of the resource's roles; devices and the public never."""
    if principal is None or principal.kind != "staff":
        return False
    return principal.has_role(*roles_for(resource, access))


def require(principal: Principal | None, resource: Resource, access: Access) -> None:
    if not permitted(principal, resource, access):
        raise Forbidden(
            "没有执行该操作的权限 / your role does not allow this",
            resource=resource.value,
            access=access.value,
        )


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
    if case is None:
        raise NotFound("办件不存在 / case not found")
    if not can_read(session, scope, case):
        raise OutOfScope("办件不存在 / case not found")
    if write and not can_act_on(session, scope, case):
        if scope.read_only:
            raise Forbidden("监察人员只读 / supervisors have read-only access")
        raise Forbidden("您只能查看该办件 / you may only view this case")
    return case, scope


def acting_for(session: Session, scope: CaseScope, case: Case) -> Delegation | None:
    """The delegation this person acts on the case under; None when the case is
    within their own scope."""
    if scope.all_departments or case.department_id in scope.departments:
        return None
    code = _matter_code(session, case)
    return next(
        (
            d
            for d in scope.delegations
            if case.handler_staff_id == d.delegator_staff_id and d.covers_matter(code)
        ),
        None,
    )


def acting_label(session: Session, principal: Principal, scope: CaseScope, case: Case) -> str:
    """Who to record for an action on the case: the person, and for a delegate
    also whom they act for ("staff:BH0102 on behalf of staff:BH0101")."""
    delegation = acting_for(session, scope, case)
    if delegation is None:
        return principal.label
    delegator = session.get(Staff, delegation.delegator_staff_id)
    on_behalf = f"staff:{delegator.employee_no}" if delegator else "staff:?"
    return f"{principal.label} on behalf of {on_behalf}"[:100]
