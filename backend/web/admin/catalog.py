"""事项目录: list, search, detail with version history and a field-by-field diff,
edit (always a new version), withdraw/restore, spreadsheet import with a dry
run and export.

The edit form speaks the spreadsheet's cell format (one material per line as
`名称|原件|1|是|备注`, steps separated by "→", lists by "、") and is parsed by the
very same row parser the import uses, so a matter saved here exports and
re-imports unchanged and both paths report problems in the same words.
"""

from __future__ import annotations

import io
import secrets
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from backend.catalog.spec import MATTER_CODE, MatterSpec, MatterType
from backend.catalog.spreadsheet import (
    COLUMNS,
    CatalogFileError,
    ImportReport,
    _parse_row,  # the import's own row parser: one set of rules for form and file
    _row_of,
    read_catalog,
    write_catalog,
)
from backend.errors import NotFound
from backend.models import Department, Hall, Matter, MatterVersion, QueueCategory
from backend.services import catalog as catalog_service
from backend.services import eventlog
from backend.services.access import Access, Resource
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    actor,
    audit,
    db_session,
    ext,
    invalid,
    options,
    readable,
    search_filter,
)
from backend.web.auth import permission_required

HEADERS = {column.field: column.header for column in COLUMNS}
# The spreadsheet's headers stay Chinese in files; the pages show them through
# _() at render time. Listed here so that extraction keeps their English.
HEADER_TEXTS = (
    _l("事项编码"), _l("事项名称"), _l("事项类型"), _l("实施部门"), _l("承诺时限(工作日)"),
    _l("法定时限(工作日)"), _l("申报材料"), _l("审批条件"), _l("设定依据"), _l("收费标准"),
    _l("办理流程"), _l("网上可办"), _l("排队类别"), _l("办理窗口"), _l("生活事件"), _l("关键词"),
    _l("别名"),
)  # fmt: skip
IMPORT_LIMIT_BYTES = 10 * 1024 * 1024
PAGE_SIZE = 200


class MatterForm(AdminForm):
    code = StringField(
        _l("事项编码"),
        validators=[
            DataRequired(),
            Regexp(MATTER_CODE.pattern, message=_l("2-40 位字母、数字、-、_ 或 .")),
        ],
    )
    name = StringField(_l("事项名称"), validators=[DataRequired(), Length(2, 200), Clean()])
    type = SelectField(_l("事项类型"), choices=options([(t.value, t.value) for t in MatterType]))
    department = SelectField(_l("实施部门"), validators=[DataRequired()])
    promised_days = StringField(_l("承诺时限(工作日)"), validators=[DataRequired(), Length(max=5)])
    statutory_days = StringField(_l("法定时限(工作日)"), validators=[DataRequired(), Length(max=5)])
    queue_category = SelectField(_l("排队类别"), validators=[DataRequired()])
    online = BooleanField(_l("网上可办"))
    materials = TextAreaField(
        _l("申报材料"), validators=[Optional(), Length(max=20000), Clean(multiline=True)]
    )
    conditions = TextAreaField(
        _l("审批条件"), validators=[Optional(), Length(max=4000), Clean(multiline=True)]
    )
    legal_basis = TextAreaField(
        _l("设定依据"), validators=[Optional(), Length(max=4000), Clean(multiline=True)]
    )
    fee = TextAreaField(_l("收费标准"), validators=[Optional(), Length(max=1000), Clean(True)])
    steps = StringField(_l("办理流程"), validators=[Optional(), Length(max=1000), Clean()])
    windows = StringField(_l("办理窗口"), validators=[Optional(), Length(max=500), Clean()])
    life_events = StringField(_l("生活事件"), validators=[Optional(), Length(max=500), Clean()])
    keywords = StringField(_l("关键词"), validators=[Optional(), Length(max=1000), Clean()])
    aliases = StringField(_l("别名"), validators=[Optional(), Length(max=1000), Clean()])


class ImportForm(AdminForm):
    file = FileField(_l("目录文件（.csv 或 .xlsx）"), validators=[FileRequired(_l("请选择文件"))])


def _choices(db: Session, form: MatterForm) -> None:
    form.department.choices = options(
        [
            (d.code, f"{d.code} {d.name}")
            for d in db.execute(select(Department).order_by(Department.code)).scalars()
        ]
    )
    prefixes = sorted(set(db.execute(select(QueueCategory.prefix)).scalars()))
    form.queue_category.choices = options([(p, p) for p in prefixes])


def _known(db: Session) -> tuple[set[str], set[str]]:
    departments = set(db.execute(select(Department.code)).scalars())
    categories = set(db.execute(select(QueueCategory.prefix)).scalars())
    return departments, categories


def _fill(form: MatterForm, spec: MatterSpec) -> None:
    cells = dict(zip((c.field for c in COLUMNS), _row_of(spec), strict=True))
    for name, value in cells.items():
        if name == "online":
            form.online.data = spec.online
        else:
            getattr(form, name).data = str(value)


def _spec_from(db: Session, form: MatterForm) -> MatterSpec | None:
    """The form through the import's row parser; problems become field errors."""
    cells: dict[str, object] = {
        column.field: getattr(form, column.field).data for column in COLUMNS
    }
    cells["online"] = "是" if form.online.data else "否"
    departments, categories = _known(db)
    spec, problems = _parse_row(cells, departments, categories)
    for problem in problems:
        target = getattr(form, problem.field or "code")
        target.errors = [*target.errors, problem.reason]
    return spec if not problems else None


def _matter(db: Session, code: str) -> Matter:
    matter = db.execute(select(Matter).where(Matter.code == code)).scalar_one_or_none()
    if matter is None:
        raise NotFound(_("事项 %(code)s 不存在", code=code))
    return matter


def _hall_ids(db: Session) -> list[int]:
    return list(db.execute(select(Hall.id)).scalars())


def _cells(version: MatterVersion) -> dict[str, str]:
    """A version as the spreadsheet shows it: the unit of the field-by-field diff."""
    return {
        column.field: str(value)
        for column, value in zip(COLUMNS, _row_of(version.as_spec()), strict=True)
    }


@blueprint.get("/catalog")
@readable
def catalog() -> str:
    search = request.args.get("q", "").strip()[:100]
    department = request.args.get("department", "")
    matter_type = request.args.get("type", "")
    state = request.args.get("state", "active")
    with ext().db.reading() as db:
        query = (
            select(Matter, MatterVersion, Department)
            .join(MatterVersion, MatterVersion.id == Matter.current_version_id)
            .join(Department, Department.id == MatterVersion.department_id)
        )
        query = search_filter(query, search, MatterVersion.code, MatterVersion.name)
        if department:
            query = query.where(Department.code == department)
        if matter_type:
            query = query.where(MatterVersion.type == matter_type)
        if state == "active":
            query = query.where(Matter.active.is_(True))
        elif state == "withdrawn":
            query = query.where(Matter.active.is_(False))
        total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = db.execute(query.order_by(MatterVersion.code).limit(PAGE_SIZE)).all()
        departments = list(db.execute(select(Department).order_by(Department.code)).scalars())
    return render_template(
        "admin/catalog/index.html",
        rows=rows,
        total=total,
        page_size=PAGE_SIZE,
        search=search,
        department=department,
        matter_type=matter_type,
        state=state,
        departments=departments,
        types=[t.value for t in MatterType],
    )


@blueprint.get("/catalog/m/<code>")
@readable
def catalog_detail(code: str) -> str:
    with ext().db.reading() as db:
        matter = _matter(db, code)
        versions = catalog_service.versions_of(db, code)
        current = next((v for v in versions if v.id == matter.current_version_id), versions[-1])
        department = db.get(Department, current.department_id)
        return render_template(
            "admin/catalog/detail.html",
            matter=matter,
            versions=list(reversed(versions)),
            current=current,
            spec=current.as_spec(),
            department=department,
            cells=_cells(current),
            headers=HEADERS,
        )


@blueprint.get("/catalog/m/<code>/diff")
@readable
def catalog_diff(code: str) -> str:
    first = request.args.get("a", type=int)
    second = request.args.get("b", type=int)
    with ext().db.reading() as db:
        _matter(db, code)
        versions = {v.version: v for v in catalog_service.versions_of(db, code)}
        if first not in versions or second not in versions:
            abort(404)
        older, newer = sorted((versions[first], versions[second]), key=lambda v: v.version)
        old_cells, new_cells = _cells(older), _cells(newer)
        rows = [
            (HEADERS[column.field], old_cells[column.field], new_cells[column.field])
            for column in COLUMNS
            if old_cells[column.field] != new_cells[column.field]
        ]
        return render_template(
            "admin/catalog/diff.html", code=code, older=older, newer=newer, rows=rows
        )


def _edit_page(form: MatterForm, matter: Matter | None, status: int = 200) -> Any:
    context = {"form": form, "matter": matter}
    if status != 200:
        return invalid("admin/catalog/edit.html", **context)
    return render_template("admin/catalog/edit.html", **context)


@blueprint.route("/catalog/new", methods=["GET", "POST"])
@permission_required(Resource.CATALOG, Access.WRITE)
def catalog_new() -> Any:
    form = MatterForm()
    with db_session() as db:
        _choices(db, form)
        if request.method == "GET":
            form.steps.data = " → ".join(("受理", "审核", "办结"))
            form.fee.data = "不收费"
            return _edit_page(form, None)
        spec = _spec_from(db, form) if form.validate_on_submit() else None
        exists = db.execute(select(Matter.id).where(Matter.code == form.code.data)).first()
        if exists:
            form.code.errors = [*form.code.errors, _("该事项编码已存在")]
        if spec is None or exists:
            return _edit_page(form, None, 400)
        catalog_service.upsert_matters(db, [spec], actor=actor(), hall_ids_to_notify=_hall_ids(db))
    flash(_("事项 %(code)s 已创建（第 1 版）", code=spec.code), "success")
    return redirect(url_for("admin.catalog_detail", code=spec.code))


@blueprint.route("/catalog/m/<code>/edit", methods=["GET", "POST"])
@permission_required(Resource.CATALOG, Access.WRITE)
def catalog_edit(code: str) -> Any:
    form = MatterForm()
    with db_session() as db:
        matter = _matter(db, code)
        current = db.get(MatterVersion, matter.current_version_id)
        assert current is not None
        _choices(db, form)
        if request.method == "GET":
            _fill(form, current.as_spec())
            return _edit_page(form, matter)
        form.code.data = code  # the code is the matter's identity and never changes
        spec = _spec_from(db, form) if form.validate_on_submit() else None
        if spec is None:
            return _edit_page(form, matter, 400)
        if spec.model_dump(mode="json") == current.spec:
            flash(_("没有改动，未生成新版本"), "info")
            return redirect(url_for("admin.catalog_detail", code=code))
        # Never edits a version: upsert appends the next one and points the matter at it.
        catalog_service.upsert_matters(db, [spec], actor=actor(), hall_ids_to_notify=_hall_ids(db))
        version = current.version + 1
    flash(_("已保存为第 %(n)d 版", n=version), "success")
    return redirect(url_for("admin.catalog_detail", code=code))


def _set_active(code: str, active: bool) -> Response:
    with ext().db.writing() as db:
        matter = _matter(db, code)
        if matter.active == active:
            flash(_("事项状态未变"), "info")
            return redirect(url_for("admin.catalog_detail", code=code))
        if active:
            matter.active = True
            audit(db, "catalog.restore", "matter", code, {})
        else:
            catalog_service.withdraw_matter(db, code, actor=actor())
        for hall_id in _hall_ids(db):
            eventlog.emit(db, hall_id, "catalog_changed", {"matter": code, "active": active})
    flash(_("事项已恢复") if active else _("事项已撤销（已登记的办件不受影响）"), "success")
    return redirect(url_for("admin.catalog_detail", code=code))


@blueprint.post("/catalog/m/<code>/withdraw")
@permission_required(Resource.CATALOG, Access.WRITE)
def catalog_withdraw(code: str) -> Response:
    return _set_active(code, False)


@blueprint.post("/catalog/m/<code>/restore")
@permission_required(Resource.CATALOG, Access.WRITE)
def catalog_restore(code: str) -> Response:
    return _set_active(code, True)


# ----------------------------------------------------------------------- import


def _import_dir() -> Path:
    directory: Path = ext().settings.var_dir / "admin-imports"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def _pending_import() -> tuple[Path, str] | None:
    pending = session.get("catalog_import") or {}
    token, suffix, name = pending.get("token"), pending.get("suffix"), pending.get("name", "")
    if not token or suffix not in (".csv", ".xlsx"):
        return None
    path = _import_dir() / f"{token}{suffix}"
    return (path, str(name)) if path.exists() else None


def _plan(db: Session, report: ImportReport) -> dict[str, list[str]]:
    """What confirming would do to each good row: new matter, new version, nothing."""
    codes = [spec.code for spec in report.matters]
    current = {
        version.code: (version.spec, matter.active)
        for matter, version in db.execute(
            select(Matter, MatterVersion)
            .join(MatterVersion, MatterVersion.id == Matter.current_version_id)
            .where(Matter.code.in_(codes))
        ).all()
    }
    plan: dict[str, list[str]] = {"created": [], "new_versions": [], "unchanged": []}
    for spec in report.matters:
        known = current.get(spec.code)
        if known is None:
            plan["created"].append(spec.code)
        elif known[0] == spec.model_dump(mode="json") and known[1]:
            plan["unchanged"].append(spec.code)
        else:
            plan["new_versions"].append(spec.code)
    return plan


def _read(db: Session, path: Path) -> ImportReport:
    departments, categories = _known(db)
    return read_catalog(path, known_departments=departments, known_categories=categories)


@blueprint.route("/catalog/import", methods=["GET", "POST"])
@permission_required(Resource.CATALOG, Access.WRITE)
def catalog_import() -> Any:
    form = ImportForm()
    if request.method == "GET":
        return render_template("admin/catalog/import.html", form=form, report=None)
    if not form.validate_on_submit():
        return invalid("admin/catalog/import.html", form=form, report=None)
    upload = form.file.data
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        form.file.errors = [_("只接受 .csv 或 .xlsx 文件")]
        return invalid("admin/catalog/import.html", form=form, report=None)
    data = upload.read(IMPORT_LIMIT_BYTES + 1)
    if len(data) > IMPORT_LIMIT_BYTES:
        form.file.errors = [_("文件超过 10 MB")]
        return invalid("admin/catalog/import.html", form=form, report=None)
    previous = _pending_import()
    if previous is not None:
        previous[0].unlink(missing_ok=True)
    token = secrets.token_hex(16)
    path = _import_dir() / f"{token}{suffix}"
    path.write_bytes(data)
    name = Path(upload.filename or "").name[:100]
    try:
        with ext().db.reading() as db:
            report = _read(db, path)
            plan = _plan(db, report)
    except CatalogFileError as error:
        path.unlink(missing_ok=True)
        form.file.errors = [str(error)]
        return invalid("admin/catalog/import.html", form=form, report=None)
    session["catalog_import"] = {"token": token, "suffix": suffix, "name": name}
    return render_template(
        "admin/catalog/import.html",
        form=form,
        report=report,
        plan=plan,
        file_name=name,
        token=token,
    )


@blueprint.post("/catalog/import/confirm")
@permission_required(Resource.CATALOG, Access.WRITE)
def catalog_import_confirm() -> Response:
    pending = _pending_import()
    stored = (session.get("catalog_import") or {}).get("token")
    # The token ties the confirmation to the dry run this browser saw.
    if pending is None or request.form.get("token") != stored:
        flash(_("没有待确认的导入，请重新上传文件"), "error")
        return redirect(url_for("admin.catalog_import"))
    path, name = pending
    with ext().db.writing() as db:
        report = _read(db, path)
        if report.errors and request.form.get("skip_bad") != "1":
            flash(_("文件有错误行：请勾选“跳过错误行”后再确认，或修正文件后重新上传"), "error")
            return redirect(url_for("admin.catalog_import"))
        result = catalog_service.upsert_matters(
            db, report.matters, actor=actor(), hall_ids_to_notify=_hall_ids(db)
        )
        audit(
            db,
            "catalog.import",
            "catalog",
            name or "-",
            {
                "rows": report.rows_read,
                "bad_rows": len({error.row for error in report.errors}),
                "created": result.created,
                "new_versions": result.new_versions,
                "unchanged": result.unchanged,
            },
        )
    path.unlink(missing_ok=True)
    session.pop("catalog_import", None)
    flash(
        _(
            "导入完成：新增 %(created)d 项，新版本 %(versions)d 项，未变 %(unchanged)d 项",
            created=result.created,
            versions=result.new_versions,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for("admin.catalog"))


@blueprint.get("/catalog/export.<fmt>")
@readable
def catalog_export(fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    with ext().db.reading() as db:
        specs = [version.as_spec() for version, _department in catalog_service.all_current(db)]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"catalog.{fmt}"
        try:
            write_catalog(specs, path)
        except CatalogFileError as error:
            flash(str(error), "error")
            return redirect(url_for("admin.catalog"))
        data = path.read_bytes()
    return send_file(
        io.BytesIO(data),
        as_attachment=True,
        download_name=f"事项目录.{fmt}",
        mimetype="text/csv"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
