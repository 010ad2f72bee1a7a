"""节假日调整: the administrator's working-day overrides, shown on the calendar
the deadlines are counted on (backend.workdays.WorkCalendar via
services.calendar.calendar_for), so what the page shows is what the case desk
counts.

Each month of the chosen year marks working days, days off, statutory holidays
on weekdays and 调休 working weekends, and outlines the overridden days. A year
the calendar package has no holiday data for is flagged as provisional: its
days are a Monday–Friday guess until the State Council notice is entered here.

The notice is entered once, not one form post per day: pasted as text (or a
CSV/YAML file of date and 休/班), shown as a preview of what would change, and
saved in one go, optionally marking the year confirmed. Every change goes
through backend.services.calendar_change, which counts every open case's due
date again and tells the handlers whose dates moved.
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

import chinese_calendar
from flask import current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from backend import holiday_notice
from backend.errors import BadInput, NotFound
from backend.models import CalendarYear, WorkdayOverride
from backend.services import calendar_change
from backend.services.calendar import calendar_for
from backend.services.queue import local_day
from backend.texts import N_
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    actor,
    admin_only,
    done,
    ext,
    invalid,
    now,
    options,
    readable,
)
from hallbus.localtime import DEFAULT_TIMEZONE

FIRST_YEAR, LAST_YEAR = calendar_change.FIRST_YEAR, calendar_change.LAST_YEAR
IMPORT_LIMIT_BYTES = holiday_notice.MAX_INPUT_CHARS * 4  # UTF-8: up to 4 bytes a character
WEEKDAY_NAMES = ("一", "二", "三", "四", "五", "六", "日")
HOLIDAY_NAMES = {
    "New Year's Day": N_("元旦"),
    "Spring Festival": N_("春节"),
    "Tomb-sweeping Day": N_("清明节"),
    "Labour Day": N_("劳动节"),
    "Dragon Boat Festival": N_("端午节"),
    "National Day": N_("国庆节"),
    "Mid-autumn Festival": N_("中秋节"),
    "Anti-Fascist 70th Day": N_("抗战胜利纪念日"),
}


class OverrideForm(AdminForm):
    day = DateField(_l("日期"), validators=[InputRequired()])
    working = SelectField(
        _l("当天"), choices=options([("0", _l("休息（节假日）")), ("1", _l("上班（调休）"))])
    )
    note = StringField(_l("说明"), validators=[Optional(), Length(max=200), Clean()])

    def validate_day(self, field: Any) -> None:
        from wtforms.validators import ValidationError

        if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
            raise ValidationError(_("年份须在 %(a)d–%(b)d 之间", a=FIRST_YEAR, b=LAST_YEAR))


class ImportForm(AdminForm):
    kind = SelectField(
        _l("内容格式"),
        choices=options(
            [
                ("notice", _l("国务院办公厅通知原文（粘贴）")),
                ("table", _l("表格：日期,休/班,说明（CSV 或 YAML）")),
            ]
        ),
    )
    content = TextAreaField(_l("内容"), validators=[Optional(), Clean(multiline=True)])
    upload = FileField(_l("或上传文件（.csv / .yaml）"))
    source = StringField(_l("通知文号"), validators=[Optional(), Length(max=200), Clean()])
    confirm = BooleanField(_l("本年度安排已全部录入，确认本年日历（不再按周末推算）"))


class ConfirmForm(AdminForm):
    source = StringField(_l("通知文号"), validators=[Optional(), Length(max=200), Clean()])


@dataclass(frozen=True)
class PreviewRow:
    day: date
    weekday: str
    working: bool
    note: str
    was_working: bool
    was_provisional: bool

    @property
    def changes(self) -> bool:
        return self.working != self.was_working or self.was_provisional


@dataclass(frozen=True)
class Cell:
    day: date
    kind: str  # work | off | holiday | shift
    override: bool
    provisional: bool
    title: str


def _holiday_name(day: date) -> str:
    try:
        _is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    # Chinese names are the message ids: the page shows them in its language.
    return _(HOLIDAY_NAMES[name]) if name in HOLIDAY_NAMES else (name or "")


def _months(db: Any, year: int, overrides: dict[date, WorkdayOverride]) -> list[Any]:
    work = calendar_for(db)
    months = []
    for month in range(1, 13):
        weeks = []
        for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells: list[Cell | None] = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                status = work.is_workday(day)
                weekend = day.weekday() >= 5
                if status.working:
                    kind = "shift" if weekend else "work"
                else:
                    kind = "off" if weekend else "holiday"
                override = overrides.get(day)
                title = override.note if override else _holiday_name(day)
                cells.append(Cell(day, kind, override is not None, status.provisional, title))
            weeks.append(cells)
        months.append((month, weeks))
    return months


def _page(
    year: int,
    form: OverrideForm,
    import_form: ImportForm | None = None,
    preview: dict[str, Any] | None = None,
) -> dict[str, Any]:
    with ext().db.reading() as db:
        year_row = db.get(CalendarYear, year)
        rows = list(
            db.execute(
                select(WorkdayOverride)
                .where(
                    WorkdayOverride.day >= date(year, 1, 1),
                    WorkdayOverride.day <= date(year, 12, 31),
                )
                .order_by(WorkdayOverride.day)
            ).scalars()
        )
        months = _months(db, year, {row.day: row for row in rows})
    provisional = any(
        cell and cell.provisional for _m, weeks in months for w in weeks for cell in w
    )
    return {
        "year": year,
        "year_row": year_row,
        "import_form": import_form or ImportForm(formdata=None),
        "confirm_form": ConfirmForm(formdata=None),
        "preview": preview,
        "rows": rows,
        "months": months,
        "provisional": provisional,
        "form": form,
        "first_year": FIRST_YEAR,
        "last_year": LAST_YEAR,
    }


def _year() -> int:
    year = request.args.get("year", type=int) or local_day(now(), DEFAULT_TIMEZONE).year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise NotFound(_("年份须在 %(a)d–%(b)d 之间", a=FIRST_YEAR, b=LAST_YEAR))
    return year


def _moved_message(change: calendar_change.CalendarChange) -> str:
    if not change.moved:
        return _("没有办件的承诺办结日期因此变化")
    return _(
        "%(n)d 件办理中的办件承诺办结日期已重新计算，并已通知承办人",
        n=len(change.moved),
    )


@blueprint.get("/calendar")
@readable
def calendar() -> str:
    year = _year()
    form = OverrideForm(formdata=None)
    return render_template("admin/calendar/index.html", **_page(year, form))


@blueprint.post("/calendar/overrides")
@admin_only
def calendar_override() -> Any:
    form = OverrideForm()
    if not form.validate_on_submit():
        year = request.args.get("year", type=int) or now().year
        year = min(max(year, FIRST_YEAR), LAST_YEAR)
        return invalid("admin/calendar/index.html", **_page(year, form))
    day: date = form.day.data
    working = form.working.data == "1"
    with ext().db.writing() as db:
        change = calendar_change.set_override(
            db, day=day, working=working, note=form.note.data or "", actor=actor(), now=now()
        )
    return done(
        _(
            "%(day)s 已设为%(what)s",
            day=day.isoformat(),
            what=_("上班日") if working else _("休息日"),
        )
        + _("；")
        + _moved_message(change),
        "admin.calendar",
        year=day.year,
    )


@blueprint.post("/calendar/overrides/<day>/delete")
@admin_only
def calendar_override_delete(day: str) -> Response:
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise NotFound(_("没有该日期的调整")) from None
    with ext().db.writing() as db:
        if db.get(WorkdayOverride, parsed) is None:
            raise NotFound(_("没有该日期的调整"))
        change = calendar_change.delete_override(db, day=parsed, actor=actor(), now=now())
    return done(
        _("已删除 %(day)s 的调整", day=parsed.isoformat()) + _("；") + _moved_message(change),
        "admin.calendar",
        year=parsed.year,
    )


def _read_import(form: ImportForm, year: int) -> tuple[str, holiday_notice.ParsedCalendar | None]:
    """The text to parse (an uploaded file wins over the text box) and its result;
    None with a field error when there is nothing readable."""
    content = form.content.data or ""
    upload = form.upload.data
    filename = ""
    if upload is not None and getattr(upload, "filename", ""):
        filename = upload.filename or ""
        data = upload.read(IMPORT_LIMIT_BYTES + 1)
        if len(data) > IMPORT_LIMIT_BYTES:
            form.upload.errors = [_("文件过大")]
            return content, None
        try:
            content = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            form.upload.errors = [_("文件须为 UTF-8 编码的文本")]
            return content, None
        form.content.data = content  # the preview carries the text, not the file
        # A .txt file is the notice saved as text; anything else is a table.
        form.kind.data = "notice" if filename.lower().endswith(".txt") else "table"
    if not content.strip():
        form.content.errors = [_("请粘贴通知原文或上传文件")]
        return content, None
    if form.kind.data == "notice":
        return content, holiday_notice.parse_notice(content, year)
    return content, holiday_notice.parse_table(content, year, filename)


def _preview(db: Any, parsed: holiday_notice.ParsedCalendar) -> dict[str, Any]:
    work = calendar_for(db)
    rows = []
    for item in parsed.days:
        status = work.is_workday(item.day)
        rows.append(
            PreviewRow(
                day=item.day,
                weekday=WEEKDAY_NAMES[item.day.weekday()],
                working=item.working,
                note=item.note,
                was_working=status.working,
                was_provisional=status.provisional,
            )
        )
    return {
        "rows": rows,
        "problems": parsed.problems,
        "off": sum(1 for row in rows if not row.working),
        "working": sum(1 for row in rows if row.working),
        "ok": parsed.ok,
    }


@blueprint.post("/calendar/import")
@admin_only
def calendar_import() -> Any:
    year = _year()
    form = ImportForm()
    if not form.validate_on_submit():
        return invalid(
            "admin/calendar/index.html", **_page(year, OverrideForm(formdata=None), form)
        )
    _content, parsed = _read_import(form, year)
    if parsed is None:
        return invalid(
            "admin/calendar/index.html", **_page(year, OverrideForm(formdata=None), form)
        )
    with ext().db.reading() as db:
        preview = _preview(db, parsed)
    save = request.form.get("step") == "save"
    if not save or not parsed.ok:
        if save:
            # Counts only: the pasted text is not repeated into the log.
            current_app.logger.info(
                "calendar import for %d refused: %d problem(s)", year, len(parsed.problems)
            )
            flash(_("内容有错误，未做任何修改，请按提示更正"), "error")
        page = _page(year, OverrideForm(formdata=None), form, preview)
        return render_template("admin/calendar/index.html", **page), 400 if save else 200
    with ext().db.writing() as db:
        change = calendar_change.import_days(
            db,
            year=year,
            days=parsed.days,
            confirm=bool(form.confirm.data),
            source=form.source.data or "",
            actor=actor(),
            now=now(),
        )
    message = _("已导入 %(y)d 年的 %(n)d 个日期", y=year, n=len(parsed.days))
    if form.confirm.data:
        message += _("，本年日历已确认")
    return done(message + _("；") + _moved_message(change), "admin.calendar", year=year)


@blueprint.post("/calendar/years/<int:year>/confirm")
@admin_only
def calendar_confirm(year: int) -> Response:
    return _set_confirmed(year, True)


@blueprint.post("/calendar/years/<int:year>/unconfirm")
@admin_only
def calendar_unconfirm(year: int) -> Response:
    return _set_confirmed(year, False)


def _set_confirmed(year: int, confirmed: bool) -> Response:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise NotFound(_("年份须在 %(a)d–%(b)d 之间", a=FIRST_YEAR, b=LAST_YEAR))
    form = ConfirmForm()
    if not form.validate_on_submit():
        raise BadInput(_("通知文号不正确"))
    with ext().db.writing() as db:
        change = calendar_change.set_year_confirmed(
            db,
            year=year,
            confirmed=confirmed,
            source=form.source.data or "",
            actor=actor(),
            now=now(),
        )
    what = _("%(y)d 年日历已确认", y=year) if confirmed else _("%(y)d 年日历已改回待确认", y=year)
    return done(what + _("；") + _moved_message(change), "admin.calendar", year=year)
