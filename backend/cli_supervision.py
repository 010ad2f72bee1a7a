"""`hall` commands for 电子监察 (plan 3.1.1.2): run the scan once or in a loop
(with the performance roll-up and, when SMTP is configured, the scheduled
reports), enter the people alerts go to, and backfill the performance
roll-ups. Wired into backend.cli by ``main.add_command(...)`` for each
command in :data:`COMMANDS`."""

from __future__ import annotations

import time as wall_time
from datetime import date, datetime, timedelta

import click
from sqlalchemy import select, text

from backend.config import settings_from_env
from backend.db import Database
from backend.models import Staff, utcnow
from backend.models.supervision import DisciplineContact, StaffContact
from backend.services import notify, rollup
from backend.services import supervision as supervision_service
from backend.services.sms import gateway_from_settings
from hallbus.localtime import DEFAULT_TIMEZONE, local_now


def _policy(red_card_days: int, supplement_days: int) -> supervision_service.SupervisionPolicy:
    return supervision_service.SupervisionPolicy(
        red_card_after_working_days=red_card_days,
        supplement_overdue_working_days=supplement_days,
    )


@click.command("supervision-scan", help="电子监察扫描并发送预警 / run the supervision scan")
@click.option("--loop", is_flag=True, help="每隔 --interval 秒重复 / repeat until stopped")
@click.option("--interval", default=300, show_default=True, type=int, help="seconds")
@click.option(
    "--red-card-days",
    default=2,
    show_default=True,
    type=int,
    help="黄牌后几个工作日未办结即红牌 / working days before a yellow card turns red",
)
@click.option(
    "--supplement-days",
    default=20,
    show_default=True,
    type=int,
    help="补正超过几个工作日未补交即异常 / working days a 补正 may stay open",
)
@click.option("--smtp-host", default=None, help="SMTP 服务器；不填则不发邮件 / no e-mail if unset")
@click.option("--smtp-port", default=25, show_default=True, type=int)
@click.option("--smtp-sender", default="hallkit@localhost", show_default=True)
@click.option("--smtp-user", default="", envvar="HALLKIT_SMTP_USER")
@click.option("--smtp-password", default="", envvar="HALLKIT_SMTP_PASSWORD")
@click.option("--starttls", is_flag=True)
def supervision_scan(
    loop: bool,
    interval: int,
    red_card_days: int,
    supplement_days: int,
    smtp_host: str | None,
    smtp_port: int,
    smtp_sender: str,
    smtp_user: str,
    smtp_password: str,
    starttls: bool,
) -> None:
    settings = settings_from_env()
    database = Database(settings.database_url)
    smtp = (
        notify.SmtpSettings(
            host=smtp_host,
            port=smtp_port,
            sender=smtp_sender,
            username=smtp_user,
            password=smtp_password,
            starttls=starttls,
        )
        if smtp_host
        else None
    )
    scheduler = supervision_service.SupervisionScheduler(
        database,
        utcnow,
        notify.default_channels(smtp=smtp, sms_gateway=gateway_from_settings(settings.sms)),
        _policy(red_card_days, supplement_days),
        interval_seconds=interval,
    )
    try:
        while True:
            report, delivered = scheduler.run_once()
            # The scanner serves the district: its log lines are on the district's clock.
            stamp = local_now(DEFAULT_TIMEZONE).isoformat(timespec="seconds")
            click.echo(
                f"{stamp} 扫描 scan: {report.as_json()} 发送 sent {delivered.sent}, "
                f"retrying {delivered.retrying}, failed {delivered.failed}, off {delivered.off}"
            )
            if scheduler.last_rollup is not None:
                click.echo(f"{stamp} 绩效汇总 roll-up: {scheduler.last_rollup.as_json()}")
            if scheduler.last_reports is not None:
                click.echo(
                    f"{stamp} 定时报表 reports: sent {scheduler.last_reports.sent}, "
                    f"failed {sorted(scheduler.last_reports.failed)}"
                )
            for step, error in scheduler.step_errors.items():
                click.echo(f"{stamp} {step} failed: {error}", err=True)
            if not loop:
                return
            wall_time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        database.dispose()


@click.command(
    "supervision-contact",
    help="登记工作人员的邮箱和手机 / a staff member's e-mail and mobile for alerts",
)
@click.argument("employee_no")
@click.option("--email", default="")
@click.option("--phone", default="")
@click.option(
    "--language", type=click.Choice(["zh", "en"]), default="zh", help="alerts in zh or en"
)
def supervision_contact(employee_no: str, email: str, phone: str, language: str) -> None:
    database = Database(settings_from_env().database_url)
    try:
        with database.writing() as session:
            staff = session.execute(
                select(Staff).where(Staff.employee_no == employee_no)
            ).scalar_one_or_none()
            if staff is None:
                raise click.ClickException(f"工号 {employee_no} 不存在 / unknown employee")
            contact = session.get(StaffContact, staff.id) or StaffContact(staff_id=staff.id)
            contact.email = email.strip()
            contact.phone = phone.strip()
            contact.language = language
            session.add(contact)
        click.echo(
            f"{employee_no}: {notify.mask_email(email) if email else '-'} "
            f"{notify.mask_address(notify.SMS, phone) or '-'}"
        )
    finally:
        database.dispose()


@click.command(
    "supervision-discipline",
    help="登记红牌纪检接收人（区纪工委书记、驻中心纪检组长）/ add a discipline contact",
)
@click.argument("name")
@click.option("--title", default="")
@click.option("--email", default="")
@click.option("--phone", default="")
@click.option(
    "--language", type=click.Choice(["zh", "en"]), default="zh", help="alerts in zh or en"
)
def supervision_discipline(name: str, title: str, email: str, phone: str, language: str) -> None:
    database = Database(settings_from_env().database_url)
    try:
        with database.writing() as session:
            session.add(
                DisciplineContact(
                    name=name.strip(),
                    title=title.strip(),
                    email=email.strip(),
                    phone=phone.strip(),
                    active=True,
                    language=language,
                )
            )
        click.echo(f"已登记 / added: {name} {title}")
    finally:
        database.dispose()


@click.command(
    "performance-rollup",
    help="重算绩效日汇总（补数或改动历史数据后）/ recompute the daily performance roll-ups",
)
@click.option(
    "--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD"
)
@click.option(
    "--to", "last", default=None, type=click.DateTime(["%Y-%m-%d"]), help="默认昨天 / yesterday"
)
def performance_rollup(first: datetime, last: datetime | None) -> None:
    database = Database(settings_from_env().database_url)
    now = utcnow()
    start = first.date()
    end = last.date() if last else now.astimezone(rollup.HALL_ZONE).date() - timedelta(days=1)
    if end < start:
        raise click.ClickException("--to 早于 --from / --to is before --from")
    started = wall_time.perf_counter()
    total = rollup.RefreshReport()
    try:
        day = start
        while day <= end:
            # One transaction per chunk: each day is still replaced whole, and a
            # year's backfill does not hold the roll-up lock (which the scheduler's
            # refresh waits on) for its whole run.
            chunk_end = min(end, day + timedelta(days=rollup.CHUNK_DAYS - 1))
            days: list[date] = [
                day + timedelta(days=offset) for offset in range((chunk_end - day).days + 1)
            ]
            with database.writing() as session:
                done = rollup.refresh_rollups(session, days, now)
            for name, value in done.as_json().items():
                setattr(total, name, getattr(total, name) + value)
            click.echo(f"{day.isoformat()}..{chunk_end.isoformat()}: {done.as_json()}")
            day = chunk_end + timedelta(days=1)
        if database.engine.dialect.name == "postgresql":
            # A backfill replaces most of the tables at once; fresh statistics
            # let the planner aggregate them in memory (before autovacuum's
            # analyze, a year view sorted the rows on disk: 100 ms instead of 20).
            with database.writing() as session:
                session.execute(text(f"ANALYZE {', '.join(rollup.TABLE_NAMES)}"))
    finally:
        database.dispose()
    click.echo(
        f"已汇总 / rolled up {total.days} days in {wall_time.perf_counter() - started:.1f} s: "
        f"{total.as_json()}"
    )


COMMANDS = (supervision_scan, supervision_contact, supervision_discipline, performance_rollup)
