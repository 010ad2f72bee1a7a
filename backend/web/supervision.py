"""电子监察 pages (plan 3.1.1.1-3.1.1.2): the live hall view, the alert board
with acknowledgement, overdue cases, process-check findings and a case's alert
history. The rules and the data are backend.services.supervision's; this module
only reads, filters and shows them.

Who: supervisors (监察, read-only — acknowledging an alert is their one
action), administrators, and department leads (their own department only).
A case's alert history is open to whoever may read the case.

Live updates: the hall view refreshes on the queue's events; the alert board,
the findings and the navigation badge refresh on ``supervision_alert`` hall
events, which backend.services.supervision emits itself whenever alerts are
raised, cleared or acknowledged -- also when the scan runs in another process
(``hall supervision-scan --loop``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from backend.errors import BadInput
from backend.models import Case, Department, Hall, MatterVersion, Role, Staff
from backend.models.supervision import Alert, AlertDelivery, AlertKind
from backend.services import access
from backend.services import supervision as supervision_service
from backend.services.access import Access, Resource, roles_for
from backend.services.auth import Principal
from backend.web.auth import current_staff, staff_required
from backend.web.layout import add_nav, page_errors, wants_fragment
from backend.web.live import QUEUE_EVENTS, live_cursor

blueprint = Blueprint("supervision_pages", __name__, url_prefix="/supervision")


@blueprint.app_template_filter("alert_text")
def alert_text(alert: Alert) -> str:
    """An alert's text in the page's language."""
    return supervision_service.alert_message(alert, _)


page_errors(blueprint, fallback_endpoint="supervision_pages.alerts")

VIEW_ROLES = tuple(sorted(roles_for(Resource.SUPERVISION, Access.READ)))  # the API's rule
# Raised, cleared and acknowledged alerts are announced by the service itself.
ALERT_EVENT = supervision_service.ALERT_EVENT
HALL_EVENTS = QUEUE_EVENTS
# CSS class per kind: 预警 yellow-orange, 黄牌 yellow, 红牌 red (3.1.1.2).
KIND_CLASSES = {
    AlertKind.REMINDER.value: "kind-reminder",
    AlertKind.WARNING.value: "kind-warning",
    AlertKind.YELLOW.value: "kind-yellow",
    AlertKind.RED.value: "kind-red",
    AlertKind.PROCESS.value: "kind-process",
    AlertKind.ABNORMAL_END.value: "kind-abnormal",
    AlertKind.DEADLINE_MOVED.value: "kind-reminder",
    AlertKind.FEE.value: "kind-fee",
    AlertKind.DURATION.value: "kind-duration",
}
KIND_LABELS = {
    AlertKind.REMINDER.value: _l("提醒"),
    AlertKind.WARNING.value: _l("预警"),
    AlertKind.YELLOW.value: _l("黄牌"),
    AlertKind.RED.value: _l("红牌"),
    AlertKind.PROCESS.value: _l("流程异常"),
    AlertKind.ABNORMAL_END.value: _l("异常办结"),
    AlertKind.DEADLINE_MOVED.value: _l("期限变更"),
    AlertKind.FEE.value: _l("收费异常"),
    AlertKind.DURATION.value: _l("时长异常"),
}
STATES = {
    "active": _l("未解除"),
    "open": _l("待签收"),
    "acknowledged": _l("已签收"),
    "cleared": _l("已解除"),
    "all": _l("全部"),
}
CLEAR_REASONS = {
    "escalated": _l("已升级为黄牌"),
    "deadline_passed": _l("已过期限"),
    "condition_ended": _l("条件已消除"),
    "suspended": _l("暂停计时"),
    "supplement_ended": _l("已补正"),
    "superseded": _l("已被新的期限变更取代"),
}
RULE_LABELS = {
    "no_acceptance": _l("未经受理"),
    "out_of_order": _l("环节顺序不符"),
    "skipped": _l("跳过环节"),
    "illegal_transition": _l("不允许的变更"),
    "time_reversed": _l("时间倒置"),
    "supplement_not_returned": _l("补交不来"),
    "withdraw": _l("撤回"),
    "not_accept": _l("不予受理"),
    "deny": _l("不予许可"),
    "void": _l("作废"),
    "delete": _l("删除"),
    "fee_for_free_matter": _l("不收费事项收费"),
    "fee_not_in_standard": _l("与收费标准不符"),
    "too_fast": _l("办理异常快"),
    "too_slow": _l("办理异常慢"),
}
# Whom an alert went to (AlertDelivery.recipient_role).
RECIPIENT_ROLE_LABELS = {
    "handler": _l("承办人"),
    "department_lead": _l("部门首席代表"),
    "supervisor": _l("电子监察"),
    "discipline": _l("纪检监察"),
}
FINDING_KINDS = (
    AlertKind.PROCESS.value,
    AlertKind.ABNORMAL_END.value,
    AlertKind.FEE.value,
    AlertKind.DURATION.value,
)
PAGE_SIZE = 200


def _ext() -> Any:
    return current_app.extensions["hallkit"]


def _now() -> datetime:
    now: datetime = _ext().clock()
    return now


# ------------------------------------------------------------ navigation badge


def open_alert_count(session: Session, principal: Principal) -> int:
    """Alerts nobody has acknowledged yet, as far as this viewer may see."""
    statement = (
        select(func.count())
        .select_from(Alert)
        .where(Alert.cleared_at.is_(None), Alert.acknowledged_at.is_(None))
    )
    condition = _department_condition(principal, Alert.department_id)
    if condition is not None:
        statement = statement.where(condition)
    return int(session.execute(statement).scalar_one())


class AlertsNavLabel:
    """The navigation entry with a badge of unacknowledged alerts.

    Rendered by the shared layout as ``{{ item.label }}``; ``__html__`` adds the
    badge, which is itself a live part (live.js refreshes it on every page when
    an alert event arrives), so no page template has to know about it.
    """

    def __init__(self, label: Any) -> None:
        self.label = label

    def __str__(self) -> str:
        return str(self.label)

    def __html__(self) -> str:
        badge = ""
        if current_user.is_authenticated and current_user.principal.has_role(*VIEW_ROLES):
            cursor = live_cursor()  # before the count: see live_cursor
            with _ext().db.reading() as session:
                count = open_alert_count(session, current_user.principal)
            title = escape(_("待签收预警"))
            badge = (
                f' <span class="nav-badge" id="alert-badge" title="{title}"'
                f' data-live-refresh="{url_for("supervision_pages.badge")}"'
                f' data-live-kinds="{ALERT_EVENT}" data-live-after="{cursor}">'
                f"{_badge_html(count)}</span>"
            )
        return str(escape(str(self.label))) + badge


def _badge_html(count: int) -> Markup:
    if not count:
        return Markup("")
    shown = "99+" if count > 99 else str(count)
    return Markup('<b data-alert-count="{}">{}</b>').format(count, shown)


add_nav("supervision_pages.index", AlertsNavLabel(_l("电子监察")), roles=VIEW_ROLES, order=40)


@blueprint.get("/badge")
@staff_required(*VIEW_ROLES)
def badge() -> Any:
    with _ext().db.reading() as session:
        return str(_badge_html(open_alert_count(session, current_staff().principal)))


# ------------------------------------------------------------------ scoping


def _department_condition(principal: Principal, column: Any) -> ColumnElement[bool] | None:
    """None for supervisors and administrators (everything); a lead's department."""
    if principal.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        return None
    if principal.has_role(Role.DEPARTMENT_LEAD) and principal.department_id is not None:
        return column == principal.department_id  # type: ignore[no-any-return]
    return false()  # a clerk (not offered these pages) sees nothing


def _departments(session: Session, principal: Principal) -> list[tuple[int, str]]:
    statement = select(Department.id, Department.name).order_by(Department.id)
    condition = _department_condition(principal, Department.id)
    if condition is not None:
        statement = statement.where(condition)
    return [(row[0], row[1]) for row in session.execute(statement)]


# ------------------------------------------------------------------ live hall


def _hall_code(session: Session) -> str:
    user = current_staff()
    if user.hall_code:
        return user.hall_code
    if user.principal.hall_id is None:
        abort(404)
    return str(
        session.execute(select(Hall.code).where(Hall.id == user.principal.hall_id)).scalar_one()
    )


def _hall_context() -> dict[str, Any]:
    live_cursor()  # before the data: see live_cursor
    with _ext().db.reading() as session:
        snapshot = supervision_service.hall_snapshot(session, _hall_code(session), _now())
    return {"hall": snapshot, "hall_events": ",".join(HALL_EVENTS)}


@blueprint.get("")
@staff_required(*VIEW_ROLES)
def index() -> Any:
    """实时监察: windows open/paused, who is serving whom, waiting per category."""
    return render_template("supervision/hall.html", **_hall_context())


@blueprint.get("/hall/panel")
@staff_required(*VIEW_ROLES)
def hall_panel() -> Any:
    return render_template("supervision/_hall_panel.html", **_hall_context())


# ------------------------------------------------------------------ alerts


@dataclass(frozen=True)
class AlertFilter:
    kind: str = ""
    state: str = "active"
    department_id: int | None = None

    @classmethod
    def from_request(cls, default_state: str = "active") -> AlertFilter:
        kind = request.args.get("kind", "")
        state = request.args.get("state", default_state) or default_state
        department = request.args.get("department", "")
        if kind and kind not in KIND_LABELS:
            raise BadInput(_("未知的预警类别"))
        if state not in STATES:
            raise BadInput(_("未知的状态"))
        if department and not department.isdigit():
            raise BadInput(_("部门不正确"))
        return cls(kind, state, int(department) if department else None)

    def args(self, **overrides: Any) -> dict[str, Any]:
        values = {
            "kind": self.kind or None,
            "state": self.state,
            "department": self.department_id,
            **overrides,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}


@dataclass
class AlertRow:
    alert: Alert
    receipt_number: str
    matter: str
    department: str
    handler: str | None
    acknowledged_by: str | None

    @property
    def state(self) -> str:
        return supervision_service.alert_state(self.alert)


def alert_rows(
    session: Session,
    principal: Principal,
    selected: AlertFilter,
    *,
    kinds: tuple[str, ...] = (),
    case_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[AlertRow]:
    handler = aliased(Staff)
    acknowledger = aliased(Staff)
    statement = (
        select(
            Alert,
            Case.receipt_number,
            MatterVersion.name,
            Department.name,
            handler.name,
            acknowledger.name,
        )
        .join(Case, Case.id == Alert.case_id)
        .join(MatterVersion, MatterVersion.id == Case.matter_version_id)
        .join(Department, Department.id == Case.department_id)
        .outerjoin(handler, handler.id == Alert.handler_staff_id)
        .outerjoin(acknowledger, acknowledger.id == Alert.acknowledged_by_staff_id)
    )
    if selected.state == "active":
        statement = statement.where(Alert.cleared_at.is_(None))
    elif selected.state == "open":
        statement = statement.where(Alert.cleared_at.is_(None), Alert.acknowledged_at.is_(None))
    elif selected.state == "acknowledged":
        statement = statement.where(Alert.cleared_at.is_(None), Alert.acknowledged_at.is_not(None))
    elif selected.state == "cleared":
        statement = statement.where(Alert.cleared_at.is_not(None))
    if selected.kind:
        statement = statement.where(Alert.kind == selected.kind)
    elif kinds:
        statement = statement.where(Alert.kind.in_(kinds))
    if selected.department_id is not None:
        statement = statement.where(Case.department_id == selected.department_id)
    if case_id is not None:
        statement = statement.where(Alert.case_id == case_id)
    else:
        condition = _department_condition(principal, Case.department_id)
        if condition is not None:
            statement = statement.where(condition)
    statement = statement.order_by(Alert.level.desc(), Alert.created_at.desc(), Alert.id.desc())
    return [
        AlertRow(alert, receipt, matter or "", department, handler_name, ack_name)
        for alert, receipt, matter, department, handler_name, ack_name in session.execute(
            statement.limit(limit)
        )
    ]


def _kind_counts(session: Session, principal: Principal) -> dict[str, int]:
    statement = (
        select(Alert.kind, func.count()).where(Alert.cleared_at.is_(None)).group_by(Alert.kind)
    )
    condition = _department_condition(principal, Alert.department_id)
    if condition is not None:
        statement = statement.where(condition)
    return {kind: int(count) for kind, count in session.execute(statement)}


def _alert_context(template_kinds: tuple[str, ...], default_state: str) -> dict[str, Any]:
    user = current_staff()
    selected = AlertFilter.from_request(default_state)
    live_cursor()  # before the data: see live_cursor
    with _ext().db.reading() as session:
        rows = alert_rows(session, user.principal, selected, kinds=template_kinds)
        counts = _kind_counts(session, user.principal)
        departments = _departments(session, user.principal)
    return {
        "rows": rows,
        "counts": counts,
        "departments": departments,
        "selected": selected,
        "kinds": {
            k: v for k, v in KIND_LABELS.items() if not template_kinds or k in template_kinds
        },
        "states": STATES,
        "kind_classes": KIND_CLASSES,
        "kind_labels": KIND_LABELS,
        "clear_reasons": CLEAR_REASONS,
        "rule_labels": RULE_LABELS,
        "alert_event": ALERT_EVENT,
        "page_size": PAGE_SIZE,
        "duration_min_sample": supervision_service.DEFAULT_POLICY.duration_min_sample,
    }


@blueprint.get("/alerts")
@staff_required(*VIEW_ROLES)
def alerts() -> Any:
    """The alert board: filters by kind, state and department; 签收 with a note."""
    context = _alert_context((), "active")
    if wants_fragment():
        return render_template("supervision/_alert_table.html", **context)
    return render_template("supervision/alerts.html", **context)


@blueprint.get("/findings")
@staff_required(*VIEW_ROLES)
def findings() -> Any:
    """过程/逻辑/异常监察: skipped steps, out-of-order events, abnormal endings."""
    context = _alert_context(FINDING_KINDS, "active")
    if wants_fragment():
        return render_template("supervision/_findings_table.html", **context)
    return render_template("supervision/findings.html", **context)


@blueprint.post("/alerts/<int:alert_id>/acknowledge")
@staff_required(*VIEW_ROLES)
def acknowledge(alert_id: int) -> Any:
    user = current_staff()
    note = request.form.get("note", "").strip()
    if len(note) > 500:
        raise BadInput(_("签收意见不超过500字"))
    with _ext().db.writing() as session:
        alert = supervision_service.acknowledge(session, alert_id, user.principal, _now(), note)
        kind = alert.kind
    flash(_("已签收：%(kind)s", kind=KIND_LABELS.get(kind, kind)), "success")
    back = request.form.get("back", "")
    if back.startswith("/supervision/") and not back.startswith("//"):
        return redirect(back)
    return redirect(url_for("supervision_pages.alerts"))


# ------------------------------------------------------------------ overdue


@blueprint.get("/overdue")
@staff_required(*VIEW_ROLES)
def overdue() -> Any:
    """Open cases at least one working day past the promised date, worst first."""
    user = current_staff()
    with _ext().db.reading() as session:
        data = supervision_service.overdue_cases(session, user.principal, _now(), limit=500)
        case_ids = [item["case_id"] for item in data["items"]]
        cards: dict[int, str] = {}
        for chunk_start in range(0, len(case_ids), 500):
            chunk = case_ids[chunk_start : chunk_start + 500]
            for case_id, kind, _level in session.execute(
                select(Alert.case_id, Alert.kind, Alert.level)
                .where(
                    Alert.case_id.in_(chunk),
                    Alert.cleared_at.is_(None),
                    Alert.kind.in_([AlertKind.YELLOW.value, AlertKind.RED.value]),
                )
                .order_by(Alert.level)
            ):
                cards[case_id] = kind  # ordered by level: the worst card wins
        handlers = {
            row[0]: row[1]
            for row in session.execute(
                select(Staff.id, Staff.name).where(
                    Staff.id.in_({i["handler_staff_id"] for i in data["items"]} - {None})
                )
            )
        }
    return render_template(
        "supervision/overdue.html",
        today=data["today"],
        items=data["items"],
        cards=cards,
        handlers=handlers,
        kind_classes=KIND_CLASSES,
        kind_labels=KIND_LABELS,
        alert_event=ALERT_EVENT,
    )


# ------------------------------------------------------------------ one case


@blueprint.get("/cases/<int:case_id>/alerts")
@staff_required()
def case_alerts(case_id: int) -> Any:
    """A case's alert history with every delivery: whoever may read the case."""
    user = current_staff()
    with _ext().db.reading() as session:
        case, _scope = access.load_case(session, user.principal, case_id, _now())
        rows = alert_rows(session, user.principal, AlertFilter(state="all"), case_id=case.id)
        deliveries: dict[int, list[AlertDelivery]] = {}
        if rows:
            for delivery in session.execute(
                select(AlertDelivery)
                .where(AlertDelivery.alert_id.in_([row.alert.id for row in rows]))
                .order_by(AlertDelivery.id)
            ).scalars():
                deliveries.setdefault(delivery.alert_id, []).append(delivery)
        matter = session.get(MatterVersion, case.matter_version_id)
    return render_template(
        "supervision/case_alerts.html",
        case=case,
        matter=matter,
        rows=sorted(rows, key=lambda row: (row.alert.created_at, row.alert.id)),
        deliveries=deliveries,
        kind_classes=KIND_CLASSES,
        kind_labels=KIND_LABELS,
        clear_reasons=CLEAR_REASONS,
        recipient_roles=RECIPIENT_ROLE_LABELS,
        states=STATES,
        can_acknowledge=user.principal.has_role(*VIEW_ROLES),
    )
