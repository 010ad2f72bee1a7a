"""绩效评估与决策分析 pages (plan 3.1.1.3-3.1.1.4): the ranking (横向 across
groups, 纵向 against the previous period) with every metric, charts (ranking
bars, trend lines, the waiting heat map by weekday and hour), the reports as
HTML, Excel and PDF, and the schedules that e-mail them.

The figures are backend.services.performance's (formulas in docs/supervision.md;
days before today from the daily roll-ups, today live from the raw tables);
the ranking table is rendered on the server, so the page works without scripts;
the trend and heat map come from two JSON endpoints that the page's script
fetches in parallel (the slowest queries do not hold up the table).

Who: supervisors, administrators, department leads (only their department).
Schedules are changed by administrators and leads; supervisors only read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadInput, Forbidden, NotFound
from backend.models import Department, Role, Staff
from backend.models.report_schedule import ReportFormat, ReportFrequency, ReportSchedule
from backend.models.supervision import StaffContact
from backend.services import audit, performance
from backend.services import report_schedule as schedule_service
from backend.services.access import Access, Resource, roles_for
from backend.web import reports
from backend.web.auth import StaffUser, current_staff, staff_required
from backend.web.i18n import (
    RECIPIENT_LANGUAGES,
    current_language,
    page_recipient_language,
    translator,
)
from backend.web.layout import add_nav, page_errors, page_zone
from backend.web.reports.data import weight_text

blueprint = Blueprint("performance_pages", __name__, url_prefix="/performance")
page_errors(blueprint, fallback_endpoint="performance_pages.index")

VIEW_ROLES = tuple(sorted(roles_for(Resource.PERFORMANCE, Access.READ)))  # the API's rule
add_nav("performance_pages.index", _l("绩效分析"), roles=VIEW_ROLES, order=45)

GROUP_CHOICES = {
    "department": _l("部门"),
    "window": _l("窗口"),
    "clerk": _l("工作人员"),
}
FORMAT_LABELS = {"pdf": "PDF", "xlsx": "Excel", "html": _l("网页")}
WEEKDAY_LABELS = (
    _l("星期一"),
    _l("星期二"),
    _l("星期三"),
    _l("星期四"),
    _l("星期五"),
    _l("星期六"),
    _l("星期日"),
)
# The trend's bucket for each kind of period: about 5-31 points per line.
TREND_BUCKET = {
    "day": "day",
    "week": "day",
    "month": "day",
    "quarter": "week",
    "year": "month",
    "range": "day",
}


def _ext() -> Any:
    return current_app.extensions["hallkit"]


def _now() -> datetime:
    now: datetime = _ext().clock()
    return now


def _today() -> date:
    return _now().astimezone(page_zone()).date()


def _scope(user: StaffUser) -> performance.Scope:
    """The signed-in hall; a lead only their own department."""
    if user.principal.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        return performance.Scope(hall_id=user.principal.hall_id)
    return performance.Scope(
        hall_id=user.principal.hall_id, department_id=user.principal.department_id or -1
    )


def _group_by() -> str:
    group_by = request.args.get("group_by", "department")
    if group_by not in GROUP_CHOICES:
        raise BadInput(_("分组只能是部门、窗口或工作人员"))
    return group_by


def _period() -> performance.Period:
    return performance.parse_period(request.args.get("period") or None, _today())


def period_choices(today: date) -> list[tuple[Any, list[tuple[str, str]]]]:
    """The picker: the last 12 months, 8 quarters and 3 years, newest first."""
    months = []
    index = today.year * 12 + today.month - 1
    for back in range(12):
        year, month = divmod(index - back, 12)
        label = _("%(year)d年%(month)d月", year=year, month=month + 1)
        months.append((f"{year:04d}-{month + 1:02d}", label))
    quarters = []
    quarter_index = today.year * 4 + (today.month - 1) // 3
    for back in range(8):
        year, quarter = divmod(quarter_index - back, 4)
        label = _("%(year)d年第%(quarter)d季度", year=year, quarter=quarter + 1)
        quarters.append((f"{year:04d}-Q{quarter + 1}", label))
    years = [(str(today.year - back), _("%(year)d年", year=today.year - back)) for back in range(3)]
    return [(_l("月度"), months), (_l("季度"), quarters), (_l("年度"), years)]


def _weights_text() -> str:
    """`reports.data.weight_text()` for the page, in the page's language."""
    return weight_text(_)


def _ranking_rule_text() -> str:
    """Who is ranked (performance.measured), in the page's language."""
    return str(
        _(
            "参与排名的条件：某项数据达到 %(sample)d 条（号票、评价、办件或整改）才算已计量，"
            "已计量项的权重合计须达到 %(weight)g；不足的列在“数据不足”中，不排名。"
            "超期未办结的办件（黄牌、红牌）计入其超期的每个期间，降低当期按时办结率。",
            sample=performance.MIN_SAMPLE,
            weight=performance.MIN_MEASURED_WEIGHT,
        )
    )


# ------------------------------------------------------------------ the page


@blueprint.get("")
@staff_required(*VIEW_ROLES)
def index() -> Any:
    user = current_staff()
    period = _period()
    group_by = _group_by()
    today = _today()
    with _ext().db.reading() as session:
        ranked = performance.ranking(session, period, group_by, _scope(user), today)
    group_id = request.args.get("group_id", "")
    bars = {
        "names": [item["name"] for item in ranked["items"] if item["score"] is not None],
        "scores": [item["score"] for item in ranked["items"] if item["score"] is not None],
        "previous": [
            item["previous_score"] for item in ranked["items"] if item["score"] is not None
        ],
    }
    choices = period_choices(today)
    known = {value for _label, values in choices for value, _text in values}
    query: dict[str, Any] = {"period": period.label, "group_by": group_by}
    trend_query: dict[str, Any] = {
        **query,
        **({"group_id": group_id} if group_id.isdigit() else {}),
    }
    return render_template(
        "performance/index.html",
        ranked=ranked,
        period=period,
        previous=performance.previous_period(period),
        group_by=group_by,
        group_choices=GROUP_CHOICES,
        period_choices=choices,
        custom_period=period.label if period.label not in known else "",
        bars=bars,
        query=query,
        trend_url=url_for("performance_pages.trend_data", **trend_query),
        heatmap_url=url_for("performance_pages.heatmap_data", **query),
        group_name=next(
            (
                i["name"]
                for i in (*ranked["items"], *ranked["insufficient"])
                if str(i["id"]) == group_id
            ),
            None,
        ),
        weights_text=_weights_text(),
        ranking_rule_text=_ranking_rule_text(),
        formats=FORMAT_LABELS,
    )


@blueprint.get("/data/trend.json")
@staff_required(*VIEW_ROLES)
def trend_data() -> Response:
    """Trend lines inside the chosen period (days, weeks or months)."""
    user = current_staff()
    period = _period()
    group_by = _group_by()
    group_id_text = request.args.get("group_id", "")
    group_id = int(group_id_text) if group_id_text.isdigit() else None
    with _ext().db.reading() as session:
        data = performance.trend(
            session,
            period,
            TREND_BUCKET[period.kind],
            _scope(user),
            _today(),
            group_by=group_by if group_id is not None else "hall",
            group_id=group_id,
        )
    return jsonify(data)


@blueprint.get("/data/heatmap.json")
@staff_required(*VIEW_ROLES)
def heatmap_data() -> Response:
    user = current_staff()
    with _ext().db.reading() as session:
        return jsonify(performance.heatmap(session, _period(), _scope(user), _today()))


# ------------------------------------------------------------------ reports


@blueprint.get("/report.<report_format>")
@staff_required(*VIEW_ROLES)
def report(report_format: str) -> Any:
    if report_format not in reports.MEDIA_TYPES:
        raise NotFound(_("没有该格式的报表"))
    user = current_staff()
    scope = _scope(user)
    if scope.hall_id is None:
        raise Forbidden(_("请先登录到大厅"))
    with _ext().db.reading() as session:
        document = reports.build_report(
            session,
            hall_id=scope.hall_id,
            department_id=scope.department_id,
            period=_period(),
            group_by=_group_by(),
            today=_today(),
            now=_now(),
            translate=translator(current_language()),
        )
    body = reports.render(document, report_format)
    response = Response(body, mimetype=reports.MEDIA_TYPES[report_format])
    if report_format != "html":
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{document.filename_stem}.{report_format}"'
        )
    return response


# ------------------------------------------------------------------ schedules


def _schedule_filter(user: StaffUser) -> Any:
    condition = ReportSchedule.hall_id == (user.principal.hall_id or -1)
    if not user.principal.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
        condition = condition & (ReportSchedule.department_id == user.principal.department_id)
    return condition


def _may_manage(user: StaffUser) -> bool:
    return not user.is_read_only and user.principal.has_role(
        Role.ADMINISTRATOR, Role.DEPARTMENT_LEAD
    )


@blueprint.get("/schedules")
@staff_required(*VIEW_ROLES)
def schedules() -> Any:
    user = current_staff()
    now = _now()
    with _ext().db.reading() as session:
        rows = list(
            session.execute(
                select(ReportSchedule).where(_schedule_filter(user)).order_by(ReportSchedule.id)
            ).scalars()
        )
        departments = dict(session.execute(select(Department.id, Department.name)).all())
        staff = _recipients(session)
    return render_template(
        "performance/schedules.html",
        rows=rows,
        next_send={row.id: schedule_service.next_send(row, now) for row in rows},
        due={row.id: schedule_service.due_cycle(row, now).period.label for row in rows},
        departments=departments,
        staff=staff,
        may_manage=_may_manage(user),
        is_lead_only=not user.principal.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR),
        group_choices=GROUP_CHOICES,
        formats=FORMAT_LABELS,
        weekdays=WEEKDAY_LABELS,
        recipient_languages=RECIPIENT_LANGUAGES,
        page_recipient_language=page_recipient_language(),
    )


def _recipients(session: Session) -> list[tuple[int, str, str, str]]:
    """Active staff with an e-mail address on file: (id, name, number, e-mail)."""
    statement = (
        select(Staff.id, Staff.name, Staff.employee_no, StaffContact.email)
        .join(StaffContact, StaffContact.staff_id == Staff.id)
        .where(Staff.active.is_(True), StaffContact.email != "")
        .order_by(Staff.employee_no)
    )
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(statement)]


def _int(name: str, default: int) -> int:
    value = request.form.get(name, "").strip()
    if not value:
        return default
    if not value.lstrip("-").isdigit():
        raise BadInput(_("请输入数字"))
    return int(value)


@blueprint.post("/schedules")
@staff_required(*VIEW_ROLES)
def create_schedule() -> Any:
    user = current_staff()
    if not _may_manage(user):
        raise Forbidden(_("监察人员只读；报表计划由管理员或部门负责人设置"))
    if user.principal.hall_id is None:
        raise Forbidden(_("请先登录到大厅"))
    form = request.form
    frequency = form.get("frequency", ReportFrequency.MONTHLY.value)
    report_format = form.get("report_format", ReportFormat.PDF.value)
    group_by = form.get("group_by", "department")
    day = _int("day", 1)
    hour = _int("hour", 8)
    language = form.get("language", "") or page_recipient_language()
    with _ext().db.writing() as session:
        staff_id_text = form.get("recipient", "")
        name = form.get("recipient_name", "").strip()[:100]
        email = form.get("recipient_email", "").strip()
        recipient_staff_id = None
        if staff_id_text.isdigit():
            found = session.execute(
                select(Staff.id, Staff.name, StaffContact.email)
                .join(StaffContact, StaffContact.staff_id == Staff.id)
                .where(Staff.id == int(staff_id_text), Staff.active.is_(True))
            ).first()
            if found is None:
                raise BadInput(_("该工作人员没有登记邮箱"))
            recipient_staff_id, name, email = found[0], name or found[1], email or found[2]
        schedule_service.validate(
            frequency=frequency,
            day=day,
            hour=hour,
            group_by=group_by,
            report_format=report_format,
            email=email,
            language=language,
        )
        department_id: int | None = None
        if not user.principal.has_role(Role.SUPERVISOR, Role.ADMINISTRATOR):
            department_id = user.principal.department_id  # a lead: own department only
        elif form.get("department", "").isdigit():
            department_id = int(form["department"])
        schedule = ReportSchedule(
            hall_id=user.principal.hall_id,
            department_id=department_id,
            recipient_staff_id=recipient_staff_id,
            recipient_name=name or email,
            recipient_email=email,
            group_by=group_by,
            report_format=report_format,
            frequency=frequency,
            day=day,
            hour=hour,
            active=True,
            created_by_staff_id=user.staff_id,
            created_at=_now(),
            last_period="",
            failures=0,
            last_error="",
            language=language,
        )
        session.add(schedule)
        session.flush()
        audit.record(
            session,
            user.principal.label,
            "report_schedule.create",
            "report_schedule",
            schedule.id,
            {
                "frequency": frequency,
                "day": day,
                "hour": hour,
                "format": report_format,
                "group_by": group_by,
                "department_id": department_id,
                "recipient_staff_id": recipient_staff_id,
                "language": language,
            },
        )
    flash(_("已添加报表计划"), "success")
    return redirect(url_for("performance_pages.schedules"))


@blueprint.post("/schedules/<int:schedule_id>/delete")
@staff_required(*VIEW_ROLES)
def delete_schedule(schedule_id: int) -> Any:
    user = current_staff()
    if not _may_manage(user):
        raise Forbidden(_("监察人员只读；报表计划由管理员或部门负责人设置"))
    with _ext().db.writing() as session:
        schedule = session.execute(
            select(ReportSchedule).where(ReportSchedule.id == schedule_id, _schedule_filter(user))
        ).scalar_one_or_none()
        if schedule is None:
            raise NotFound(_("报表计划不存在"))
        session.delete(schedule)
        audit.record(
            session,
            user.principal.label,
            "report_schedule.delete",
            "report_schedule",
            schedule_id,
            {},
        )
    flash(_("已删除报表计划"), "success")
    return redirect(url_for("performance_pages.schedules"))
