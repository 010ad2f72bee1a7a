"""节假日调整: the administrator's working-day overrides, shown on the calendar
the deadlines are counted on (backend.workdays.WorkCalendar via
services.calendar.calendar_for), so what the page shows is what the case desk
counts.

Each month of the chosen year marks working days, days off, statutory holidays
on weekdays and 调休 working weekends, and outlines the overridden days. A year
the calendar package has no holiday data for is flagged as provisional: its
days are a Monday–Friday guess until the State Council notice is entered here.
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

import chinese_calendar
from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from backend.errors import NotFound
from backend.models import WorkdayOverride, utcnow
from backend.services.calendar import calendar_for
from backend.services.queue import local_day
from backend.texts import N_
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    actor,
    admin_only,
    audit,
    done,
    ext,
    invalid,
    now,
    options,
    readable,
)

FIRST_YEAR, LAST_YEAR = 2000, 2100
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


def _page(year: int, form: OverrideForm) -> dict[str, Any]:
    with ext().db.reading() as db:
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
        "rows": rows,
        "months": months,
        "provisional": provisional,
        "form": form,
        "first_year": FIRST_YEAR,
        "last_year": LAST_YEAR,
    }


@blueprint.get("/calendar")
@readable
def calendar() -> str:
    year = request.args.get("year", type=int) or local_day(now(), "Asia/Shanghai").year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise NotFound(_("年份须在 %(a)d–%(b)d 之间", a=FIRST_YEAR, b=LAST_YEAR))
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
        row = db.get(WorkdayOverride, day)
        before = None if row is None else {"working": row.working, "note": row.note}
        if row is None:
            row = WorkdayOverride(day=day)
            db.add(row)
        row.working = working
        row.note = form.note.data or ""
        row.updated_by = actor()
        # Wall time, not the app clock: (count, newest updated_at) is the cache key
        # of the shared WorkCalendar, so it must move forward on every edit.
        row.updated_at = utcnow()
        audit(
            db,
            "calendar.override",
            "workday",
            day.isoformat(),
            {"before": before, "working": working, "note": row.note},
        )
    return done(
        _(
            "%(day)s 已设为%(what)s",
            day=day.isoformat(),
            what=_("上班日") if working else _("休息日"),
        ),
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
        row = db.get(WorkdayOverride, parsed)
        if row is None:
            raise NotFound(_("没有该日期的调整"))
        audit(
            db,
            "calendar.override_delete",
            "workday",
            parsed.isoformat(),
            {"working": row.working, "note": row.note},
        )
        db.delete(row)
    return done(
        _("已删除 %(day)s 的调整", day=parsed.isoformat()), "admin.calendar", year=parsed.year
    )
