"""电子监察 (plan chapter 3.1.1): the live hall view, time-limit monitoring with
预警 / 黄牌 / 红牌, process and abnormal-ending checks, the 24-hour reminder,
and the delivery of alerts through pluggable channels.

The rules, exactly (all days are hall-local dates; "working day" is the
WorkCalendar of backend.workdays; ``remaining`` is
``calendar.remaining_working_days(case.due_on, today)``, i.e. working days in
``(today, due_on]``, negative after it):

* 提醒 (2.2.1.3 "系统提前 24 小时告知到期提醒"): an open case whose deadline
  instant (``due_on`` at the office closing time, 17:00 by default) is at most
  24 hours away and not yet passed. Cleared when the instant passes.
* 预警 (3.1.1.2 "承诺期限最后一个工作日仍未办结"): an open case with
  ``remaining == 0`` -- the due day itself and any non-working days right after
  it. To the handler.
* 黄牌 (3.1.1.2 "超过承诺期限一个工作日"): an open case with ``remaining <= -1``.
  To the handler and the department lead(s). The 预警 is then cleared as
  ``escalated``.
* 红牌 (3.1.1.2 "出示黄牌警告信息后，仍未在规定期限内改正或办结"): a 黄牌 still
  open after ``red_card_after_working_days`` (default 2) working days counted
  from the day after the card was raised -- i.e. on the first working day
  ``d`` with ``working_days_between(yellow.raised_on, d) > N``. To the handler,
  the department lead(s) and every active discipline contact.
* Time alerts clear when the case leaves the open states (办结, 不予许可,
  撤回 ...) or when their condition ends (a suspension stopped the clock, the
  due date moved). A suspension never moves a date that has already passed
  (backend.workdays), so a 补正 cannot wash out a 黄牌.
* 流程异常 (3.1.1.1 过程监察 / 逻辑监察): every new CaseEvent is compared with
  the step machine of backend.services.cases (TRANSITIONS): the first event
  must be 受理/不予受理; each event must start from the state the previous one
  ended in; a state change must be an allowed transition (a skipped step such
  as 承办 -> 批准 without 审核 names the skipped steps); an event may not be
  dated before its predecessor.
* 异常办结 (3.1.1.1 异常监察, 3.1.1.2 重点监控): events 撤回 (withdraw),
  不予受理 (not_accept), 不予许可 (deny), 作废 (void), 删除 (delete); and a
  补正 suspension still open after ``supplement_overdue_working_days``
  (default 20) working days (补交不来). The latter clears when the materials
  arrive or the case closes; the others are findings for review and stay until
  acknowledged.
* 收费异常 (3.1.1.2 违规收费): a new 收费登记 (``fee`` event) whose amount the
  matter's 收费标准 does not allow (backend.catalog.fees: nothing for a free
  matter; sums of the amounts the standard names).
* 时长异常 (3.1.1.1 异常监察): a new decision (办结, 不予许可) whose time from
  受理 lies outside Tukey's far-out fences of the matter's own decided cases
  on the log scale (at least ``duration_min_sample`` of them, no clock stops;
  see ``duration_fences``).

Idempotency: an alert is identified by (case, kind, condition); the scan never
inserts a second uncleared alert for the same triple (a partial unique index
backs this up) and the event checks read each event once through a cursor
(with a short overlap for transactions that commit out of id order).
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from backend.catalog.fees import fee_standard, format_fen
from backend.db import Database
from backend.errors import Forbidden, NotFound
from backend.models import (
    Case,
    CaseEvent,
    CaseState,
    CaseSuspension,
    Department,
    Hall,
    MatterVersion,
    QueueCategory,
    Role,
    Staff,
    Ticket,
    TicketState,
    Window,
    WindowState,
)
from backend.models.supervision import (
    ALERT_LEVELS,
    Alert,
    AlertDelivery,
    AlertKind,
    DeliveryStatus,
    DisciplineContact,
    ScanCursor,
    StaffContact,
)
from backend.services import eventlog, notify, ratings, report_schedule, rollup
from backend.services.auth import Principal
from backend.services.calendar import calendar_for
from backend.services.cases import OPEN_STATES, STEP_LABELS, TRANSITIONS
from backend.texts import N_
from backend.workdays import SuspensionKind, WorkCalendar
from hallbus.localtime import DEFAULT_TIMEZONE, hall_zone

log = logging.getLogger(__name__)

TIME_KINDS = (AlertKind.REMINDER, AlertKind.WARNING, AlertKind.YELLOW, AlertKind.RED)
# Findings raised from new case events, never raised twice for one condition.
EVENT_FINDING_KINDS = (
    AlertKind.PROCESS,
    AlertKind.ABNORMAL_END,
    AlertKind.FEE,
    AlertKind.DURATION,
)
# The decisions that end a case's handling (its duration is measured to them).
DECISION_ACTIONS = ("complete", "deny")
DECIDED_STATES = (CaseState.COMPLETED, CaseState.DELIVERED, CaseState.DENIED)
OPEN_STATE_VALUES = tuple(state.value for state in OPEN_STATES)
EVENT_CURSOR = "case_events"


@dataclass(frozen=True)
class SupervisionPolicy:
    """The configurable numbers of the rules in the module docstring."""

    # 3.1.1.2 "规定期限": working days a yellow card has before it turns red.
    red_card_after_working_days: int = 2
    # 3.1.1.1 异常监察 "补交不来": working days a 补正 may stay open.
    supplement_overdue_working_days: int = 20
    # 2.2.1.3 "提前 24 小时".
    reminder_hours_before: int = 24
    # The deadline instant is this time on the due day (the hall closes at 17:00).
    office_closes_at: time = time(17, 0)
    timezone: str = DEFAULT_TIMEZONE
    abnormal_end_actions: Mapping[str, str] = field(
        default_factory=lambda: {
            "withdraw": "撤回",
            "not_accept": "不予受理",
            "deny": "不予许可",
            "void": "作废",
            "delete": "删除",
        }
    )
    # Events are re-read this far back so that a transaction committing after a
    # later id was already scanned is still checked.
    event_overlap: timedelta = timedelta(minutes=10)
    # The first scan of a database checks events this many days back, not all history.
    first_scan_lookback_days: int = 30
    # Which channels each kind goes out on (3.1.1.2: 预警 by SMS; cards by mail and SMS).
    channels: Mapping[AlertKind, tuple[str, ...]] = field(
        default_factory=lambda: {
            AlertKind.REMINDER: (notify.IN_PAGE, notify.SMS),
            AlertKind.WARNING: (notify.IN_PAGE, notify.SMS),
            AlertKind.YELLOW: (notify.IN_PAGE, notify.SMS, notify.EMAIL),
            AlertKind.RED: (notify.IN_PAGE, notify.SMS, notify.EMAIL),
            AlertKind.PROCESS: (notify.IN_PAGE,),
            AlertKind.ABNORMAL_END: (notify.IN_PAGE,),
            AlertKind.DEADLINE_MOVED: (notify.IN_PAGE, notify.SMS),
            AlertKind.FEE: (notify.IN_PAGE,),
            AlertKind.DURATION: (notify.IN_PAGE,),
        }
    )
    # 时长异常: a decided case is compared with the matter's own decided cases
    # of the last ``duration_lookback_days`` (without clock stops), once the
    # matter has at least ``duration_min_sample`` of them. Outside Tukey's
    # far-out fences on the log of the duration, Q1 − k·IQR … Q3 + k·IQR with
    # k = ``duration_fence_iqr``, and at least ``duration_min_factor`` times
    # beyond Q1 / Q3 (docs/supervision.md "时长异常").
    duration_min_sample: int = 20
    duration_lookback_days: int = 365
    duration_fence_iqr: float = 3.0
    duration_min_factor: float = 2.0
    max_delivery_attempts: int = 5
    claim_timeout: timedelta = timedelta(minutes=10)


DEFAULT_POLICY = SupervisionPolicy()


# --------------------------------------------------------------------------- helpers


def local_today(now: datetime, policy: SupervisionPolicy) -> date:
    return now.astimezone(hall_zone(policy.timezone)).date()


def deadline_instant(due_on: date, policy: SupervisionPolicy) -> datetime:
    return datetime.combine(due_on, policy.office_closes_at, tzinfo=hall_zone(policy.timezone))


@dataclass
class _Recipient:
    role: str  # handler / department_lead / discipline / supervisor
    name: str
    staff_id: int | None = None
    contact_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "staff_id": self.staff_id,
            "contact_id": self.contact_id,
        }


class _Directory:
    """Staff, leads, supervisors and discipline contacts, loaded once per scan."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._staff: dict[int, Staff] | None = None
        self._discipline: list[DisciplineContact] | None = None

    def staff(self) -> dict[int, Staff]:
        if self._staff is None:
            self._staff = {
                s.id: s for s in self._session.execute(select(Staff).where(Staff.active)).scalars()
            }
        return self._staff

    def leads(self, department_id: int) -> list[Staff]:
        return [
            s
            for s in self.staff().values()
            if s.department_id == department_id and s.has_role(Role.DEPARTMENT_LEAD)
        ]

    def supervisors(self) -> list[Staff]:
        return [s for s in self.staff().values() if s.has_role(Role.SUPERVISOR)]

    def discipline(self) -> list[DisciplineContact]:
        if self._discipline is None:
            self._discipline = list(
                self._session.execute(
                    select(DisciplineContact)
                    .where(DisciplineContact.active)
                    .order_by(DisciplineContact.id)
                ).scalars()
            )
        return self._discipline

    def recipients(self, kind: AlertKind, case: Case) -> list[_Recipient]:
        """Who is told, per 3.1.1.2; without a handler the department lead stands in."""
        people: list[_Recipient] = []
        handler = self.staff().get(case.handler_staff_id) if case.handler_staff_id else None
        leads = [
            _Recipient("department_lead", s.name, s.id) for s in self.leads(case.department_id)
        ]
        if kind in TIME_KINDS or kind is AlertKind.DEADLINE_MOVED:
            if handler is not None:
                people.append(_Recipient("handler", handler.name, handler.id))
            if kind in (AlertKind.YELLOW, AlertKind.RED) or handler is None:
                people.extend(leads)
            if kind is AlertKind.RED:
                people.extend(
                    _Recipient("discipline", c.name, c.staff_id, c.id) for c in self.discipline()
                )
        else:
            # Findings for review (3.1.1.1): the supervision room and the department.
            people.extend(_Recipient("supervisor", s.name, s.id) for s in self.supervisors())
            people.extend(leads)
        unique: dict[tuple[int | None, int | None], _Recipient] = {}
        for person in people:
            unique.setdefault((person.staff_id, person.contact_id), person)
        return list(unique.values())


@dataclass
class ScanReport:
    raised: Counter[str] = field(default_factory=Counter)
    cleared: Counter[str] = field(default_factory=Counter)
    cases_checked: int = 0
    events_checked: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "raised": dict(self.raised),
            "cleared": dict(self.cleared),
            "cases_checked": self.cases_checked,
            "events_checked": self.events_checked,
        }


ALERT_EVENT = "supervision_alert"


def announce(session: Session, hall_id: int, change: str, alert_id: int) -> None:
    """Queue one ``supervision_alert`` hall event per hall and transaction, so the
    alert pages refresh live whichever process changed the alerts (the web
    server, ``hall supervision-scan`` in its own process, the API).

    A scan may raise thousands of alerts at once; pages only need to know that
    something changed, so the counts are accumulated in the one queued payload
    (eventlog writes it when the transaction commits). The payload holds
    counts and an alert id, no names or case details: hall events are read by
    every page of the hall.
    """
    pending = session.info.get(eventlog.PENDING_KEY) or []
    for pending_hall, kind, payload in pending:
        if pending_hall == hall_id and kind == ALERT_EVENT:
            payload[change] = payload.get(change, 0) + 1
            payload["alert_id"] = alert_id
            return
    eventlog.emit(session, hall_id, ALERT_EVENT, {change: 1, "alert_id": alert_id})


# Alert texts: message ids (Chinese) with named arguments. An alert stores its
# key and arguments (detail["text"]), so that a page or a message shows it in
# its reader's language; ``Alert.message`` keeps the Chinese rendering.
ALERT_TEXTS = {
    "reminder": N_("提醒：办件 %(receipt)s（%(matter)s）将于 %(due)s 到期，请及时办结。"),
    "warning": N_(
        "预警：办件 %(receipt)s（%(matter)s）今天为承诺期限最后一个工作日（%(due)s），仍未办结。"
    ),
    "yellow": N_("黄牌：办件 %(receipt)s（%(matter)s）已超过承诺期限（%(due)s），请立即办结。"),
    "red": N_(
        "红牌：办件 %(receipt)s（%(matter)s）黄牌警告后仍未在规定期限内办结（承诺期限 %(due)s）。"
    ),
    "no_acceptance": N_("流程异常：办件的第一个环节不是受理（%(step)s）。"),
    "out_of_order": N_("流程异常：环节「%(step)s」的起始状态与上一环节的结果不符。"),
    "time_reversed": N_("时间逻辑异常：环节「%(step)s」的时间早于上一环节。"),
    "skipped": N_("流程异常：跳过了环节「%(skipped)s」直接进入「%(step)s」。"),
    "illegal_transition": N_("流程异常：不允许的环节变更 %(from_step)s → %(step)s。"),
    "abnormal_end": N_("异常办结：%(label)s。%(note)s"),
    "fee": N_("收费异常：办件 %(receipt)s 实收 %(charged)s 元，收费标准为「%(standard)s」。"),
    "duration": N_(
        "时长异常：办件 %(receipt)s 从受理到%(step)s用时 %(hours)s 小时，%(words)s；"
        "同一事项近一年 %(sample)s 件的中间一半用时 %(q1)s 至 %(q3)s 小时。"
    ),
    "supplement_not_returned": N_(
        "异常：办件 %(receipt)s 自 %(since)s 告知补正，已 %(days)s 个工作日未补交材料（补交不来）。"
    ),
}
# Arguments that are labels themselves (translated too); lists are joined.
_LABEL_ARGUMENTS = frozenset({"step", "from_step", "skipped", "label", "words"})
# E-mail and SMS are written in the recipient's language (the contact's
# ``language``, "zh" when there is no contact row).
ALERT_SUBJECT = N_("办件监察提醒：%(kind)s")
_LIST_JOINER = N_("、")


def alert_text(key: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What an alert stores to be rendered later (detail["text"])."""
    return {"key": key, "args": arguments}


def render_alert_text(
    text: dict[str, Any], translate: Callable[[str], str] = lambda message: message
) -> str:
    """An alert's text in the language of ``translate`` (gettext); Chinese by default."""
    arguments: dict[str, Any] = {}
    for name, value in text["args"].items():
        if name in _LABEL_ARGUMENTS and isinstance(value, list):
            value = translate(_LIST_JOINER).join(translate(str(item)) for item in value)
        elif name in _LABEL_ARGUMENTS and value:
            value = translate(str(value))
        arguments[name] = value
    return (translate(ALERT_TEXTS[text["key"]]) % arguments).strip()


def alert_message(alert: Alert, translate: Callable[[str], str] = lambda message: message) -> str:
    """The alert as its reader reads it; alerts raised before texts were stored
    by key have only their Chinese message."""
    text = alert.detail.get("text") if isinstance(alert.detail, dict) else None
    if not isinstance(text, dict) or text.get("key") not in ALERT_TEXTS:
        return alert.message
    try:
        return render_alert_text(text, translate)
    except (KeyError, TypeError, ValueError):
        return alert.message


class _Scan:
    def __init__(self, session: Session, now: datetime, policy: SupervisionPolicy) -> None:
        self.session = session
        self.now = now
        self.policy = policy
        self.today = local_today(now, policy)
        self.calendar: WorkCalendar = calendar_for(session)
        self.directory = _Directory(session)
        self.report = ScanReport()
        # Per scan: matter versions, and each matter's decided durations.
        self._versions: dict[int, MatterVersion] = {}
        self._durations: dict[int, list[tuple[int, float]]] = {}

    # ------------------------------------------------------------------ raising

    def raise_alert(
        self,
        case: Case,
        kind: AlertKind,
        condition: str,
        text: dict[str, Any],
        detail: dict[str, Any] | None = None,
    ) -> Alert:
        message = render_alert_text(text)
        detail = {**(detail or {}), "text": text}
        recipients = self.directory.recipients(kind, case)
        alert = Alert(
            kind=kind.value,
            level=ALERT_LEVELS[kind],
            case_id=case.id,
            hall_id=case.hall_id,
            department_id=case.department_id,
            handler_staff_id=case.handler_staff_id,
            condition=condition,
            message=message,
            detail=detail,
            due_on=case.due_on,
            raised_on=self.today,
            created_at=self.now,
            acknowledge_note="",
            clear_reason="",
            recipients=[r.as_json() for r in recipients],
        )
        self.session.add(alert)
        self.session.flush()
        _add_deliveries(self.session, alert, recipients, self.policy, self.now)
        self.report.raised[kind.value] += 1
        announce(self.session, alert.hall_id, "raised", alert.id)
        return alert

    def clear(self, alert: Alert, reason: str) -> None:
        alert.cleared_at = self.now
        alert.clear_reason = reason
        self.report.cleared[alert.kind] += 1
        announce(self.session, alert.hall_id, "cleared", alert.id)

    # -------------------------------------------------------------- time limits

    def time_limits(self) -> None:
        open_alerts: dict[int, dict[str, Alert]] = {}
        for alert in self.session.execute(
            select(Alert).where(
                Alert.cleared_at.is_(None), Alert.kind.in_([k.value for k in TIME_KINDS])
            )
        ).scalars():
            open_alerts.setdefault(alert.case_id, {})[alert.kind] = alert
        # The reminder looks at most this far ahead; holidays only push the
        # deadline further away, so calendar days are a safe bound.
        horizon = self.today + timedelta(days=self.policy.reminder_hours_before // 24 + 2)
        at_risk = select(Case).where(
            Case.state.in_(OPEN_STATE_VALUES), Case.due_on.is_not(None), Case.due_on <= horizon
        )
        cases = {case.id: case for case in self.session.execute(at_risk).scalars()}
        missing = [case_id for case_id in open_alerts if case_id not in cases]
        for chunk in _chunks(missing, 500):
            for case in self.session.execute(select(Case).where(Case.id.in_(chunk))).scalars():
                cases[case.id] = case
        for case in cases.values():
            self.report.cases_checked += 1
            self._time_limit(case, open_alerts.get(case.id, {}))

    def _time_limit(self, case: Case, existing: dict[str, Alert]) -> None:
        wanted: dict[AlertKind, str] = {}
        is_open = case.state in OPEN_STATES and case.due_on is not None
        if is_open and case.due_on is not None:
            due = case.due_on
            condition = f"due:{due.isoformat()}"
            instant = deadline_instant(due, self.policy)
            reminder_from = instant - timedelta(hours=self.policy.reminder_hours_before)
            if reminder_from <= self.now < instant:
                wanted[AlertKind.REMINDER] = condition
            # Only "how many working days late, capped" matters below; the cap
            # keeps a case that is months overdue from walking the whole calendar.
            late = _working_days_after(self.calendar, due, self.today, cap=1)
            if self.today >= due and late == 0:
                wanted[AlertKind.WARNING] = condition
            elif late >= 1:
                wanted[AlertKind.YELLOW] = condition
                yellow = existing.get(AlertKind.YELLOW.value)
                limit = self.policy.red_card_after_working_days
                if (
                    yellow is not None
                    and yellow.condition == condition
                    and _working_days_after(self.calendar, yellow.raised_on, self.today, limit + 1)
                    > limit
                ):
                    wanted[AlertKind.RED] = condition
        for kind_value, alert in existing.items():
            kind = AlertKind(kind_value)
            if wanted.get(kind) == alert.condition:
                continue
            if not is_open:
                reason = (
                    f"case_{case.state.value}" if case.state not in OPEN_STATES else "suspended"
                )
            elif kind is AlertKind.WARNING and AlertKind.YELLOW in wanted:
                reason = "escalated"
            elif (
                kind is AlertKind.REMINDER
                and case.due_on is not None
                and self.now >= deadline_instant(case.due_on, self.policy)
            ):
                reason = "deadline_passed"
            else:
                reason = "condition_ended"
            self.clear(alert, reason)
        for kind, condition in wanted.items():
            current = existing.get(kind.value)
            if current is not None and current.condition == condition:
                continue
            self.raise_alert(
                case,
                kind,
                condition,
                self._time_text(case, kind),
                {"due_on": case.due_on.isoformat() if case.due_on else None},
            )

    def _time_text(self, case: Case, kind: AlertKind) -> dict[str, Any]:
        version = self.session.get(MatterVersion, case.matter_version_id)
        key = {
            AlertKind.REMINDER: "reminder",
            AlertKind.WARNING: "warning",
            AlertKind.YELLOW: "yellow",
            AlertKind.RED: "red",
        }[kind]
        return alert_text(
            key,
            {
                "receipt": case.receipt_number,
                "matter": version.name if version else "",
                "due": case.due_on.isoformat() if case.due_on else "-",
            },
        )

    # ------------------------------------------------------------ event checks

    def event_checks(self) -> None:
        cursor = self.session.get(ScanCursor, EVENT_CURSOR)
        if cursor is None:
            since = self.now - timedelta(days=self.policy.first_scan_lookback_days)
            first = self.session.execute(
                select(func.min(CaseEvent.id)).where(CaseEvent.at >= since)
            ).scalar_one_or_none()
            cursor = ScanCursor(
                name=EVENT_CURSOR, last_event_id=(first or 1) - 1, updated_at=self.now
            )
            self.session.add(cursor)
        # Two indexed reads rather than one OR, which would scan the whole table.
        after_cursor = select(CaseEvent.id, CaseEvent.case_id).where(
            CaseEvent.id > cursor.last_event_id
        )
        recent = select(CaseEvent.id, CaseEvent.case_id).where(
            CaseEvent.at >= self.now - self.policy.event_overlap
        )
        new_ids: set[int] = set()
        case_ids: set[int] = set()
        for statement in (after_cursor, recent):
            for event_id, case_id in self.session.execute(statement):
                new_ids.add(event_id)
                case_ids.add(case_id)
        if not new_ids:
            return
        existing = self._existing_event_alerts(case_ids)
        for chunk in _chunks(sorted(case_ids), 500):
            cases = {
                c.id: c
                for c in self.session.execute(select(Case).where(Case.id.in_(chunk))).scalars()
            }
            history: dict[int, list[CaseEvent]] = {}
            for event in self.session.execute(
                select(CaseEvent)
                .where(CaseEvent.case_id.in_(chunk))
                .order_by(CaseEvent.case_id, CaseEvent.id)
            ).scalars():
                history.setdefault(event.case_id, []).append(event)
            for case_id, events in history.items():
                findings = check_events(events, cases[case_id].promised_days, new_ids, self.policy)
                findings += self._fee_and_duration(cases[case_id], events, new_ids)
                for kind, condition, alert_words, detail in findings:
                    if (case_id, kind.value, condition) in existing:
                        continue
                    existing.add((case_id, kind.value, condition))
                    self.raise_alert(cases[case_id], kind, condition, alert_words, detail)
        self.report.events_checked += len(new_ids)
        cursor.last_event_id = max(cursor.last_event_id, max(new_ids))
        cursor.updated_at = self.now

    def _existing_event_alerts(self, case_ids: Iterable[int]) -> set[tuple[int, str, str]]:
        found: set[tuple[int, str, str]] = set()
        kinds = [kind.value for kind in EVENT_FINDING_KINDS]
        for chunk in _chunks(sorted(case_ids), 500):
            # Event findings are never re-raised, even after being cleared.
            found.update(
                self.session.execute(
                    select(Alert.case_id, Alert.kind, Alert.condition).where(
                        Alert.case_id.in_(chunk), Alert.kind.in_(kinds)
                    )
                ).all()
            )
        return found

    # ------------------------------------------------- 收费异常 and 时长异常

    def _fee_and_duration(
        self, case: Case, events: list[CaseEvent], new_ids: set[int]
    ) -> list[tuple[AlertKind, str, dict[str, Any], dict[str, Any]]]:
        """A new 收费登记 is compared with the catalog's 收费标准; a new decision
        (办结, 不予许可) with the durations of the matter's other decided cases."""
        findings: list[tuple[AlertKind, str, dict[str, Any], dict[str, Any]]] = []
        new = [event for event in events if event.id in new_ids]
        fee_events = [event for event in new if event.action == "fee"]
        if fee_events and case.fee_charged_fen is not None:
            finding = self._fee_finding(case, fee_events[-1])
            if finding is not None:
                findings.append(finding)
        decisions = [event for event in new if event.action in DECISION_ACTIONS]
        if decisions and case.completed_at is not None and not case.suspensions:
            finding = self._duration_finding(case, decisions[-1])
            if finding is not None:
                findings.append(finding)
        return findings

    def _version(self, version_id: int) -> MatterVersion:
        version = self._versions.get(version_id)
        if version is None:
            version = self.session.get(MatterVersion, version_id)
            assert version is not None
            self._versions[version_id] = version
        return version

    def _fee_finding(
        self, case: Case, event: CaseEvent
    ) -> tuple[AlertKind, str, dict[str, Any], dict[str, Any]] | None:
        charged = case.fee_charged_fen
        assert charged is not None
        standard = fee_standard(self._version(case.matter_version_id).as_spec())
        if standard.allows(charged) is not False:
            return None
        rule = "fee_for_free_matter" if standard.free else "fee_not_in_standard"
        return (
            AlertKind.FEE,
            f"fee:{charged}",
            alert_text(
                "fee",
                {
                    "receipt": case.receipt_number,
                    "charged": format_fen(charged),
                    "standard": standard.text,
                },
            ),
            {
                "rule": rule,
                "event_id": event.id,
                "at": event.at.isoformat(),
                "charged_fen": charged,
                "standard": standard.text,
                "standard_amounts_fen": list(standard.amounts_fen),
            },
        )

    def _duration_finding(
        self, case: Case, event: CaseEvent
    ) -> tuple[AlertKind, str, dict[str, Any], dict[str, Any]] | None:
        assert case.completed_at is not None
        matter_id = self._version(case.matter_version_id).matter_id
        durations = self._matter_durations(matter_id)
        others = [seconds for case_id, seconds in durations if case_id != case.id]
        fences = duration_fences(others, self.policy)
        if fences is None:
            return None
        seconds = (case.completed_at - case.accepted_at).total_seconds()
        if fences.lower <= seconds <= fences.upper:
            return None
        rule = "too_fast" if seconds < fences.lower else "too_slow"
        words = N_("异常快") if rule == "too_fast" else N_("异常慢")
        return (
            AlertKind.DURATION,
            f"{rule}:{event.id}",
            alert_text(
                "duration",
                {
                    "receipt": case.receipt_number,
                    "step": STEP_LABELS[case.state],
                    "hours": _hours(seconds),
                    "words": words,
                    "sample": len(others),
                    "q1": _hours(fences.q1),
                    "q3": _hours(fences.q3),
                },
            ),
            {
                "rule": rule,
                "event_id": event.id,
                "at": event.at.isoformat(),
                "seconds": round(seconds),
                "q1_seconds": round(fences.q1),
                "q3_seconds": round(fences.q3),
                "lower_seconds": round(fences.lower),
                "upper_seconds": round(fences.upper),
                "sample": len(others),
            },
        )

    def _matter_durations(self, matter_id: int) -> list[tuple[int, float]]:
        """(case id, seconds from 受理 to decision) of the matter's cases decided in
        the look-back window, any version, without a clock stop (their time
        depends on the applicant)."""
        cached = self._durations.get(matter_id)
        if cached is not None:
            return cached
        since = self.now - timedelta(days=self.policy.duration_lookback_days)
        suspended = select(CaseSuspension.id).where(CaseSuspension.case_id == Case.id).exists()
        rows = self.session.execute(
            select(Case.id, Case.accepted_at, Case.completed_at)
            .join(MatterVersion, MatterVersion.id == Case.matter_version_id)
            .where(
                MatterVersion.matter_id == matter_id,
                Case.state.in_([state.value for state in DECIDED_STATES]),
                Case.completed_at >= since,
                Case.completed_at <= self.now,
                ~suspended,
            )
        ).all()
        durations = [
            (case_id, (completed - accepted).total_seconds())
            for case_id, accepted, completed in rows
        ]
        self._durations[matter_id] = durations
        return durations

    # ----------------------------------------------------------- 补正 not returned

    def supplements(self) -> None:
        limit = self.policy.supplement_overdue_working_days
        open_alerts = {
            alert.condition: alert
            for alert in self.session.execute(
                select(Alert).where(
                    Alert.cleared_at.is_(None),
                    Alert.kind == AlertKind.ABNORMAL_END.value,
                    Alert.condition.like("supplement:%"),
                )
            ).scalars()
        }
        # Working days never outnumber calendar days: a cheap SQL bound first.
        candidates = self.session.execute(
            select(CaseSuspension, Case)
            .join(Case, Case.id == CaseSuspension.case_id)
            .where(
                CaseSuspension.kind == SuspensionKind.SUPPLEMENT.value,
                CaseSuspension.ended_on.is_(None),
                CaseSuspension.started_on <= self.today - timedelta(days=limit),
                Case.state.in_(OPEN_STATE_VALUES),
            )
        ).all()
        still_open: set[str] = set()
        for suspension, case in candidates:
            waited = self.calendar.working_days_between(suspension.started_on, self.today)
            if waited <= limit:
                continue
            condition = f"supplement:{suspension.id}"
            still_open.add(condition)
            if condition in open_alerts:
                continue
            self.raise_alert(
                case,
                AlertKind.ABNORMAL_END,
                condition,
                alert_text(
                    "supplement_not_returned",
                    {
                        "receipt": case.receipt_number,
                        "since": suspension.started_on.isoformat(),
                        "days": waited,
                    },
                ),
                {
                    "reason": "supplement_not_returned",
                    "started_on": suspension.started_on.isoformat(),
                    "working_days": waited,
                },
            )
        for condition, alert in open_alerts.items():
            if condition not in still_open:
                self.clear(alert, "supplement_ended")


@dataclass(frozen=True)
class DurationFences:
    q1: float
    q3: float
    lower: float
    upper: float


# Below a minute the logarithm would make seconds look like days apart.
_SHORTEST_DURATION = 60.0


def duration_fences(
    durations: Iterable[float], policy: SupervisionPolicy = DEFAULT_POLICY
) -> DurationFences | None:
    """Tukey's far-out fences on log(duration), as seconds; None below the
    minimum sample. Durations are skewed (most cases take a few days, some many
    weeks), so the fences are set on their logarithm, where the spread is even;
    far-out (3·IQR, not 1.5) because every finding is read by a person; and
    never nearer than ``duration_min_factor`` times Q1 or Q3, so a matter whose
    cases all take the same day does not flag the next one taking a day more."""
    values = sorted(math.log(max(value, _SHORTEST_DURATION)) for value in durations)
    if len(values) < policy.duration_min_sample:
        return None
    q1, _median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    spread = q3 - q1
    floor = math.log(policy.duration_min_factor)
    lower = min(q1 - policy.duration_fence_iqr * spread, q1 - floor)
    upper = max(q3 + policy.duration_fence_iqr * spread, q3 + floor)
    return DurationFences(math.exp(q1), math.exp(q3), math.exp(lower), math.exp(upper))


def _hours(seconds: float) -> str:
    """A duration in hours for an alert text (one unit, so the text translates)."""
    return f"{max(seconds, 0) / 3600:.1f}"


def check_events(
    events: list[CaseEvent],
    promised_days: int,
    new_ids: set[int],
    policy: SupervisionPolicy = DEFAULT_POLICY,
) -> list[tuple[AlertKind, str, dict[str, Any], dict[str, Any]]]:
    """Process and abnormal-ending findings among ``events`` (one case, id order)
    whose id is in ``new_ids``; earlier events serve only as context."""
    findings: list[tuple[AlertKind, str, dict[str, Any], dict[str, Any]]] = []
    previous: CaseEvent | None = None
    for event in events:
        if event.id in new_ids:
            findings.extend(_event_findings(event, previous, promised_days, policy))
        previous = event
    return findings


def _allowed_edges(promised_days: int) -> set[tuple[str, str | None, str]]:
    edges: set[tuple[str, str | None, str]] = {
        ("accept", None, CaseState.ACCEPTED.value),
        ("not_accept", None, CaseState.NOT_ACCEPTED.value),
    }
    for action, (sources, target) in TRANSITIONS.items():
        edges.update((action, source.value, target.value) for source in sources)
    if promised_days == 0:  # 即办: accepted straight to completed (services/cases.py)
        edges.add(("complete", CaseState.ACCEPTED.value, CaseState.COMPLETED.value))
    return edges


def skipped_steps(from_state: str, to_state: str) -> list[str] | None:
    """The main-line steps between two states, or None if ``to_state`` is not
    reachable forward from ``from_state`` (then it is out of order, not a skip)."""
    graph: dict[str, set[str]] = {}
    for sources, target in TRANSITIONS.values():
        for source in sources:
            graph.setdefault(source.value, set()).add(target.value)
    queue: deque[list[str]] = deque([[from_state]])
    seen = {from_state}
    while queue:
        path = queue.popleft()
        for following in sorted(graph.get(path[-1], ())):
            if following == to_state:
                return [STEP_LABELS[CaseState(s)] for s in path[1:]]
            if following not in seen:
                seen.add(following)
                queue.append([*path, following])
    return None


def _step_label(state: str) -> str:
    known = {s.value for s in CaseState}
    return STEP_LABELS[CaseState(state)] if state in known else state


def _event_findings(
    event: CaseEvent, previous: CaseEvent | None, promised_days: int, policy: SupervisionPolicy
) -> list[tuple[AlertKind, str, dict[str, Any], dict[str, Any]]]:
    findings: list[tuple[AlertKind, str, dict[str, Any], dict[str, Any]]] = []
    step = _step_label(event.to_state)
    base = {
        "event_id": event.id,
        "action": event.action,
        "from": event.from_state,
        "to": event.to_state,
        "at": event.at.isoformat(),
    }
    if previous is None:
        if event.from_state is not None or event.action not in ("accept", "not_accept"):
            findings.append(
                (
                    AlertKind.PROCESS,
                    f"no_acceptance:{event.id}",
                    alert_text("no_acceptance", {"step": step}),
                    {**base, "rule": "no_acceptance"},
                )
            )
    else:
        if event.from_state != previous.to_state:
            findings.append(
                (
                    AlertKind.PROCESS,
                    f"out_of_order:{event.id}",
                    alert_text("out_of_order", {"step": step}),
                    {**base, "rule": "out_of_order", "previous_to": previous.to_state},
                )
            )
        if event.at < previous.at:
            findings.append(
                (
                    AlertKind.PROCESS,
                    f"time_reversed:{event.id}",
                    alert_text("time_reversed", {"step": step}),
                    {**base, "rule": "time_reversed", "previous_at": previous.at.isoformat()},
                )
            )
    if event.from_state is not None and event.from_state != event.to_state:
        edge = (event.action, event.from_state, event.to_state)
        if edge not in _allowed_edges(promised_days):
            skipped = skipped_steps(event.from_state, event.to_state)
            if skipped:
                findings.append(
                    (
                        AlertKind.PROCESS,
                        f"skipped:{event.id}",
                        alert_text("skipped", {"skipped": skipped, "step": step}),
                        {**base, "rule": "skipped", "skipped": skipped},
                    )
                )
            else:
                findings.append(
                    (
                        AlertKind.PROCESS,
                        f"illegal:{event.id}",
                        alert_text(
                            "illegal_transition",
                            {"from_step": _step_label(event.from_state), "step": step},
                        ),
                        {**base, "rule": "illegal_transition"},
                    )
                )
    label = policy.abnormal_end_actions.get(event.action)
    if label is not None:
        findings.append(
            (
                AlertKind.ABNORMAL_END,
                f"{event.action}:{event.id}",
                alert_text("abnormal_end", {"label": label, "note": event.note}),
                {**base, "reason": event.action, "note": event.note},
            )
        )
    return findings


def _add_deliveries(
    session: Session,
    alert: Alert,
    recipients: list[_Recipient],
    policy: SupervisionPolicy,
    now: datetime,
) -> None:
    """One delivery row per recipient and channel of the alert's kind; in-page is
    delivered by being stored, the others wait for :func:`deliver_pending`."""
    for recipient in recipients:
        for channel in policy.channels.get(AlertKind(alert.kind), (notify.IN_PAGE,)):
            address = _address(session, channel, recipient)
            if channel == notify.IN_PAGE:
                status, sent_at = DeliveryStatus.SENT, now  # stored = delivered
            elif address:
                status, sent_at = DeliveryStatus.PENDING, None
            else:
                status, sent_at = DeliveryStatus.SKIPPED, None
            session.add(
                AlertDelivery(
                    alert_id=alert.id,
                    channel=channel,
                    recipient_role=recipient.role,
                    recipient_staff_id=recipient.staff_id,
                    recipient_contact_id=recipient.contact_id,
                    recipient_name=recipient.name,
                    address_masked=notify.mask_address(channel, address),
                    status=status.value,
                    attempts=0,
                    last_error="" if address or channel == notify.IN_PAGE else "no address",
                    created_at=now,
                    sent_at=sent_at,
                )
            )


def notify_deadline_moved(
    session: Session,
    case: Case,
    *,
    old_due: date | None,
    now: datetime,
    policy: SupervisionPolicy = DEFAULT_POLICY,
) -> Alert:
    """Tell the handler (the department lead when the case has none) that a
    calendar change moved the case's due date, in page and by SMS.  An earlier
    such notice of the same case that nobody acknowledged is superseded."""
    for earlier in session.execute(
        select(Alert).where(
            Alert.case_id == case.id,
            Alert.kind == AlertKind.DEADLINE_MOVED.value,
            Alert.cleared_at.is_(None),
        )
    ).scalars():
        earlier.cleared_at = now
        earlier.clear_reason = "superseded"
    old_text = old_due.isoformat() if old_due else "—"
    new_text = case.due_on.isoformat() if case.due_on else "—"
    recipients = _Directory(session).recipients(AlertKind.DEADLINE_MOVED, case)
    alert = Alert(
        kind=AlertKind.DEADLINE_MOVED.value,
        level=ALERT_LEVELS[AlertKind.DEADLINE_MOVED],
        case_id=case.id,
        hall_id=case.hall_id,
        department_id=case.department_id,
        handler_staff_id=case.handler_staff_id,
        condition=f"moved:{old_text}>{new_text}",
        message=(
            f"节假日安排变更：办件 {case.receipt_number} 的承诺办结日期"
            f"由 {old_text} 调整为 {new_text}。"
        ),
        detail={"old_due": old_text, "new_due": new_text, "receipt": case.receipt_number},
        due_on=case.due_on,
        raised_on=local_today(now, policy),
        created_at=now,
        acknowledge_note="",
        clear_reason="",
        recipients=[r.as_json() for r in recipients],
    )
    session.add(alert)
    session.flush()
    _add_deliveries(session, alert, recipients, policy, now)
    announce(session, alert.hall_id, "raised", alert.id)
    return alert


def _address(session: Session, channel: str, recipient: _Recipient) -> str:
    return _reach(session, channel, recipient)[0]


def _reach(session: Session, channel: str, recipient: _Recipient) -> tuple[str, str]:
    """(address, language) of a recipient on a channel; "zh" without a contact."""
    if channel == notify.IN_PAGE:
        return "", "zh"
    if recipient.contact_id is not None:
        contact = session.get(DisciplineContact, recipient.contact_id)
        if contact is not None:
            address = contact.email if channel == notify.EMAIL else contact.phone
            return address, contact.language
    if recipient.staff_id is not None:
        staff_contact = session.get(StaffContact, recipient.staff_id)
        if staff_contact is not None:
            address = staff_contact.email if channel == notify.EMAIL else staff_contact.phone
            return address, staff_contact.language
    return "", "zh"


def delivery_message(
    alert: Alert, recipient_name: str, address: str, language: str
) -> notify.OutgoingMessage:
    """An alert's e-mail/SMS in the recipient's language (the translation catalog)."""
    from backend.web.i18n import recipient_translator  # the catalogs live with the pages

    translate = recipient_translator(language)
    # The kinds are Chinese words, message ids of the catalog themselves.
    return notify.OutgoingMessage(
        recipient_name=recipient_name,
        address=address,
        subject=translate(ALERT_SUBJECT) % {"kind": translate(alert.kind)},
        body=alert_message(alert, translate),
    )


def _working_days_after(calendar: WorkCalendar, start: date, today: date, cap: int) -> int:
    """Working days in ``(start, today]``, counting no further than ``cap``."""
    counted = 0
    day = start
    while day < today and counted < cap:
        day += timedelta(days=1)
        counted += bool(calendar.is_workday(day))
    return counted


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _serialise_scans(session: Session) -> None:
    """Two scans at once would both see "no alert yet"; let them queue instead.
    SQLite write transactions are already serial (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('hallkit.supervision.scan'))"))


def scan(session: Session, now: datetime, policy: SupervisionPolicy = DEFAULT_POLICY) -> ScanReport:
    """One supervision pass; run in a writing session, repeatable at any time."""
    _serialise_scans(session)
    run = _Scan(session, now, policy)
    run.time_limits()
    run.event_checks()
    run.supplements()
    session.flush()
    return run.report


# --------------------------------------------------------------------------- delivery


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    off: int = 0  # the channel is not configured: recorded as off, not sent


def deliver_pending(
    database: Database,
    channels: Mapping[str, notify.Channel],
    now: Callable[[], datetime],
    policy: SupervisionPolicy = DEFAULT_POLICY,
    batch: int = 100,
) -> DeliveryReport:
    """Send pending e-mail/SMS deliveries. Claimed in one short transaction,
    sent with no transaction open (an SMTP server may be slow), then recorded."""
    report = DeliveryReport()
    claimed_at = now()
    with database.writing() as session:
        stale = claimed_at - policy.claim_timeout
        session.execute(
            update(AlertDelivery)
            .where(
                AlertDelivery.status == DeliveryStatus.SENDING.value,
                AlertDelivery.claimed_at < stale,
            )
            .values(status=DeliveryStatus.PENDING.value)
        )
        statement = (
            select(AlertDelivery)
            .where(AlertDelivery.status == DeliveryStatus.PENDING.value)
            .order_by(AlertDelivery.id)
            .limit(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        work: list[tuple[int, str, notify.OutgoingMessage]] = []
        for delivery in session.execute(statement).scalars():
            delivery.status = DeliveryStatus.SENDING.value
            delivery.claimed_at = claimed_at
            alert = delivery.alert
            recipient = _Recipient(
                delivery.recipient_role,
                delivery.recipient_name,
                delivery.recipient_staff_id,
                delivery.recipient_contact_id,
            )
            address, language = _reach(session, delivery.channel, recipient)
            work.append(
                (
                    delivery.id,
                    delivery.channel,
                    delivery_message(alert, delivery.recipient_name, address, language),
                )
            )
    # (delivery id, failure or None, the failure is final, the channel is off)
    outcomes: list[tuple[int, str | None, bool, bool]] = []
    for delivery_id, channel_name, message in work:
        channel = channels.get(channel_name)
        if channel is None:
            # Not an attempt that failed: there is nothing to send it with.
            reason = f"通道未开通 / channel {channel_name} is not configured: not sent"
            outcomes.append((delivery_id, reason, True, True))
            continue
        try:
            channel.send(message)
            outcomes.append((delivery_id, None, False, False))
        except notify.DeliveryError as error:
            log.warning("alert delivery %s over %s failed: %s", delivery_id, channel_name, error)
            outcomes.append((delivery_id, str(error), error.permanent, False))
    with database.writing() as session:
        finished = now()
        for delivery_id, failure, final, off in outcomes:
            stored = session.get(AlertDelivery, delivery_id)
            if stored is None:
                continue
            delivery = stored
            delivery.claimed_at = None
            if off:
                delivery.status = DeliveryStatus.OFF.value
                delivery.last_error = (failure or "")[:500]
                report.off += 1
                continue
            delivery.attempts += 1
            if failure is None:
                delivery.status = DeliveryStatus.SENT.value
                delivery.sent_at = finished
                delivery.last_error = ""
                report.sent += 1
            else:
                delivery.last_error = failure[:500]
                if final or delivery.attempts >= policy.max_delivery_attempts:
                    delivery.status = DeliveryStatus.FAILED.value
                    report.failed += 1
                else:
                    delivery.status = DeliveryStatus.PENDING.value
                    report.retrying += 1
    return report


class SupervisionScheduler:
    """Runs, every ``interval`` seconds on a daemon thread: :func:`scan`,
    :func:`deliver_pending`, the performance roll-up of yesterday and today
    (backend.services.rollup.refresh_recent) and -- when an SMTP channel is
    configured -- the scheduled reports (report_schedule.send_due_reports),
    after the roll-up so a report reads yesterday's final figures.

    Run one per deployment (a CLI loop or one backend process): several would
    only queue behind the scan and roll-up locks and repeat work. The roll-up
    and the reports run in their own transactions and their failures are
    logged and kept in ``last_error`` without undoing the scan."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        channels: Mapping[str, notify.Channel] | None = None,
        policy: SupervisionPolicy = DEFAULT_POLICY,
        interval_seconds: float = 300.0,
    ) -> None:
        self._database = database
        self._clock = clock
        self._channels = dict(channels) if channels is not None else notify.default_channels()
        self._policy = policy
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_error: str = ""
        self.completed = threading.Event()  # set after every run; tests wait on it
        # What the last run's later steps did (None before the first run / without SMTP).
        self.last_rollup: rollup.RefreshReport | None = None
        self.last_reports: report_schedule.SendReport | None = None
        self.step_errors: dict[str, str] = {}

    def run_once(self) -> tuple[ScanReport, DeliveryReport]:
        with self._database.writing() as session:
            report = scan(session, self._clock(), self._policy)
        delivered = deliver_pending(self._database, self._channels, self._clock, self._policy)
        self.step_errors = {}
        self._expire_rating_requests()
        self._refresh_rollups()
        self._send_reports()
        self.runs += 1
        return report, delivered

    def _expire_rating_requests(self) -> None:
        """Unanswered rate-now invitations past their deadline become `expired`."""
        try:
            with self._database.writing() as session:
                ratings.expire_requests(session, now=self._clock())
        except Exception as error:  # the next run retries
            self.step_errors["rating_requests"] = f"{type(error).__name__}: {error}"
            log.exception("expiring rating requests failed")

    def _refresh_rollups(self) -> None:
        try:
            with self._database.writing() as session:
                self.last_rollup = rollup.refresh_recent(session, self._clock())
        except Exception as error:  # the next run retries; the scan is already committed
            self.step_errors["rollup"] = f"{type(error).__name__}: {error}"
            log.exception("performance roll-up failed")

    def _send_reports(self) -> None:
        channel = self._channels.get(notify.EMAIL)
        if not isinstance(channel, notify.SmtpEmailChannel):
            return  # no SMTP configured: schedules wait until it is
        try:
            with self._database.writing() as session:
                self.last_reports = report_schedule.send_due_reports(
                    session, self._clock(), channel
                )
        except Exception as error:
            self.step_errors["reports"] = f"{type(error).__name__}: {error}"
            log.exception("scheduled reports failed")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report, delivered = self.run_once()
                self.last_error = "; ".join(f"{k}: {v}" for k, v in self.step_errors.items())
                log.info("supervision scan: %s; delivered %s", report.as_json(), delivered)
            except Exception as error:  # keep the thread alive; the next run retries
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("supervision scan failed")
            self.completed.set()
            self._stop.wait(self._interval)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="supervision-scan", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


# --------------------------------------------------------------------------- reading


def _scoped(statement: Any, viewer: Principal) -> Any:
    """Supervisors and administrators see every alert; a department lead the
    alerts of the department's cases; a clerk those of the cases they handle."""
    if viewer.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        return statement
    conditions = []
    if viewer.has_role(Role.DEPARTMENT_LEAD) and viewer.department_id is not None:
        conditions.append(Case.department_id == viewer.department_id)
    if viewer.staff_id is not None:
        conditions.append(Case.handler_staff_id == viewer.staff_id)
    if not conditions:
        return statement.where(text("1 = 0"))
    return statement.where(or_(*conditions))


def alert_json(alert: Alert, case: Case | None = None) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "level": alert.level,
        "state": alert_state(alert),
        "case_id": alert.case_id,
        "receipt_number": case.receipt_number if case else None,
        "department_id": alert.department_id,
        "handler_staff_id": alert.handler_staff_id,
        "condition": alert.condition,
        "message": alert.message,
        "detail": alert.detail,
        "due_on": alert.due_on.isoformat() if alert.due_on else None,
        "raised_on": alert.raised_on.isoformat(),
        "created_at": alert.created_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by_staff_id": alert.acknowledged_by_staff_id,
        "acknowledge_note": alert.acknowledge_note,
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "clear_reason": alert.clear_reason,
        "recipients": alert.recipients,
        "deliveries": [
            {
                "channel": d.channel,
                "recipient": d.recipient_name,
                "role": d.recipient_role,
                "address": d.address_masked,
                "status": d.status,
                "attempts": d.attempts,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "error": d.last_error,
            }
            for d in alert.deliveries
        ],
    }


def alert_state(alert: Alert) -> str:
    if alert.cleared_at is not None:
        return "cleared"
    return "acknowledged" if alert.acknowledged_at is not None else "open"


def list_alerts(
    session: Session,
    viewer: Principal,
    *,
    state: str | None = None,
    kind: str | None = None,
    case_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    statement = select(Alert, Case).join(Case, Case.id == Alert.case_id)
    if state == "open":
        statement = statement.where(Alert.cleared_at.is_(None), Alert.acknowledged_at.is_(None))
    elif state == "acknowledged":
        statement = statement.where(Alert.cleared_at.is_(None), Alert.acknowledged_at.is_not(None))
    elif state == "cleared":
        statement = statement.where(Alert.cleared_at.is_not(None))
    if kind:
        statement = statement.where(Alert.kind == AlertKind(kind).value)
    if case_id is not None:
        statement = statement.where(Alert.case_id == case_id)
    statement = _scoped(statement, viewer)
    rows = session.execute(
        statement.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    ).all()
    alerts = [alert for alert, _case in rows]
    if alerts:  # one query for all deliveries instead of one per alert
        by_alert: dict[int, list[AlertDelivery]] = {}
        for delivery in session.execute(
            select(AlertDelivery)
            .where(AlertDelivery.alert_id.in_([a.id for a in alerts]))
            .order_by(AlertDelivery.id)
        ).scalars():
            by_alert.setdefault(delivery.alert_id, []).append(delivery)
        for alert in alerts:
            alert.__dict__["deliveries"] = by_alert.get(alert.id, [])
    return {
        "items": [alert_json(alert, case) for alert, case in rows],
        "limit": limit,
        "offset": offset,
    }


def acknowledge(
    session: Session, alert_id: int, viewer: Principal, now: datetime, note: str = ""
) -> Alert:
    """签收: idempotent -- the first acknowledgement is kept."""
    row = session.execute(
        _scoped(
            select(Alert).join(Case, Case.id == Alert.case_id).where(Alert.id == alert_id), viewer
        ).with_for_update(of=Alert)
    ).scalar_one_or_none()
    if not isinstance(row, Alert):
        raise NotFound("预警不存在 / alert not found")
    if viewer.staff_id is None:
        raise Forbidden("仅限工作人员 / staff only")
    if row.acknowledged_at is None:
        row.acknowledged_at = now
        row.acknowledged_by_staff_id = viewer.staff_id
        row.acknowledge_note = note.strip()[:500]
        announce(session, row.hall_id, "acknowledged", row.id)
    return row


def overdue_cases(
    session: Session,
    viewer: Principal,
    now: datetime,
    policy: SupervisionPolicy = DEFAULT_POLICY,
    limit: int = 200,
) -> dict[str, Any]:
    """Open cases at least one working day past their due date (黄牌 and worse)."""
    today = local_today(now, policy)
    calendar = calendar_for(session)
    statement = (
        select(Case, MatterVersion.name, Department.name)
        .join(MatterVersion, MatterVersion.id == Case.matter_version_id)
        .join(Department, Department.id == Case.department_id)
        .where(Case.state.in_(OPEN_STATE_VALUES), Case.due_on < today)
        .order_by(Case.due_on, Case.id)
    )
    if not viewer.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        conditions = []
        if viewer.has_role(Role.DEPARTMENT_LEAD) and viewer.department_id is not None:
            conditions.append(Case.department_id == viewer.department_id)
        if viewer.staff_id is not None:
            conditions.append(Case.handler_staff_id == viewer.staff_id)
        statement = statement.where(or_(*conditions) if conditions else text("1 = 0"))
    items = []
    for case, matter, department in session.execute(statement.limit(limit * 2)):
        assert case.due_on is not None
        overdue = -calendar.remaining_working_days(case.due_on, today)
        if overdue < 1:
            continue  # past the date but not yet a working day late (weekend)
        items.append(
            {
                "case_id": case.id,
                "receipt_number": case.receipt_number,
                "matter": matter,
                "department": department,
                "department_id": case.department_id,
                "handler_staff_id": case.handler_staff_id,
                "state": case.state.value,
                "step": STEP_LABELS[case.state],
                "due_on": case.due_on.isoformat(),
                "working_days_overdue": overdue,
                "suspended": case.suspended_kind,
            }
        )
        if len(items) >= limit:
            break
    return {"today": today.isoformat(), "items": items}


# --------------------------------------------------------------------------- live hall


def hall_snapshot(session: Session, hall_code: str, now: datetime) -> dict[str, Any]:
    """实时监察 (3.1.1.1): windows open/paused, who serves whom, waiting per
    category and the longest wait -- JSON-able, from four indexed queries."""
    hall = session.execute(select(Hall).where(Hall.code == hall_code)).scalar_one_or_none()
    if hall is None:
        raise NotFound(f"大厅 {hall_code} 不存在 / unknown hall", hall=hall_code)
    today = now.astimezone(hall_zone(hall.timezone)).date()
    windows = session.execute(
        select(
            Window,
            Staff.name,
            Staff.employee_no,
            Ticket.display,
            Ticket.called_at,
            Ticket.started_at,
            Ticket.state,
        )
        .outerjoin(Staff, Staff.id == Window.signed_in_staff_id)
        .outerjoin(Ticket, Ticket.id == Window.current_ticket_id)
        .where(Window.hall_id == hall.id)
    ).all()
    window_rows = []
    state_counts: Counter[str] = Counter()
    for window, staff_name, employee_no, display, called_at, started_at, ticket_state in sorted(
        windows, key=lambda row: _natural(row[0].number)
    ):
        state_counts[window.state.value] += 1
        since = started_at or called_at
        window_rows.append(
            {
                "number": window.number,
                "name": window.name,
                "state": window.state.value,
                "pause_reason": window.pause_reason if window.state is WindowState.PAUSED else "",
                "expected_back_at": window.expected_back_at.isoformat()
                if window.expected_back_at
                else None,
                "staff": {"name": staff_name, "employee_no": employee_no} if staff_name else None,
                "serving": {
                    "ticket": display,
                    "state": ticket_state.value if ticket_state else None,
                    "since": since.isoformat() if since else None,
                    "seconds": int((now - since).total_seconds()) if since else None,
                }
                if display
                else None,
            }
        )
    waiting = session.execute(
        select(Ticket.category_id, func.count(), func.min(Ticket.issued_at))
        .where(
            Ticket.hall_id == hall.id,
            Ticket.service_day == today,
            Ticket.state == TicketState.WAITING,
        )
        .group_by(Ticket.category_id)
    ).all()
    waiting_by_category = {row[0]: (int(row[1]), row[2]) for row in waiting}
    ranked = (
        select(
            Ticket.category_id,
            Ticket.display,
            func.row_number()
            .over(partition_by=Ticket.category_id, order_by=(Ticket.issued_at, Ticket.id))
            .label("position"),
        )
        .where(
            Ticket.hall_id == hall.id,
            Ticket.service_day == today,
            Ticket.state == TicketState.WAITING,
        )
        .subquery()
    )
    oldest: dict[int, str] = {
        category_id: display
        for category_id, display in session.execute(
            select(ranked.c.category_id, ranked.c.display).where(ranked.c.position == 1)
        ).all()
    }
    categories = []
    longest: dict[str, Any] | None = None
    for category in session.execute(
        select(QueueCategory)
        .where(QueueCategory.hall_id == hall.id, QueueCategory.active)
        .order_by(QueueCategory.prefix)
    ).scalars():
        count, first_issued = waiting_by_category.get(category.id, (0, None))
        seconds = int((now - first_issued).total_seconds()) if first_issued else 0
        entry = {
            "prefix": category.prefix,
            "name": category.name,
            "waiting": count,
            "longest_wait_seconds": seconds,
            "oldest_ticket": oldest.get(category.id),
        }
        categories.append(entry)
        if count and (longest is None or seconds > longest["seconds"]):
            longest = {
                "category": category.prefix,
                "ticket": oldest.get(category.id),
                "seconds": seconds,
            }
    served = session.execute(
        select(func.count()).where(
            Ticket.hall_id == hall.id, Ticket.service_day == today, Ticket.state == TicketState.DONE
        )
    ).scalar_one()
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "generated_at": now.isoformat(),
        "service_day": today.isoformat(),
        "windows": window_rows,
        "window_states": dict(state_counts),
        "categories": categories,
        "waiting_total": sum(c["waiting"] for c in categories),
        "served_today": int(served),
        "longest_wait": longest,
    }


def _natural(number: str) -> tuple[int, str]:
    return (int(number), "") if number.isdigit() else (10**6, number)
