"""Scheduled performance reports by e-mail (plan 3.1.1.3 "定期生成绩效报表").

A schedule (backend.models.report_schedule.ReportSchedule) says who gets which
report and when: monthly on day ``day`` (1-28, so every month has it) at
``hour`` hall time, covering the previous calendar month; or weekly on ISO
weekday ``day`` covering the previous ISO week.

:func:`send_due_reports` is what a scheduler calls (the supervision loop, a
cron line, the CLI): it sends every report whose time has come and whose
period was not sent yet, so running it every few minutes, twice, or after a
day of downtime sends each period exactly once -- the last missed one, not a
backlog. Rows are locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two
senders never mail the same report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadInput
from backend.models.report_schedule import ReportFormat, ReportFrequency, ReportSchedule
from backend.services import notify, performance
from backend.texts import N_
from hallbus.localtime import DEFAULT_TIMEZONE, hall_zone

log = logging.getLogger(__name__)

HALL_TIMEZONE = hall_zone(DEFAULT_TIMEZONE)  # district reports: the district's clock
MAX_FAILURES = 5  # per period; then that period is given up and the error stays visible
GROUPS = ("department", "window", "clerk")
FILE_SUFFIX = {"pdf": "pdf", "xlsx": "xlsx", "html": "html"}


@dataclass(frozen=True)
class Due:
    instant: datetime  # when this cycle's report was due (aware)
    period: performance.Period  # the period it covers


def due_cycle(schedule: ReportSchedule, now: datetime) -> Due:
    """The most recent send time at or before ``now`` and the period it reports."""
    local = now.astimezone(HALL_TIMEZONE)
    at_hour = time(schedule.hour, 0)
    if schedule.frequency == ReportFrequency.WEEKLY.value:
        monday = local.date() - timedelta(days=local.isoweekday() - 1)
        day = monday + timedelta(days=schedule.day - 1)
        instant = datetime.combine(day, at_hour, HALL_TIMEZONE)
        if instant > local:
            instant -= timedelta(days=7)
        previous_week = (instant.date() - timedelta(days=7)).isocalendar()
        label = f"{previous_week.year:04d}-W{previous_week.week:02d}"
    else:
        instant = datetime.combine(local.date().replace(day=schedule.day), at_hour, HALL_TIMEZONE)
        if instant > local:
            last_month_end = local.date().replace(day=1) - timedelta(days=1)
            instant = datetime.combine(
                last_month_end.replace(day=schedule.day), at_hour, HALL_TIMEZONE
            )
        covered = instant.date().replace(day=1) - timedelta(days=1)
        label = f"{covered.year:04d}-{covered.month:02d}"
    return Due(instant, performance.parse_period(label, instant.date()))


def is_due(schedule: ReportSchedule, now: datetime) -> Due | None:
    if not schedule.active:
        return None
    due = due_cycle(schedule, now)
    if schedule.last_period == due.period.label:
        return None
    # A schedule made after this cycle's time starts with the next cycle: it
    # should not mail out an old report the minute it is saved.
    if schedule.created_at > due.instant:
        return None
    if schedule.failures >= MAX_FAILURES:
        return None
    return due


LANGUAGES = ("zh", "en")  # the recipient's: e-mail and report are written in it
SUBJECT = N_("%(title)s（%(period)s）")
BODY = N_(
    "%(name)s：\n\n附件为%(title)s，统计期间 %(start)s 至 %(end)s。\n"
    "本邮件由 hallkit 电子监察系统按计划（%(every)s）自动发送，如需停止请联系系统管理员。\n"
)
EVERY = {ReportFrequency.MONTHLY.value: N_("每月"), ReportFrequency.WEEKLY.value: N_("每周")}


def validate(
    *,
    frequency: str,
    day: int,
    hour: int,
    group_by: str,
    report_format: str,
    email: str,
    language: str = "zh",
) -> None:
    if frequency not in {f.value for f in ReportFrequency}:
        raise BadInput("发送周期只能是每月或每周 / frequency must be monthly or weekly")
    if frequency == ReportFrequency.MONTHLY.value and not 1 <= day <= 28:
        raise BadInput("每月发送日须为 1–28 日 / monthly day must be 1-28")
    if frequency == ReportFrequency.WEEKLY.value and not 1 <= day <= 7:
        raise BadInput("每周发送日须为星期一至星期日 / weekday must be 1-7")
    if not 0 <= hour <= 23:
        raise BadInput("发送时间须为 0–23 时 / hour must be 0-23")
    if group_by not in GROUPS:
        raise BadInput("分组不正确 / invalid grouping")
    if report_format not in {f.value for f in ReportFormat}:
        raise BadInput("报表格式不正确 / invalid format")
    local, at, domain = email.partition("@")
    if not local or not at or "." not in domain or len(email) > 200 or " " in email:
        raise BadInput("邮箱地址不正确 / invalid e-mail address")
    if language not in LANGUAGES:
        raise BadInput("语言只能是中文或英文 / language must be zh or en")


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def send_due_reports(
    session: Session, now: datetime, smtp_channel: notify.SmtpEmailChannel
) -> SendReport:
    """Render and e-mail every due report; run in a writing session."""
    # Imported here: the renderers pull in reportlab and openpyxl, which a
    # process that never sends reports need not load.
    from backend.web.i18n import recipient_translator
    from backend.web.reports import build_report, render

    outcome = SendReport()
    statement = select(ReportSchedule).where(ReportSchedule.active).order_by(ReportSchedule.id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    today = now.astimezone(HALL_TIMEZONE).date()
    for schedule in session.execute(statement).scalars():
        due = is_due(schedule, now)
        if due is None:
            continue
        translate = recipient_translator(schedule.language)
        try:
            report = build_report(
                session,
                hall_id=schedule.hall_id,
                department_id=schedule.department_id,
                period=due.period,
                group_by=schedule.group_by,
                today=today,
                now=now,
                translate=translate,
            )
            document = render(report, schedule.report_format)
            filename = f"{report.filename_stem}.{FILE_SUFFIX[schedule.report_format]}"
            maintype, subtype = MAIN_TYPES[schedule.report_format]
            smtp_channel.send(
                notify.OutgoingMessage(
                    recipient_name=schedule.recipient_name,
                    address=schedule.recipient_email,
                    subject=translate(SUBJECT)
                    % {"title": report.title, "period": due.period.label},
                    body=_body(schedule, report.title, due.period, translate),
                    attachments=(notify.Attachment(filename, document, maintype, subtype),),
                )
            )
        except (notify.DeliveryError, OSError) as error:
            if schedule.last_error.startswith(due.period.label + ":"):
                schedule.failures += 1
            else:  # the first failure of this period
                schedule.failures = 1
            schedule.last_error = f"{due.period.label}: {error}"[:500]
            outcome.failed[schedule.id] = str(error)
            log.warning(
                "report schedule %s for %s failed: %s", schedule.id, due.period.label, error
            )
            continue
        schedule.last_period = due.period.label
        schedule.last_sent_at = now
        schedule.failures = 0
        schedule.last_error = ""
        outcome.sent.append(schedule.id)
    session.flush()
    return outcome


def _body(
    schedule: ReportSchedule,
    title: str,
    period: performance.Period,
    translate: Callable[[str], str],
) -> str:
    every = EVERY.get(schedule.frequency, EVERY[ReportFrequency.MONTHLY.value])
    return translate(BODY) % {
        "name": schedule.recipient_name,
        "title": title,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "every": translate(every),
    }


MAIN_TYPES = {
    "pdf": ("application", "pdf"),
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "html": ("text", "html"),
}


def next_send(schedule: ReportSchedule, now: datetime) -> datetime:
    """When this schedule sends next (for the schedules page)."""
    due = due_cycle(schedule, now)
    if schedule.frequency == ReportFrequency.WEEKLY.value:
        following = due.instant + timedelta(days=7)
    else:
        first_next = (due.instant.date().replace(day=1) + timedelta(days=32)).replace(day=1)
        following = datetime.combine(
            first_next.replace(day=schedule.day), time(schedule.hour), HALL_TIMEZONE
        )
    if is_due(schedule, now) is not None:
        return due.instant
    return following
