"""The administration, 电子监察 and 绩效 pages in both languages, on SQLite and
PostgreSQL: with ?lang=en a sample of pages shows the English UI labels and none
of the Chinese ones (data such as department and staff names stays Chinese, so
only labels are checked); by default the same pages are in Chinese."""

from __future__ import annotations

import re
from html import unescape

import pytest
from werkzeug.test import TestResponse

from tests.web.helpers import Browser

ADMIN = "BH9101"
SUPERVISOR = "BH9001"

# path → (Chinese label, English label) pairs shown in the page's text.
ADMIN_PAGES: dict[str, list[tuple[str, str]]] = {
    "/admin": [
        ("系统管理", "Administration"),
        ("概览", "Overview"),
        ("事项目录", "Service catalog"),
    ],
    "/admin/catalog": [
        ("导出 Excel", "Export Excel"),
        ("全部部门", "All departments"),
        ("事项名称", "Matter name"),
        ("承诺/法定", "Promised/statutory"),
    ],
    "/admin/catalog/m/GS-001": [
        ("版本历史", "Version history"),
        ("编辑（生成新版本）", "Edit (creates a new version)"),
        ("承诺时限(工作日)", "Promised time limit (working days)"),
        ("申报材料", "Materials"),
        ("当前版本内容", "Current version"),
    ],
    "/admin/queue": [
        ("排队类别与叫号规则", "Queue categories and calling rules"),
        ("每日限号", "Daily limit"),
        ("保存叫号规则", "Save calling rules"),
        ("重呼次数上限", "Maximum recalls"),
    ],
    "/admin/calendar": [
        ("节假日调整", "Holiday adjustments"),
        ("法定节假日", "Public holiday"),
        ("调休上班", "Make-up working day"),
        ("添加或修改调整", "Add or change an adjustment"),
    ],
    "/admin/devices": [
        ("签发设备令牌", "Issue a device token"),
        ("已签发的设备令牌", "Issued device tokens"),
        ("最近在线", "Last seen"),
    ],
    "/admin/staff": [("角色", "Roles"), ("新增人员", "New staff member")],
    "/admin/rating-reasons": [("差评原因", "Negative rating reasons"), ("添加原因", "Add reason")],
}

SUPERVISION_PAGES: dict[str, list[tuple[str, str]]] = {
    "/supervision": [
        ("实时监察", "Live supervision"),
        ("预警与督办", "Early warnings and follow-up"),
        ("过程监察", "Process supervision"),
        ("开放窗口", "Open windows"),
        ("分类排队", "Queues by category"),
    ],
    "/supervision/alerts": [
        ("黄牌", "Yellow card"),
        ("红牌", "Red card"),
        ("流程异常", "Process anomaly"),
        ("未解除的预警数", "Uncleared early warnings"),
        ("没有符合条件的预警", "No matching early warnings"),
    ],
    "/supervision/overdue": [
        ("超期工作日", "Working days overdue"),
        ("没有超期办件", "No overdue cases"),
    ],
    "/supervision/findings": [("没有过程监察发现", "No process supervision findings")],
}

PERFORMANCE_PAGES: dict[str, list[tuple[str, str]]] = {
    "/performance": [
        ("绩效分析", "Performance analysis"),
        ("统计期间", "Period"),
        ("等候热力图", "Waiting heat map"),
        ("满意率", "Satisfaction"),
        ("整改率", "Rectification rate"),
        ("纵向比较", "Compared with"),
        ("按时办结率", "on-time completion"),
        ("参与排名的条件", "Who is ranked"),
    ],
    "/performance/schedules": [
        ("新建报表计划", "New report schedule"),
        ("收件人", "Recipient"),
        ("每月（上月报表）", "Monthly (last month's report)"),
    ],
}

# Labels of the shared layout that every one of these pages carries.
LAYOUT = [("电子监察", "Supervision"), ("退出", "Sign out")]

TAGS = re.compile(r"<[^>]+>")
HIDDEN = re.compile(r"<(script|style)\b.*?</\1>", re.S)


def page_text(response: TestResponse) -> str:
    """What a reader sees: the text between tags (attribute values such as a
    filter's option value or a data- attribute are not shown)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    html = HIDDEN.sub(" ", response.get_data(as_text=True))
    return unescape(TAGS.sub(" ", html))


def check(browser: Browser, pages: dict[str, list[tuple[str, str]]]) -> None:
    for path, labels in pages.items():
        labels = labels + LAYOUT
        english = page_text(browser.get(f"{path}?lang=en"))
        for chinese, translated in labels:
            assert translated in english, (path, translated)
            assert chinese not in english, (path, chinese)
        default = page_text(browser.get(f"{path}?lang=zh_CN"))
        for chinese, translated in labels:
            assert chinese in default, (path, chinese)
            assert translated not in default, (path, translated)


def test_admin_pages_in_both_languages(browser: Browser) -> None:
    assert browser.sign_in(ADMIN).status_code == 302
    check(browser, ADMIN_PAGES)


def test_supervision_pages_in_both_languages(browser: Browser) -> None:
    assert browser.sign_in(SUPERVISOR).status_code == 302
    check(browser, SUPERVISION_PAGES)


def test_performance_pages_in_both_languages(browser: Browser) -> None:
    assert browser.sign_in(ADMIN).status_code == 302
    check(browser, PERFORMANCE_PAGES)
    # the period picker: months and quarters in the page's language
    english = page_text(browser.get("/performance?lang=en"))
    assert re.search(r"\b\d{4} Q[1-4]\b", english) and re.search(r"\b\d{4}-\d{2}\b", english)
    assert not re.search(r"\d{4}年第[1-4]季度", english)
    chinese = page_text(browser.get("/performance?lang=zh_CN"))
    assert re.search(r"\d{4}年第[1-4]季度", chinese) and re.search(r"\d{4}年\d{1,2}月", chinese)


@pytest.mark.parametrize("path", ["/admin/catalog", "/supervision", "/performance"])
def test_chinese_is_the_default_and_english_is_remembered(browser: Browser, path: str) -> None:
    assert browser.sign_in(ADMIN).status_code == 302
    assert "事项目录" in page_text(browser.get("/admin"))  # no ?lang: Chinese
    browser.get(f"{path}?lang=en")
    remembered = page_text(browser.get(path))  # the session keeps English
    assert "Supervision" in remembered and "电子监察" not in remembered
    assert "电子监察" in page_text(browser.get(f"{path}?lang=zh_CN"))
