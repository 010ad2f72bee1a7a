"""Administration pages through the Flask test client, on SQLite and PostgreSQL.

Each area's main flow, who may read and change, CSRF, that a refused form
changes nothing, and that every change leaves an audit entry.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.catalog.spreadsheet import COLUMNS, _row_of
from backend.db import Database
from backend.models import (
    ApiToken,
    Appointment,
    AppointmentState,
    AuditEntry,
    BadRatingReason,
    Department,
    Floor,
    Hall,
    HallEvent,
    HallKind,
    Matter,
    MatterVersion,
    Notice,
    QueueCategory,
    Staff,
    StaffPost,
    Window,
    WindowCategory,
    WindowDepartment,
    WorkdayOverride,
)
from backend.services.auth import hash_token
from backend.services.calendar import calendar_for
from tests.web.helpers import Browser

ADMIN = "BH9101"
SUPERVISOR = "BH9003"
CLERK = "BH0101"

READ_PAGES = [
    "/admin",
    "/admin/catalog",
    "/admin/catalog/m/GS-001",
    "/admin/halls",
    "/admin/departments",
    "/admin/windows",
    "/admin/staff",
    "/admin/queue",
    "/admin/appointments",
    "/admin/notices",
    "/admin/calendar",
    "/admin/devices",
    "/admin/rating-reasons",
]
ADMIN_ONLY_PAGES = [
    "/admin/catalog/new",
    "/admin/catalog/m/GS-001/edit",
    "/admin/catalog/import",
    "/admin/staff/new",
    "/admin/windows/new",
    "/admin/notices/new",
]


@pytest.fixture
def admin(browser: Browser) -> Browser:
    assert browser.sign_in(ADMIN).status_code == 302
    return browser


def audits(db: Database, action: str) -> list[AuditEntry]:
    with db.reading() as session:
        return list(
            session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            ).scalars()
        )


def count(db: Database, model: Any, *where: Any) -> int:
    with db.reading() as session:
        return int(
            session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )


def bh(db: Database) -> Hall:
    with db.reading() as session:
        return session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# ------------------------------------------------------------------ access


def test_every_admin_page_renders(admin: Browser) -> None:
    for path in READ_PAGES + ADMIN_ONLY_PAGES:
        response = admin.get(path)
        assert response.status_code == 200, (path, text(response)[:2000])
    assert "系统管理" in text(admin.get("/workbench"))  # in the navigation


def test_pages_need_an_administrator(browser: Browser) -> None:
    assert browser.get("/admin/catalog").status_code == 302  # not signed in: sign-in page
    assert browser.sign_in(CLERK).status_code == 302
    for path in READ_PAGES:
        assert browser.get(path).status_code == 403, path
    refused = browser.post("/admin/rating-reasons", {"text": "排队太久"})
    assert refused.status_code == 403
    assert "系统管理" not in text(browser.get("/workbench"))


def test_supervisor_reads_lists_but_changes_nothing(browser: Browser, db: Database) -> None:
    assert browser.sign_in(SUPERVISOR).status_code == 302
    for path in READ_PAGES:
        response = browser.get(path)
        assert response.status_code == 200, path
    catalog = text(browser.get("/admin/catalog/m/GS-001"))
    assert "编辑（生成新版本）" not in catalog and "撤销事项" not in catalog
    for path in ADMIN_ONLY_PAGES:
        assert browser.get(path).status_code == 403, path
    assert browser.post("/admin/catalog/m/GS-001/withdraw").status_code == 403
    assert browser.post("/admin/rating-reasons", {"text": "排队太久"}).status_code == 403
    assert count(db, Matter, Matter.active.is_(False)) == 0
    assert count(db, BadRatingReason, BadRatingReason.text == "排队太久") == 0


def test_csrf_is_required_and_a_forged_post_changes_nothing(admin: Browser, db: Database) -> None:
    before = count(db, BadRatingReason)
    assert admin.post("/admin/rating-reasons", {"text": "排队太久"}, csrf=False).status_code == 400
    forged = {"text": "排队太久", "csrf_token": "forged"}
    assert admin.post("/admin/rating-reasons", forged, csrf=False).status_code == 400
    assert admin.post("/admin/catalog/m/GS-001/withdraw", csrf=False).status_code == 400
    assert count(db, BadRatingReason) == before
    assert count(db, Matter, Matter.active.is_(False)) == 0


# ----------------------------------------------------------------- catalog


def matter_form(db: Database, source: str, **changes: str) -> dict[str, str]:
    with db.reading() as session:
        version = session.execute(
            select(MatterVersion)
            .join(Matter, Matter.current_version_id == MatterVersion.id)
            .where(Matter.code == source)
        ).scalar_one()
        cells = {
            column.field: str(value)
            for column, value in zip(COLUMNS, _row_of(version.as_spec()), strict=True)
        }
    form = {k: v for k, v in cells.items() if k != "online"}
    if cells["online"] == "是":
        form["online"] = "y"
    form.update(changes)
    return form


def versions(db: Database, code: str) -> list[MatterVersion]:
    with db.reading() as session:
        return list(
            session.execute(
                select(MatterVersion)
                .where(MatterVersion.code == code)
                .order_by(MatterVersion.version)
            ).scalars()
        )


def test_editing_a_matter_adds_a_version_and_the_diff_shows_the_fields(
    admin: Browser, db: Database
) -> None:
    original = versions(db, "GS-001")
    assert [v.version for v in original] == [1]
    form = matter_form(db, "GS-001", name="企业设立登记（有限公司）", promised_days="2")
    response = admin.post("/admin/catalog/m/GS-001/edit", form)
    assert response.status_code == 302, text(response)[:3000]
    after = versions(db, "GS-001")
    assert [v.version for v in after] == [1, 2]
    assert after[0].name == original[0].name and after[0].spec == original[0].spec  # untouched
    assert after[1].name == "企业设立登记（有限公司）" and after[1].promised_days == 2
    assert after[1].created_by == f"staff:{ADMIN}"
    detail = text(admin.get("/admin/catalog/m/GS-001"))
    assert 'data-current-version="2"' in detail
    diff = text(admin.get("/admin/catalog/m/GS-001/diff?a=1&b=2"))
    assert 'data-diff-field="事项名称"' in diff and 'data-diff-field="承诺时限(工作日)"' in diff
    assert 'data-diff-field="申报材料"' not in diff  # unchanged fields are not listed
    assert audits(db, "catalog.upsert")[-1].detail == {"created": 0, "new_versions": 1}
    with db.reading() as session:
        kinds = session.execute(select(HallEvent.kind).where(HallEvent.kind == "catalog_changed"))
        assert kinds.first() is not None
    # Saving the same content again is not a new version.
    same = admin.post("/admin/catalog/m/GS-001/edit", matter_form(db, "GS-001"))
    assert same.status_code == 302 and len(versions(db, "GS-001")) == 2


def test_aliases_are_maintained_on_the_edit_page_and_searched_at_once(
    admin: Browser, db: Database
) -> None:
    edit_page = text(admin.get("/admin/catalog/m/GS-002/edit"))
    assert 'name="aliases"' in edit_page
    form = matter_form(db, "GS-002", aliases="工商变更、老字号变更；执照变更")
    response = admin.post("/admin/catalog/m/GS-002/edit", form)
    assert response.status_code == 302, text(response)[:3000]
    assert versions(db, "GS-002")[-1].spec["aliases"] == ["工商变更", "老字号变更", "执照变更"]
    diff = text(admin.get("/admin/catalog/m/GS-002/diff?a=1&b=2"))
    assert 'data-diff-field="别名"' in diff
    found = admin.client.get("/api/v1/catalog/search?q=lzhbg").get_json()
    assert found["results"][0]["code"] == "GS-002"
    assert found["results"][0]["matched"] == "alias_pinyin"
    # A one-character alias is refused with the row parser's reason; nothing is saved.
    refused = admin.post("/admin/catalog/m/GS-002/edit", matter_form(db, "GS-002", aliases="变"))
    assert refused.status_code == 400 and "至少 2 个字符" in text(refused)
    assert len(versions(db, "GS-002")) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"promised_days": "9"}, "超过法定时限"),
        ({"promised_days": "1.5"}, "应为整数"),
        ({"name": "企业\x00设立"}, "控制字符"),
        ({"department": "NOPE"}, 'data-error-for="department"'),
        ({"materials": "身份证|扫描件"}, "形式应为"),
    ],
)
def test_a_bad_matter_edit_is_refused_and_changes_nothing(
    admin: Browser, db: Database, changes: dict[str, str], message: str
) -> None:
    response = admin.post("/admin/catalog/m/GS-001/edit", matter_form(db, "GS-001", **changes))
    assert response.status_code == 400
    assert message in text(response)
    assert len(versions(db, "GS-001")) == 1
    assert [a for a in audits(db, "catalog.upsert") if a.actor == f"staff:{ADMIN}"] == []


def test_new_matter_withdraw_and_restore(admin: Browser, db: Database) -> None:
    form = matter_form(db, "GS-001", code="GS-901", name="测试事项")
    assert admin.post("/admin/catalog/new", form).status_code == 302
    assert [v.version for v in versions(db, "GS-901")] == [1]
    duplicate = admin.post("/admin/catalog/new", form)
    assert duplicate.status_code == 400 and "已存在" in text(duplicate)
    assert admin.post("/admin/catalog/m/GS-901/withdraw").status_code == 302
    assert count(db, Matter, Matter.code == "GS-901", Matter.active.is_(False)) == 1
    listed = text(admin.get("/admin/catalog?state=withdrawn"))
    assert 'data-matter="GS-901"' in listed and 'data-matter="GS-001"' not in listed
    assert admin.post("/admin/catalog/m/GS-901/restore").status_code == 302
    assert count(db, Matter, Matter.code == "GS-901", Matter.active.is_(True)) == 1
    assert len(versions(db, "GS-901")) == 1  # restoring is not a new version
    assert [a.action for a in audits(db, "catalog.withdraw")] == ["catalog.withdraw"]
    assert audits(db, "catalog.restore")[0].actor == f"staff:{ADMIN}"


def test_catalog_search_and_filters(admin: Browser) -> None:
    page = text(admin.get("/admin/catalog?q=GS-00&department=GS"))
    assert 'data-matter="GS-001"' in page
    assert 'data-matter="GS-001"' not in text(admin.get("/admin/catalog?department=DS"))
    assert 'data-matter="GS-001"' not in text(admin.get("/admin/catalog?q=%25%25"))


def exported(admin: Browser, fmt: str) -> bytes:
    response = admin.get(f"/admin/catalog/export.{fmt}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    return bytes(response.data)


def test_import_dry_run_lists_every_bad_row_and_confirm_imports_only_on_request(
    admin: Browser, db: Database
) -> None:
    rows = list(csv.reader(io.StringIO(exported(admin, "csv").decode("utf-8-sig"))))
    header, gs001 = rows[0], next(row for row in rows if row[0] == "GS-001")
    promised = header.index("承诺时限(工作日)")
    new = ["GS-903", *gs001[1:]]
    bad = ["GS-902", *gs001[1:]]
    bad[promised] = "9"  # 承诺 9 > 法定 3
    out = io.StringIO()
    csv.writer(out).writerows([header, new, bad])
    upload = out.getvalue().encode("utf-8-sig")
    dry = admin.post(
        "/admin/catalog/import",
        {"file": (io.BytesIO(upload), "目录.csv")},
        content_type="multipart/form-data",
    )
    page = text(dry)
    assert dry.status_code == 200, page[:3000]
    assert 'data-error-row="3"' in page and "超过法定时限" in page and "GS-902" in page
    assert "<dd data-plan-created>1</dd>" in page
    assert count(db, Matter, Matter.code.in_(["GS-902", "GS-903"])) == 0  # a dry run writes nothing
    token = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert token
    refused = admin.post("/admin/catalog/import/confirm", {"token": token.group(1)})
    assert refused.status_code == 302 and count(db, Matter, Matter.code == "GS-903") == 0
    wrong = admin.post("/admin/catalog/import/confirm", {"token": "0" * 32, "skip_bad": "1"})
    assert wrong.status_code == 302 and count(db, Matter, Matter.code == "GS-903") == 0
    done = admin.post("/admin/catalog/import/confirm", {"token": token.group(1), "skip_bad": "1"})
    assert done.status_code == 302
    assert count(db, Matter, Matter.code == "GS-903") == 1
    assert count(db, Matter, Matter.code == "GS-902") == 0
    entry = audits(db, "catalog.import")[0]
    assert entry.detail["created"] == 1 and entry.detail["bad_rows"] == 1


def test_import_refuses_other_files(admin: Browser) -> None:
    response = admin.post(
        "/admin/catalog/import",
        {"file": (io.BytesIO(b"MZ\x90\x00"), "catalog.exe")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and ".csv 或 .xlsx" in text(response)
    broken = admin.post(
        "/admin/catalog/import",
        {"file": (io.BytesIO(b"not a zip"), "catalog.xlsx")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 400 and "无法读取 Excel 文件" in text(broken)


def test_exported_xlsx_reimports_unchanged(admin: Browser, db: Database) -> None:
    data = exported(admin, "xlsx")
    dry = admin.post(
        "/admin/catalog/import",
        {"file": (io.BytesIO(data), "x.xlsx")},
        content_type="multipart/form-data",
    )
    page = text(dry)
    total = count(db, Matter)
    assert "<dd data-error-count>0</dd>" in page and f"<dd data-rows-read>{total}</dd>" in page
    assert "<dd data-plan-created>0</dd>" in page and "<dd data-plan-versions>0</dd>" in page


# ------------------------------------------------------ halls and departments


def hall_form(**changes: Any) -> dict[str, Any]:
    form = {
        "code": "BH-XS-09",
        "name": "杏山街道测试代办站",
        "kind": "station",
        "parent": "0",
        "run_by": "0",
        "address": "",
    }
    form.update(changes)
    return form


def test_hall_hierarchy_is_enforced(admin: Browser, db: Database) -> None:
    with db.reading() as session:
        centre = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        subcentre = session.execute(select(Hall.id).where(Hall.code == "BH-XS")).scalar_one()
    before = count(db, Hall)
    wrong = admin.post("/admin/halls/new", hall_form(parent=str(centre)))
    assert wrong.status_code == 400 and "上级必须是分中心" in text(wrong)
    hostile = admin.post("/admin/halls/new", hall_form(code="bh/../x", parent=str(subcentre)))
    assert hostile.status_code == 400
    assert count(db, Hall) == before
    created = admin.post("/admin/halls/new", hall_form(parent=str(subcentre)))
    assert created.status_code == 302
    with db.reading() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH-XS-09")).scalar_one()
        assert hall.kind is HallKind.STATION and hall.parent_id == subcentre
    assert 'data-hall="BH-XS-09"' in text(admin.get("/admin/halls"))
    renamed = admin.post(
        f"/admin/halls/{hall.id}", hall_form(name="杏山代办站", parent=str(subcentre), code="HACK")
    )
    assert renamed.status_code == 302
    with db.reading() as session:
        again = session.get(Hall, hall.id)
        assert again is not None and again.name == "杏山代办站" and again.code == "BH-XS-09"
    assert audits(db, "hall.update")[0].detail == {"name": ["杏山街道测试代办站", "杏山代办站"]}
    # Floors: added, refused twice, deleted while unused.
    assert (
        admin.post(f"/admin/halls/{hall.id}/floors", {"number": "1", "name": "一楼"}).status_code
        == 302
    )
    assert (
        admin.post(f"/admin/halls/{hall.id}/floors", {"number": "1", "name": "一楼"}).status_code
        == 302
    )
    assert count(db, Floor, Floor.hall_id == hall.id) == 1


def test_departments_create_edit_and_duplicates(admin: Browser, db: Database) -> None:
    form = {"code": "WSJ", "name": "卫生健康局", "short_name": "卫健", "line": "二楼社会服务线"}
    assert admin.post("/admin/departments/new", form).status_code == 302
    again = admin.post("/admin/departments/new", form)
    assert again.status_code == 400 and "已存在" in text(again)
    with db.reading() as session:
        department = session.execute(
            select(Department).where(Department.code == "WSJ")
        ).scalar_one()
    edit = admin.post(f"/admin/departments/{department.id}", {**form, "short_name": "卫健局"})
    assert edit.status_code == 302
    assert audits(db, "department.update")[0].detail == {"short_name": ["卫健", "卫健局"]}
    assert len(audits(db, "department.create")) == 1


# ------------------------------------------------------------------ windows


def test_window_departments_and_weighted_categories(admin: Browser, db: Database) -> None:
    with db.reading() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        window = session.execute(
            select(Window).where(Window.hall_id == hall.id, Window.number == "1")
        ).scalar_one()
        categories = {
            c.prefix: c.id
            for c in session.execute(
                select(QueueCategory).where(QueueCategory.hall_id == hall.id)
            ).scalars()
        }
        gs = session.execute(select(Department.id).where(Department.code == "GS")).scalar_one()
    form = {
        "number": "1",
        "name": "工商综合",
        "floor": "0",
        "departments": [str(gs)],
        f"weight_{categories['A']}": "5",
        f"weight_{categories['Z']}": "1",
    }
    response = admin.post(f"/admin/windows/{window.id}", form)
    assert response.status_code == 302, text(response)[:3000]
    with db.reading() as session:
        weights = dict(
            session.execute(
                select(WindowCategory.category_id, WindowCategory.weight).where(
                    WindowCategory.window_id == window.id
                )
            ).all()
        )
        assert weights == {categories["A"]: 5, categories["Z"]: 1}
        assert list(
            session.execute(
                select(WindowDepartment.department_id).where(
                    WindowDepartment.window_id == window.id
                )
            ).scalars()
        ) == [gs]
    assert audits(db, "window.update")
    taken = admin.post(f"/admin/windows/{window.id}", {**form, "number": "2"})
    assert taken.status_code == 400 and "已有此窗口号" in text(taken)
    negative = admin.post(
        f"/admin/windows/{window.id}", {**form, f"weight_{categories['A']}": "-3"}
    )
    assert negative.status_code == 400
    with db.reading() as session:
        assert session.get(Window, window.id).number == "1"  # type: ignore[union-attr]
    page = text(admin.get("/admin/windows?hall=BH"))
    assert "A<sub>5</sub>" in page


def test_window_state_goes_through_the_queue_service(admin: Browser, db: Database) -> None:
    with db.reading() as session:
        window = session.execute(
            select(Window).join(Hall).where(Hall.code == "BH", Window.number == "3")
        ).scalar_one()
    assert admin.post(f"/admin/windows/{window.id}/state", {"state": "resting"}).status_code == 302
    assert audits(db, "window.state")[-1].detail["to"] == "resting"
    with db.reading() as session:
        assert session.execute(select(HallEvent).where(HallEvent.kind == "window_state")).first()


# -------------------------------------------------------------------- staff


def new_staff(admin: Browser, **changes: Any) -> Any:
    form = {"employee_no": "BH7001", "name": "测试员", "department": "0", "roles": ["clerk"]}
    form.update(changes)
    return admin.post("/admin/staff/new", form)


def shown_secret(response: Any) -> str:
    found = re.search(r"data-secret>([^<]+)<", text(response))
    assert found, text(response)[:2000]
    return found.group(1)


def test_staff_created_with_a_password_shown_once(
    admin: Browser, db: Database, client: Any
) -> None:
    response = new_staff(admin)
    assert response.status_code == 200
    password = shown_secret(response)
    with db.reading() as session:
        person = session.execute(select(Staff).where(Staff.employee_no == "BH7001")).scalar_one()
        assert person.roles == ["clerk"] and password not in person.password_hash
    assert audits(db, "staff.create")[0].detail["employee_no"] == "BH7001"
    assert password not in str(audits(db, "staff.create")[0].detail)
    assert password not in text(admin.get(f"/admin/staff/{person.id}"))
    other = Browser(client.application.test_client())
    assert other.sign_in("BH7001", password=password).status_code == 302
    duplicate = new_staff(admin)
    assert duplicate.status_code == 400 and "已存在" in text(duplicate)
    assert new_staff(admin, employee_no="BH7002", roles=["root"]).status_code == 400
    assert count(db, Staff, Staff.employee_no == "BH7002") == 0


def test_reset_deactivate_and_the_last_administrator(
    admin: Browser, db: Database, client: Any
) -> None:
    with db.reading() as session:
        clerk = session.execute(select(Staff).where(Staff.employee_no == CLERK)).scalar_one()
        me = session.execute(select(Staff).where(Staff.employee_no == ADMIN)).scalar_one()
        other_admin = session.execute(
            select(Staff).where(Staff.employee_no == "BH9102")
        ).scalar_one()
    password = shown_secret(admin.post(f"/admin/staff/{clerk.id}/password"))
    person = Browser(client.application.test_client())
    assert person.sign_in(CLERK, password=password).status_code == 302
    assert admin.post(f"/admin/staff/{clerk.id}/active", {"active": "0"}).status_code == 302
    assert person.get("/workbench").status_code == 302  # the session ended with the account
    assert (
        Browser(client.application.test_client()).sign_in(CLERK, password=password).status_code
        == 200
    )
    assert [a.action for a in audits(db, "staff.deactivate")] == ["staff.deactivate"]
    assert audits(db, "staff.password_reset")
    # Nobody deactivates themselves; the last administrator stays one.
    assert admin.post(f"/admin/staff/{me.id}/active", {"active": "0"}).status_code == 302
    assert count(db, Staff, Staff.id == me.id, Staff.active.is_(True)) == 1
    assert admin.post(f"/admin/staff/{other_admin.id}/active", {"active": "0"}).status_code == 302
    demote = {
        "employee_no": ADMIN,
        "name": me.name,
        "department": str(me.department_id),
        "roles": ["clerk"],
    }
    refused = admin.post(f"/admin/staff/{me.id}", demote)
    assert refused.status_code == 400 and "唯一在用的系统管理员" in text(refused)
    with db.reading() as session:
        assert session.get(Staff, me.id).roles == ["administrator"]  # type: ignore[union-attr]


def test_staff_posts(admin: Browser, db: Database) -> None:
    with db.reading() as session:
        clerk = session.execute(select(Staff).where(Staff.employee_no == CLERK)).scalar_one()
        window = session.execute(
            select(Window).join(Hall).where(Hall.code == "BH", Window.number == "5")
        ).scalar_one()
    assert (
        admin.post(
            f"/admin/staff/{clerk.id}/posts", {"window": str(window.id), "post": "B"}
        ).status_code
        == 302
    )
    assert (
        admin.post(
            f"/admin/staff/{clerk.id}/posts", {"window": str(window.id), "post": "C"}
        ).status_code
        == 302
    )
    with db.reading() as session:
        post = session.execute(
            select(StaffPost).where(
                StaffPost.staff_id == clerk.id, StaffPost.window_id == window.id
            )
        ).scalar_one()
    assert post.post == "B"
    assert admin.post(f"/admin/staff/{clerk.id}/posts/{post.id}/delete").status_code == 302
    assert count(db, StaffPost, StaffPost.id == post.id) == 0
    assert [a.action for a in audits(db, "staff.post_add") + audits(db, "staff.post_remove")] == [
        "staff.post_add",
        "staff.post_remove",
    ]


def png(width: int = 800, height: int = 1000) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def test_staff_photo_is_checked_resized_and_served(
    admin: Browser, db: Database, settings: Any
) -> None:
    with db.reading() as session:
        clerk = session.execute(select(Staff).where(Staff.employee_no == CLERK)).scalar_one()
    url = f"/admin/staff/{clerk.id}/photo"
    fake = admin.post(
        url,
        {"photo": (io.BytesIO(b"<script>x</script>"), "me.jpg")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 302
    big = admin.post(
        url,
        {"photo": (io.BytesIO(b"\xff" * (2 * 1024 * 1024 + 10)), "big.jpg")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 302
    with db.reading() as session:
        assert session.get(Staff, clerk.id).photo_path == ""  # type: ignore[union-attr]
    assert admin.get(url).status_code == 404
    good = admin.post(
        url, {"photo": (io.BytesIO(png()), "me.png")}, content_type="multipart/form-data"
    )
    assert good.status_code == 302
    with db.reading() as session:
        stored = session.get(Staff, clerk.id).photo_path  # type: ignore[union-attr]
    assert stored.startswith("photos/") and stored.endswith(".jpg")
    served = admin.get(url)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    from PIL import Image

    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG" and image.size[0] <= 600 and image.size[1] <= 720
    assert f'src="{url}"' in text(admin.get("/admin/staff"))
    # A second photo replaces the first file.
    admin.post(
        url, {"photo": (io.BytesIO(png(300, 300)), "me2.png")}, content_type="multipart/form-data"
    )
    assert len(list((settings.upload_dir / "photos").iterdir())) == 1
    assert len(audits(db, "staff.photo")) == 2


# ------------------------------------------------------ categories and policy


def category_form(**changes: Any) -> dict[str, Any]:
    form = {
        "prefix": "QQ",
        "name": "测试类别",
        "floor_number": "1",
        "area": "一楼东区",
        "daily_cap": "100",
        "number_start": "1",
        "number_end": "200",
        "issue_from": "08:30",
        "issue_until": "16:30",
        "priority_allowed": "y",
        "active": "y",
        "turn_near_ahead": "3",
    }
    form.update(changes)
    return form


def test_queue_categories_are_validated(admin: Browser, db: Database) -> None:
    before = count(db, QueueCategory)
    for changes, message in [
        ({"daily_cap": "500"}, "超过号码范围"),
        ({"number_start": "300"}, "不能小于起始号"),
        ({"issue_until": "08:00"}, "须晚于开始时间"),
        ({"prefix": "q1"}, "大写字母"),
        ({"prefix": "A"}, "已有此字头"),
    ]:
        response = admin.post("/admin/queue/categories/new?hall=BH", category_form(**changes))
        assert response.status_code == 400 and message in text(response), changes
    assert count(db, QueueCategory) == before
    assert admin.post("/admin/queue/categories/new?hall=BH", category_form()).status_code == 302
    with db.reading() as session:
        category = session.execute(
            select(QueueCategory).where(QueueCategory.prefix == "QQ")
        ).scalar_one()
        assert category.issue_until == time(16, 30) and category.daily_cap == 100
    edit = admin.post(
        f"/admin/queue/categories/{category.id}", category_form(prefix="W", daily_cap="150")
    )
    assert edit.status_code == 302
    assert audits(db, "category.update")[0].detail == {"daily_cap": [100, 150]}  # prefix fixed


def test_a_category_sets_its_turn_is_near_count(admin: Browser, db: Database) -> None:
    for bad in ("-1", "51", ""):
        refused = admin.post(
            "/admin/queue/categories/new?hall=BH", category_form(turn_near_ahead=bad)
        )
        assert refused.status_code == 400, bad
    assert (
        admin.post(
            "/admin/queue/categories/new?hall=BH", category_form(turn_near_ahead="5")
        ).status_code
        == 302
    )
    with db.reading() as session:
        category = session.execute(
            select(QueueCategory).where(QueueCategory.prefix == "QQ")
        ).scalar_one()
    assert category.turn_near_ahead == 5
    edit = admin.post(f"/admin/queue/categories/{category.id}", category_form(turn_near_ahead="0"))
    assert edit.status_code == 302
    assert audits(db, "category.update")[0].detail == {"turn_near_ahead": [5, 0]}


POLICY = {
    "ordinary_per_preferred": "3",
    "recall_limit": "4",
    "no_show_requeue": "back",
    "requeue_limit": "2",
    "auto_invite_rating": "y",
    "rating_timeout_seconds": "90",
    "callback_working_days": "1",
    "rectify_working_days": "10",
    "service_time_smoothing": "0.3",
}


def test_call_policy_is_validated_by_the_policy_model(admin: Browser, db: Database) -> None:
    before = bh(db).call_policy
    refused = admin.post("/admin/queue/policy?hall=BH", {**POLICY, "recall_limit": "11"})
    assert refused.status_code == 400 and "不能大于 10" in text(refused)
    assert (
        admin.post(
            "/admin/queue/policy?hall=BH", {**POLICY, "service_time_smoothing": "0"}
        ).status_code
        == 400
    )
    assert bh(db).call_policy == before
    assert admin.post("/admin/queue/policy?hall=BH", POLICY).status_code == 302
    saved = bh(db).call_policy
    assert saved["ordinary_per_preferred"] == 3 and saved["no_show_requeue"] == "back"
    assert audits(db, "hall.policy")[0].detail["recall_limit"] == [5, 4]
    unlimited = admin.post("/admin/queue/policy?hall=BH", {**POLICY, "ordinary_per_preferred": ""})
    assert unlimited.status_code == 302 and bh(db).call_policy["ordinary_per_preferred"] is None


# ------------------------------------------------------------- appointments


def test_cancel_an_appointment_with_a_reason(admin: Browser, db: Database) -> None:
    with db.writing() as session:
        hall = session.execute(select(Hall).where(Hall.code == "BH")).scalar_one()
        category = session.execute(
            select(QueueCategory).where(
                QueueCategory.hall_id == hall.id, QueueCategory.prefix == "A"
            )
        ).scalar_one()
        appointment = Appointment(
            hall_id=hall.id,
            category_id=category.id,
            day=date(2026, 11, 27),
            slot_start=time(9, 0),
            slot_end=time(9, 30),
            code="TEST0001",
            name_masked="张*",
            phone_last4="1234",
        )
        session.add(appointment)
        session.flush()
        appointment_id = appointment.id
    page = text(admin.get("/admin/appointments?hall=BH&day=2026-11-27"))
    assert 'data-appointment="TEST0001"' in page
    url = f"/admin/appointments/{appointment_id}/cancel"
    assert admin.post(url, {"reason": ""}).status_code == 302
    with db.reading() as session:
        assert session.get(Appointment, appointment_id).state is AppointmentState.BOOKED  # type: ignore[union-attr]
    assert admin.post(url, {"reason": "大厅停电临时闭厅"}).status_code == 302
    with db.reading() as session:
        assert session.get(Appointment, appointment_id).state is AppointmentState.CANCELLED  # type: ignore[union-attr]
    assert audits(db, "appointment.cancel")[0].detail["reason"] == "大厅停电临时闭厅"
    again = admin.post(url, {"reason": "再次取消"})
    assert again.status_code == 302 and len(audits(db, "appointment.cancel")) == 1


# ------------------------------------------------------------------ notices


def notices_events(db: Database) -> list[dict[str, Any]]:
    with db.reading() as session:
        return [
            e.payload
            for e in session.execute(
                select(HallEvent).where(HallEvent.kind == "notices_changed").order_by(HallEvent.seq)
            ).scalars()
        ]


def test_notices_are_pushed_to_the_hall_display(admin: Browser, db: Database) -> None:
    response = admin.post(
        "/admin/notices/new?hall=BH", {"title": "端午节安排", "body": "6月19日休息", "active": "y"}
    )
    assert response.status_code == 302
    shown = notices_events(db)[-1]["notices"]
    assert shown[-1]["title"] == "端午节安排"
    with db.reading() as session:
        notice = session.execute(select(Notice).where(Notice.title == "端午节安排")).scalar_one()
    assert admin.post(f"/admin/notices/{notice.id}/move", {"direction": "up"}).status_code == 302
    assert notices_events(db)[-1]["notices"][-2]["title"] == "端午节安排"
    assert admin.post(f"/admin/notices/{notice.id}/active", {"active": "0"}).status_code == 302
    assert "端午节安排" not in str(notices_events(db)[-1])
    refused = admin.post(f"/admin/notices/{notice.id}", {"title": "", "body": "x"})
    assert refused.status_code == 400
    assert {
        a.action
        for a in audits(db, "notice.create")
        + audits(db, "notice.reorder")
        + audits(db, "notice.deactivate")
    } == {
        "notice.create",
        "notice.reorder",
        "notice.deactivate",
    }


# ----------------------------------------------------------------- calendar


def test_calendar_overrides_and_the_provisional_year(admin: Browser, db: Database) -> None:
    page_2026 = text(admin.get("/admin/calendar?year=2026"))
    assert "data-provisional" not in page_2026
    assert 'data-day="2026-10-01" data-kind="holiday"' in page_2026
    page_2027 = text(admin.get("/admin/calendar?year=2027"))
    assert "data-provisional" in page_2027
    assert admin.get("/admin/calendar?year=1800").status_code == 404
    form = {"day": "2027-02-06", "working": "1", "note": "春节调休上班"}
    assert admin.post("/admin/calendar/overrides?year=2027", form).status_code == 302
    page = text(admin.get("/admin/calendar?year=2027"))
    assert re.search(r'class="shift override[^"]*" data-day="2027-02-06"', page)
    with db.reading() as session:
        assert calendar_for(session).is_workday(date(2027, 2, 6)).working
    assert audits(db, "calendar.override")[0].detail["working"] is True
    bad = admin.post("/admin/calendar/overrides?year=2027", {"day": "2027-02-30", "working": "1"})
    assert bad.status_code == 400 and count(db, WorkdayOverride) == 1
    assert admin.post("/admin/calendar/overrides/2027-02-06/delete").status_code == 302
    assert count(db, WorkdayOverride) == 0
    with db.reading() as session:
        assert not calendar_for(session).is_workday(date(2027, 2, 6)).working


# ------------------------------------------------------------------ devices


def test_device_token_is_shown_once_and_stored_hashed(admin: Browser, db: Database) -> None:
    response = admin.post(
        "/admin/devices/tokens?hall=BH", {"device_id": "kiosk-9", "device_type": "kiosk"}
    )
    token = shown_secret(response)
    with db.reading() as session:
        row = session.execute(select(ApiToken).where(ApiToken.device_id == "kiosk-9")).scalar_one()
    assert row.token_hash == hash_token(token) and row.kind == "device"
    page = text(admin.get("/admin/devices?hall=BH"))
    assert 'data-token-device="kiosk-9"' in page and token not in page
    assert (
        admin.post(
            "/admin/devices/tokens?hall=BH", {"device_id": "Kiosk 9!", "device_type": "kiosk"}
        ).status_code
        == 400
    )
    assert admin.post(f"/admin/devices/tokens/{row.id}/revoke").status_code == 302
    with db.reading() as session:
        assert session.get(ApiToken, row.id).revoked  # type: ignore[union-attr]
    assert audits(db, "token.issue")[0].entity_id == "kiosk-9"
    assert audits(db, "token.revoke")[0].entity_id == "kiosk-9"


def test_broker_files_come_from_the_registry(
    admin: Browser, db: Database, device_token: Any
) -> None:
    assert (
        admin.post("/admin/devices/broker-files?hall=BH").status_code == 302
    )  # nothing registered
    device_token("hub-bh", "hub")
    device_token("kiosk-1", "kiosk")
    response = admin.post("/admin/devices/broker-files?hall=BH")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        acl = bundle.read("acl").decode()
        passwd = bundle.read("passwd").decode()
        kiosk_password = bundle.read("device-passwords/kiosk-1").decode().strip()
    assert "user kiosk-1\ntopic write hall/bh/kiosk/kiosk-1/status" in acl
    assert "user hub-bh\ntopic readwrite hall/bh/#" in acl
    assert passwd.startswith("hub-bh:$7$") and "kiosk-1:$7$" in passwd
    # Downloading again keeps each device's password.
    with zipfile.ZipFile(
        io.BytesIO(admin.post("/admin/devices/broker-files?hall=BH").data)
    ) as again:
        assert again.read("device-passwords/kiosk-1").decode().strip() == kiosk_password
    assert audits(db, "broker.files")[0].detail["devices"] == ["hub-bh", "kiosk-1"]


# ---------------------------------------------------------- rating reasons


def test_bad_rating_reasons(admin: Browser, db: Database) -> None:
    assert admin.post("/admin/rating-reasons", {"text": "排队太久"}).status_code == 302
    duplicate = admin.post("/admin/rating-reasons", {"text": "排队太久"})
    assert (
        duplicate.status_code == 400
        and count(db, BadRatingReason, BadRatingReason.text == "排队太久") == 1
    )
    assert admin.post("/admin/rating-reasons", {"text": "x" * 101}).status_code == 400
    with db.reading() as session:
        reason = session.execute(
            select(BadRatingReason).where(BadRatingReason.text == "排队太久")
        ).scalar_one()
    assert (
        admin.post(f"/admin/rating-reasons/{reason.id}/move", {"direction": "up"}).status_code
        == 302
    )
    assert (
        admin.post(f"/admin/rating-reasons/{reason.id}/active", {"active": "0"}).status_code == 302
    )
    with db.reading() as session:
        ordered = list(
            session.execute(select(BadRatingReason).order_by(BadRatingReason.sort)).scalars()
        )
        assert ordered[-2].text == "排队太久" and not ordered[-2].active
        event = (
            session.execute(
                select(HallEvent)
                .where(HallEvent.kind == "rating_reasons_changed")
                .order_by(HallEvent.id.desc())
            )
            .scalars()
            .first()
        )
    assert event is not None and "排队太久" not in event.payload["reasons"]
    assert len(audits(db, "rating_reason.create")) == 1 and audits(db, "rating_reason.deactivate")
