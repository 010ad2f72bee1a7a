"""Every page a signed-in person can open, in Chinese and in English, on SQLite and
PostgreSQL: no raw codes (``accept``, ``joint_approve``, ``staff:BH0201``,
``department_lead``) in what a person reads, and in English no Chinese outside
data (names of matters, departments, halls, staff; what people wrote).

The URL map is walked, not a list of pages: a new page is checked without being
added here. The seeded hall gets a case with every kind of event, an overdue
case with its yellow card, a withdrawn case (an abnormal ending) and a bad
rating with its rectification, so that timelines and alert texts are on the
pages. Printed documents (受理通知书, 不予受理通知书) are official and stay Chinese
(docs/web.md, "Translations").
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import JSON, String, Text, select
from werkzeug.routing import Rule

from backend.catalog.spec import MaterialForm
from backend.db import Database
from backend.models import Base, Case, Department, Hall, Staff
from backend.privacy import mask_name
from backend.services import cases as case_service
from backend.services import supervision as supervision_service
from backend.web.cases import EVENT_LABELS
from backend.web.i18n import LANGUAGES
from tests.backend.test_ratings_api import rate, serve
from tests.conftest import Api, FakeClock
from tests.web.helpers import Browser, resident_id

# Who walks the pages: each role's own pages and the shared ones.
ROLES = {
    "administrator": ("BH9101", None),
    "supervisor": ("BH9001", None),
    "department_lead": ("BH8001", None),
    "clerk": ("BH0101", "1"),
}
# Official documents printed for the applicant, in Chinese whatever the clerk's language.
CHINESE_DOCUMENTS = re.compile(r"^/cases/<int:case_id>/(slip|notice)$")
# Not pages: data feeds, file downloads, event streams, images.
NOT_PAGES = re.compile(r"^/(api|static)/|\.json$|/events$|/photo$|/files/|/badge$|export|report\.")
# Columns whose text the system writes itself (it must be translated when shown),
# so they never count as data.
SYSTEM_TEXT = {("supervision_alerts", "message"), ("supervision_alerts", "detail")}
SKIPPED_TABLES = {"audit_entries", "hall_events", "api_tokens", "staff_sessions"}

HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\b(?:staff|device|hub):[A-Za-z0-9-]+")
CODE_WORDS = frozenset(EVENT_LABELS) | {"handler", "supervisor", "discipline"}
HIDDEN = re.compile(r"<(script|style|template)\b.*?</\1>", re.S)
# Samples of what a person types or pastes that are Chinese in either language
# (the State Council's notice, the 休/班 of its file format), marked lang="zh".
CHINESE_SAMPLE = re.compile(r'<(q|code|span)\b[^>]*\blang="zh"[^>]*>.*?</\1>', re.S)
VISIBLE_ATTRIBUTE = re.compile(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"')
TAG = re.compile(r"<[^>]+>")


def visible_text(html: str) -> str:
    """Text between tags plus the attributes a person reads (placeholders, titles)."""
    html = CHINESE_SAMPLE.sub(" ", HIDDEN.sub(" ", html))
    attributes = " ".join(VISIBLE_ATTRIBUTE.findall(html))
    return unescape(TAG.sub(" ", html) + " " + attributes)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def data_runs(db: Database) -> frozenset[str]:
    """Han runs of what the database holds as data: names and texts people entered.
    A page may show them in Chinese in either language."""
    runs: set[str] = set()
    with db.reading() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            columns = [
                column
                for column in table.columns
                if isinstance(column.type, String | Text | JSON)
                and (table.name, column.name) not in SYSTEM_TEXT
            ]
            if not columns:
                continue
            for row in session.execute(select(*columns)):
                for text in _strings(list(row)):
                    runs.update(HAN_RUN.findall(text))
        # Staff names are shown masked (张*丰): the pieces around the stars are data too.
        for name in session.execute(select(Staff.name)).scalars():
            runs.update(HAN_RUN.findall(mask_name(name)))
    # The language switch names each language in itself (简体中文 · English).
    runs.update(HAN_RUN.findall(" ".join(LANGUAGES.values())))
    # The catalog's cell format (材料: 名称|原件|1|是) is the spreadsheet's, Chinese
    # in either language like the file itself.
    runs.update(("是", "否", *(form.value for form in MaterialForm)))
    # Likewise the holiday file's day kinds (日期,休/班,说明), which it must contain.
    runs.update(("休", "班"))
    return frozenset(runs)


def untranslated(text: str, data: frozenset[str]) -> list[str]:
    """Han runs of ``text`` that are no data. A run cut short by "…" (a long note
    truncated in a list) counts as data when some data run starts with it."""
    found = set()
    for match in HAN_RUN.finditer(text):
        run = match.group(0)
        if run in data:
            continue
        if text[match.end() :].startswith(("...", "…")) and any(
            item.startswith(run) for item in data
        ):
            continue
        found.add(run)
    return sorted(found)


def populate(app: Flask, api: Api, db: Database, clock: FakeClock, device_token: Any) -> None:
    extension = app.extensions["hallkit"]
    now = clock.now
    with db.writing() as session:
        hall_id = session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()
        clerk = session.execute(select(Staff).where(Staff.employee_no == "BH0101")).scalar_one()
        actor = case_service.Actor("staff:BH0101", clerk.id, clerk.department_id)
        tax = session.execute(
            select(Staff).join(Department).where(Department.code == "GSJ").limit(1)
        ).scalar_one()
        tax_actor = case_service.Actor(f"staff:{tax.employee_no}", tax.id, tax.department_id)

        def register(number: str, days_ago: int, **extra: Any) -> Case:
            return case_service.register_case(
                session,
                hall_id=hall_id,
                matter_code="GS-001",
                applicant=case_service.Applicant(
                    case_service.ApplicantKind.PERSON,
                    "王小明",
                    resident_id(serial=number),
                    "13812340000",
                ),
                protector=extension.protector,
                actor=actor,
                now=now - timedelta(days=days_ago),
                **extra,
            )

        joint = register("101", 3, joint_departments=("GSJ",))
        steps: list[tuple[str, dict[str, Any]]] = [
            ("transition", {"action": "undertake"}),
            ("suspend", {"kind": "补正", "reason": "缺少公司章程"}),
            ("resume", {"note": "材料已补齐"}),
            ("joint", {"department_code": "GSJ", "approve": True, "note": ""}),
            ("transition", {"action": "review"}),
            ("transition", {"action": "approve"}),
            ("transition", {"action": "complete"}),
            ("disclose", {"public": True}),
        ]
        for offset, (step, arguments) in enumerate(steps):
            at = now - timedelta(days=2, hours=-offset)
            if step == "transition":
                case_service.transition(session, case_id=joint.id, actor=actor, now=at, **arguments)
            elif step == "suspend":
                case_service.suspend(session, case_id=joint.id, actor=actor, now=at, **arguments)
            elif step == "resume":
                case_service.resume(session, case_id=joint.id, actor=actor, now=at, **arguments)
            elif step == "joint":
                case_service.joint_decision(
                    session, case_id=joint.id, actor=tax_actor, now=at, **arguments
                )
            else:
                case_service.set_disclosure(
                    session, case_id=joint.id, actor=actor, now=at, **arguments
                )
        register("102", 30)  # long overdue: its yellow card
        withdrawn = register("103", 1)
        case_service.transition(
            session,
            case_id=withdrawn.id,
            action="withdraw",
            actor=actor,
            now=now,
            note="申请人撤回",
        )
    for days_back in (10, 0):
        with db.writing() as session:
            supervision_service.scan(session, now - timedelta(days=days_back))
    ticket, _ = serve(api, db, device_token("kiosk-1", "kiosk"))
    status, body = rate(
        api, device_token("eval-1", "evaluator"), ticket["id"], 1, reasons=["服务态度差"]
    )
    assert status == 201, body


def page_paths(app: Flask, db: Database) -> list[tuple[Rule, str]]:
    """Every GET page of the staff app with its arguments taken from the data."""
    with db.reading() as session:
        case = session.execute(select(Case).order_by(Case.id)).scalars().first()
        assert case is not None
        ids = {
            "case_id": case.id,
            "code": "GS-001",
            "token": case.public_token,
        }
        for table, argument in (
            ("departments", "department_id"),
            ("halls", "hall_id"),
            ("staff", "staff_id"),
            ("windows", "window_id"),
            ("notices", "notice_id"),
            ("queue_categories", "category_id"),
        ):
            model_table = Base.metadata.tables[table]
            ids[argument] = session.execute(select(model_table.c.id).limit(1)).scalar_one()
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if "GET" not in (rule.methods or ()) or NOT_PAGES.search(rule.rule):
            continue
        if CHINESE_DOCUMENTS.match(rule.rule):
            continue
        if not set(rule.arguments) <= set(ids):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{argument}>", str(ids[argument]), path)
        paths.append((rule, path))
    return paths


def test_every_page_reads_in_its_language_without_codes(
    app: Flask, api: Api, db: Database, clock: FakeClock, device_token: Any
) -> None:
    populate(app, api, db, clock, device_token)
    data = data_runs(db)
    paths = page_paths(app, db)
    assert len(paths) > 40, [path for _, path in paths]
    problems: list[str] = []
    walked: set[str] = set()
    for language in ("zh_CN", "en"):
        browser = Browser(app.test_client())
        for role, (employee_no, window) in ROLES.items():
            assert browser.sign_in(employee_no, window).status_code == 302, role
            for rule, path in paths:
                response = browser.get(f"{path}?lang={language}")
                if response.status_code != 200 or not response.content_type.startswith("text/html"):
                    continue  # not this role's page (403, or a redirect elsewhere)
                walked.add(rule.rule)
                text = visible_text(response.get_data(as_text=True))
                codes = {code for code in CODE.findall(text)}
                if language == "zh_CN":
                    codes |= {
                        word for word in re.findall(r"\b[a-z]+\b", text) if word in CODE_WORDS
                    }
                if codes:
                    problems.append(f"{language} {role} {path}: codes {sorted(codes)}")
                if language == "en":
                    chinese = untranslated(text, data)
                    if chinese:
                        problems.append(f"en {role} {path}: Chinese {chinese}")
    assert "/cases/<int:case_id>" in walked and "/supervision/alerts" in walked
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_the_case_timeline_names_actions_and_people(
    app: Flask, api: Api, db: Database, clock: FakeClock, device_token: Any, language: str
) -> None:
    populate(app, api, db, clock, device_token)
    browser = Browser(app.test_client())
    assert browser.sign_in("BH0101", "1").status_code == 302
    with db.reading() as session:
        case_id = session.execute(select(Case.id).order_by(Case.id)).scalars().first()
    text = visible_text(browser.get(f"/cases/{case_id}?lang={language}").get_data(as_text=True))
    expected = {
        "zh_CN": ["受理 · 工作人员 ", "联办部门同意", "暂停计时", "恢复计时", "（BH0101）"],
        "en": ["Accept · Staff ", "Joint department approved", "Stop the clock", "(BH0101)"],
    }[language]
    for words in expected:
        assert words in text, words
    assert "staff:BH0101" not in text and "joint_approve" not in text


def test_report_documents_follow_the_page_language(
    app: Flask, api: Api, db: Database, clock: FakeClock, device_token: Any
) -> None:
    populate(app, api, db, clock, device_token)
    data = data_runs(db)
    browser = Browser(app.test_client())
    assert browser.sign_in("BH9001").status_code == 302
    query = "period=2026-11&group_by=department"
    english = browser.get(f"/performance/report.html?{query}&lang=en").get_data(as_text=True)
    assert "performance report" in english and "Ranking" in english
    assert untranslated(visible_text(english), data) == []
    workbook = load_workbook(io.BytesIO(browser.get(f"/performance/report.xlsx?{query}").data))
    assert workbook.sheetnames == ["Performance ranking", "Ratings", "Waiting heat map"]
    cells = " ".join(
        str(cell.value) for sheet in workbook for row in sheet.iter_rows() for cell in row
    )
    assert untranslated(cells, data) == []
    chinese = browser.get(f"/performance/report.html?{query}&lang=zh_CN").get_data(as_text=True)
    assert "绩效评估报表" in chinese and "Ranking" not in chinese
