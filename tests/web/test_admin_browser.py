"""The administrator's catalog journey in a real browser (Debian's Chromium,
headless): edit a matter and see the new version; import a spreadsheet whose
dry run shows the bad row before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from backend.models import Matter, MatterVersion
from backend.web.testing import CHROMIUM, RunningServer
from tests.web.helpers import sign_in_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    sign_in_page(page, "BH9101")
    return page


def test_admin_edits_a_matter_and_the_new_version_is_shown(
    page: Page, server: RunningServer
) -> None:
    page.click("nav.mainnav >> text=系统管理")
    page.click("nav.admin-menu >> text=事项目录")
    page.fill("input[name=q]", "GS-002")
    page.click("form.filters button[type=submit]")
    page.click("tr[data-matter='GS-002'] a")
    expect(page.locator("[data-current-version]")).to_have_attribute("data-current-version", "1")
    page.click("text=编辑（生成新版本）")
    page.fill("input[name=keywords]", "变更登记、公司变更、换照")
    page.click("#matter-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("第 2 版")
    expect(page.locator("[data-current-version]")).to_have_attribute("data-current-version", "2")
    expect(page.locator("[data-field=keywords]")).to_have_text("变更登记、公司变更、换照")
    expect(page.locator("tr[data-version]")).to_have_count(2)
    page.click("#diff-form button[type=submit]")
    expect(page.locator("tr[data-diff-field]")).to_have_count(1)
    expect(page.locator("tr[data-diff-field='关键词'] td.new")).to_have_text(
        "变更登记、公司变更、换照"
    )
    database = server.app.extensions["hallkit"].db
    with database.reading() as session:
        old = session.execute(
            select(MatterVersion).where(MatterVersion.code == "GS-002", MatterVersion.version == 1)
        ).scalar_one()
        assert "换照" not in old.spec["keywords"]  # version 1 was never edited


def test_import_dry_run_shows_the_bad_row(
    page: Page, server: RunningServer, tmp_path: Path
) -> None:
    header = "事项编码,事项名称,事项类型,实施部门,承诺时限(工作日),法定时限(工作日),排队类别"
    upload = tmp_path / "目录.csv"
    upload.write_text(
        "\r\n".join(
            [
                header,
                "GS-950,测试导入事项,便民服务,GS,1,3,A",
                "GS-951,另一个事项,便民服务,GS,两天,3,A",
            ]
        ),
        encoding="utf-8-sig",
    )
    page.goto("/admin/catalog")
    page.click("text=导入")
    page.set_input_files("input[name=file]", str(upload))
    page.click("#import-form button[type=submit]")
    error = page.locator("tr[data-error-row='3']")
    expect(error).to_contain_text("GS-951")
    expect(error).to_contain_text("承诺时限(工作日)")
    expect(error).to_contain_text("两天")
    expect(error).to_contain_text("应为整数")
    expect(page.locator("[data-plan-created]")).to_have_text("1")
    database = server.app.extensions["hallkit"].db
    with database.reading() as session:
        assert session.execute(select(Matter).where(Matter.code == "GS-950")).first() is None
    page.check("input[name=skip_bad]")
    page.click("#confirm-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("新增 1 项")
    with database.reading() as session:
        assert session.execute(select(Matter).where(Matter.code == "GS-950")).first() is not None
        assert session.execute(select(Matter).where(Matter.code == "GS-951")).first() is None
