"""工作人员: accounts, roles, A/B posts (AB岗), photos, deactivation and password resets.

- A new account and a reset get a generated password, shown once on the page
  that answers the POST (never stored in clear, never in a redirect or a log).
- Deactivating or resetting ends the person's sessions (their tokens are revoked).
- The last active administrator can neither be deactivated nor lose the role,
  and nobody deactivates themselves: a hall must never lock itself out.
- Photos (window displays show them) are checked by content, not by name:
  JPEG/PNG/WebP, at most 2 MB and 40 megapixels, then re-encoded as a JPEG of at
  most 600×720 (which also drops EXIF data such as GPS positions) and stored
  under <upload_dir>/photos/ with a random name.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

from flask import abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from backend.errors import BadInput, NotFound
from backend.models import ApiToken, Department, Hall, Role, Staff, StaffPost, Window
from backend.services.auth import hash_password
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    admin_only,
    audit,
    audit_changes,
    done,
    ext,
    found,
    generated_secret,
    invalid,
    options,
    readable,
    search_filter,
    snapshot,
)
from backend.web.auth import ROLE_LABELS, current_staff

PHOTO_LIMIT_BYTES = 2 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_BOX = (600, 720)
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
PAGE_SIZE = 300


class StaffForm(AdminForm):
    employee_no = StringField(
        _l("工号"),
        validators=[
            DataRequired(),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$", message=_l("字母、数字、_ 和 -，2-32 位")),
        ],
    )
    name = StringField(_l("姓名"), validators=[DataRequired(), Length(1, 100), Clean()])
    department = SelectField(_l("部门"), coerce=int)
    roles = SelectMultipleField(
        _l("角色"),
        choices=options([(k, v) for k, v in ROLE_LABELS.items()]),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class PostForm(AdminForm):
    window = SelectField(_l("窗口"), coerce=int)
    post = SelectField(_l("岗位"), choices=options([("A", _l("A岗")), ("B", _l("B岗"))]))


class PhotoForm(AdminForm):
    photo = FileField(
        _l("照片（JPEG/PNG/WebP，≤2 MB）"), validators=[FileRequired(_l("请选择照片"))]
    )


def _department_choices(db: Session, form: StaffForm) -> None:
    form.department.choices = options(
        [(0, "—")]
        + [
            (d.id, d.name)
            for d in db.execute(select(Department).order_by(Department.code)).scalars()
        ]
    )


def _staff(db: Session, staff_id: int) -> Staff:
    return found(db, Staff, staff_id, _("工作人员不存在"))


def _other_active_admins(db: Session, staff_id: int) -> int:
    return sum(
        1
        for roles in db.execute(
            select(Staff.roles).where(Staff.active.is_(True), Staff.id != staff_id)
        ).scalars()
        if Role.ADMINISTRATOR.value in roles
    )


def _revoke_sessions(db: Session, staff_id: int) -> None:
    db.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == staff_id, ApiToken.revoked.is_(False))
        .values(revoked=True)
    )
    ext().tokens.clear()


@blueprint.get("/staff")
@readable
def staff() -> str:
    search = request.args.get("q", "").strip()[:50]
    department = request.args.get("department", type=int)
    active = request.args.get("active", "1")
    with ext().db.reading() as db:
        query = select(Staff, Department).outerjoin(
            Department, Department.id == Staff.department_id
        )
        query = search_filter(query, search, Staff.employee_no, Staff.name)
        if department:
            query = query.where(Staff.department_id == department)
        if active in ("0", "1"):
            query = query.where(Staff.active.is_(active == "1"))
        total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = db.execute(query.order_by(Staff.employee_no).limit(PAGE_SIZE)).all()
        posts: dict[int, list[str]] = {}
        for staff_id, number, post in db.execute(
            select(StaffPost.staff_id, Window.number, StaffPost.post)
            .join(Window, Window.id == StaffPost.window_id)
            .where(StaffPost.staff_id.in_([s.id for s, _d in rows]))
        ).all():
            posts.setdefault(staff_id, []).append(f"{number}{post}")
        departments = list(db.execute(select(Department).order_by(Department.code)).scalars())
    return render_template(
        "admin/staff/index.html",
        rows=rows,
        total=total,
        page_size=PAGE_SIZE,
        posts=posts,
        departments=departments,
        search=search,
        department=department,
        active=active,
        role_labels=ROLE_LABELS,
    )


def _secret_page(person: Staff, password: str, created: bool) -> str:
    # Rendered as the answer to the POST (no redirect), so it is shown exactly once.
    return render_template(
        "admin/staff/secret.html", person=person, password=password, created=created
    )


@blueprint.route("/staff/new", methods=["GET", "POST"])
@admin_only
def staff_new() -> Any:
    form = StaffForm()
    database = ext().db
    with database.reading() if request.method == "GET" else database.writing() as db:
        _department_choices(db, form)
        if request.method == "GET":
            form.roles.data = [Role.CLERK.value]
            return render_template("admin/staff/edit.html", form=form, person=None)
        if not form.validate_on_submit():
            return invalid("admin/staff/edit.html", form=form, person=None)
        taken = db.execute(select(Staff.id).where(Staff.employee_no == form.employee_no.data))
        if taken.first():
            form.employee_no.errors = [_("该工号已存在")]
            return invalid("admin/staff/edit.html", form=form, person=None)
        password = generated_secret()
        person = Staff(
            employee_no=form.employee_no.data,
            name=form.name.data,
            department_id=form.department.data or None,
            roles=sorted(form.roles.data or []),
            password_hash=hash_password(password),
            active=True,
        )
        db.add(person)
        db.flush()
        audit(
            db,
            "staff.create",
            "staff",
            person.id,
            {
                "employee_no": person.employee_no,
                "name": person.name,
                "department_id": person.department_id,
                "roles": person.roles,
            },
        )
        db.refresh(person)
    return _secret_page(person, password, created=True)


def _detail_context(db: Session, person: Staff, form: StaffForm) -> dict[str, Any]:
    posts = db.execute(
        select(StaffPost, Window, Hall)
        .join(Window, Window.id == StaffPost.window_id)
        .join(Hall, Hall.id == Window.hall_id)
        .where(StaffPost.staff_id == person.id)
        .order_by(Hall.id, Window.number)
    ).all()
    post_form = PostForm(formdata=None)
    windows = db.execute(
        select(Window, Hall).join(Hall, Hall.id == Window.hall_id).order_by(Hall.id, Window.id)
    ).all()
    post_form.window.choices = options([(w.id, f"{h.name} {w.number}") for w, h in windows])
    return {
        "form": form,
        "person": person,
        "posts": posts,
        "post_form": post_form,
        "photo_form": PhotoForm(formdata=None),
    }


@blueprint.get("/staff/<int:staff_id>")
@admin_only
def staff_edit(staff_id: int) -> str:
    form = StaffForm(formdata=None)
    with ext().db.reading() as db:
        person = _staff(db, staff_id)
        _department_choices(db, form)
        form.employee_no.data = person.employee_no
        form.name.data = person.name
        form.department.data = person.department_id or 0
        form.roles.data = list(person.roles)
        return render_template("admin/staff/edit.html", **_detail_context(db, person, form))


STAFF_FIELDS = ("name", "department_id", "roles")


@blueprint.post("/staff/<int:staff_id>")
@admin_only
def staff_update(staff_id: int) -> Any:
    form = StaffForm()
    with ext().db.writing() as db:
        person = _staff(db, staff_id)
        _department_choices(db, form)
        form.employee_no.data = person.employee_no  # the sign-in name; fixed
        context = _detail_context(db, person, form)
        if not form.validate_on_submit():
            return invalid("admin/staff/edit.html", **context)
        roles = sorted(form.roles.data or [])
        if (
            Role.ADMINISTRATOR.value in person.roles
            and Role.ADMINISTRATOR.value not in roles
            and person.active
            and _other_active_admins(db, person.id) == 0
        ):
            form.roles.errors = [_("这是唯一在用的系统管理员，不能取消其管理员角色")]
            return invalid("admin/staff/edit.html", **context)
        before = snapshot(person, STAFF_FIELDS)
        person.name = form.name.data
        person.department_id = form.department.data or None
        person.roles = roles
        diff = audit_changes(
            db, "staff.update", "staff", person.id, before, snapshot(person, STAFF_FIELDS)
        )
        if "roles" in diff:
            _revoke_sessions(db, person.id)  # the roles live in the session's principal
    return done(_("已保存"), "admin.staff_edit", staff_id=staff_id)


@blueprint.post("/staff/<int:staff_id>/active")
@admin_only
def staff_active(staff_id: int) -> Response:
    make_active = request.form.get("active") == "1"
    with ext().db.writing() as db:
        person = _staff(db, staff_id)
        if not make_active:
            if person.id == current_staff().staff_id:
                raise BadInput(_("不能停用自己的账号"))
            if (
                Role.ADMINISTRATOR.value in person.roles
                and _other_active_admins(db, person.id) == 0
            ):
                raise BadInput(_("这是唯一在用的系统管理员，不能停用"))
        if person.active != make_active:
            person.active = make_active
            if not make_active:
                _revoke_sessions(db, person.id)
            audit(
                db, "staff.activate" if make_active else "staff.deactivate", "staff", person.id, {}
            )
    return done(
        _("账号已启用") if make_active else _("账号已停用"), "admin.staff_edit", staff_id=staff_id
    )


@blueprint.post("/staff/<int:staff_id>/password")
@admin_only
def staff_password(staff_id: int) -> str:
    password = generated_secret()
    with ext().db.writing() as db:
        person = _staff(db, staff_id)
        person.password_hash = hash_password(password)
        person.failed_logins = 0
        person.locked_until = None
        _revoke_sessions(db, person.id)
        audit(db, "staff.password_reset", "staff", person.id, {})
        db.flush()
        db.refresh(person)
    return _secret_page(person, password, created=False)


@blueprint.post("/staff/<int:staff_id>/posts")
@admin_only
def staff_post_add(staff_id: int) -> Response:
    form = PostForm()
    with ext().db.writing() as db:
        person = _staff(db, staff_id)
        form.window.choices = options(
            [(w, str(w)) for w in db.execute(select(Window.id)).scalars()]
        )
        if not form.validate_on_submit():
            raise BadInput(_("请选择窗口和岗位"))
        exists = db.execute(
            select(StaffPost.id).where(
                StaffPost.staff_id == person.id,
                StaffPost.window_id == form.window.data,
                StaffPost.post == form.post.data,
            )
        ).first()
        if exists:
            raise BadInput(_("已在该窗口的此岗位"))
        db.add(StaffPost(staff_id=person.id, window_id=form.window.data, post=form.post.data))
        audit(
            db,
            "staff.post_add",
            "staff",
            person.id,
            {"window_id": form.window.data, "post": form.post.data},
        )
    return done(_("岗位已添加"), "admin.staff_edit", staff_id=staff_id)


@blueprint.post("/staff/<int:staff_id>/posts/<int:post_id>/delete")
@admin_only
def staff_post_delete(staff_id: int, post_id: int) -> Response:
    with ext().db.writing() as db:
        post = db.get(StaffPost, post_id)
        if post is None or post.staff_id != staff_id:
            raise NotFound(_("岗位不存在"))
        audit(
            db,
            "staff.post_remove",
            "staff",
            staff_id,
            {"window_id": post.window_id, "post": post.post},
        )
        db.delete(post)
    return done(_("岗位已移除"), "admin.staff_edit", staff_id=staff_id)


# ----------------------------------------------------------------------- photos


def _photo_dir() -> Path:
    directory: Path = ext().settings.upload_dir / "photos"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def normalised_photo(data: bytes) -> bytes:
    """The upload as a small JPEG, or BadInput saying why it is refused."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > PHOTO_LIMIT_BYTES:
        raise BadInput(_("照片不能超过 2 MB"))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in PHOTO_FORMATS:
                raise BadInput(_("只接受 JPEG、PNG 或 WebP 格式的照片"))
            width, height = probe.size
            if width * height > PHOTO_MAX_PIXELS:
                raise BadInput(_("照片像素过多"))
            probe.verify()
        with Image.open(io.BytesIO(data)) as opened:
            upright = ImageOps.exif_transpose(opened).convert("RGB")
            upright.thumbnail(PHOTO_BOX)
            out = io.BytesIO()
            upright.save(out, "JPEG", quality=85)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise BadInput(_("无法识别的图片文件")) from None
    return out.getvalue()


@blueprint.post("/staff/<int:staff_id>/photo")
@admin_only
def staff_photo(staff_id: int) -> Response:
    form = PhotoForm()
    if not form.validate_on_submit():
        raise BadInput(_("请选择照片"))
    jpeg = normalised_photo(form.photo.data.read(PHOTO_LIMIT_BYTES + 1))
    directory = _photo_dir()
    name = f"{staff_id}-{secrets.token_hex(8)}.jpg"
    (directory / name).write_bytes(jpeg)
    old = ""
    try:
        with ext().db.writing() as db:
            person = _staff(db, staff_id)
            old = person.photo_path
            person.photo_path = f"photos/{name}"
            audit(db, "staff.photo", "staff", person.id, {"photo": person.photo_path})
    except BaseException:
        (directory / name).unlink(missing_ok=True)
        raise
    if old.startswith("photos/"):
        (directory / Path(old).name).unlink(missing_ok=True)
    return done(_("照片已更新"), "admin.staff_edit", staff_id=staff_id)


@blueprint.get("/staff/<int:staff_id>/photo")
@readable
def staff_photo_file(staff_id: int) -> Response:
    with ext().db.reading() as db:
        person = _staff(db, staff_id)
        stored = person.photo_path
    if not stored.startswith("photos/"):
        abort(404)
    path = _photo_dir() / Path(stored).name  # only a name: never a path out of the directory
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=0)
