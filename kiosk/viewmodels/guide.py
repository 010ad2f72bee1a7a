"""Service guide: browse by department or life event, search, matter detail, print checklist."""

from __future__ import annotations

import logging
from typing import Any, Literal

from hallbus.messages import CatalogItem, MatterDetail
from kiosk.print_content import checklist_content, where_text
from kiosk.printing import PrinterHealth, PrintOutcome, visitor_message
from kiosk.viewmodels.search import SearchFlow
from kiosk.viewmodels.session import Screen, Session

logger = logging.getLogger(__name__)

GuideMode = Literal["department", "life_event", "search"]
_FORM_KEYS = {
    "原件": "matter.material.original",
    "复印件": "matter.material.copy",
    "原件及复印件": "matter.material.original_and_copy",
}


class GuideFlow:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.search = SearchFlow(session)
        self.reset()

    def reset(self) -> None:
        self.mode: GuideMode = "department"
        self.selected: str | None = None  # department code or life event
        self.item: CatalogItem | None = None
        self.detail: MatterDetail | None = None
        self.detail_missing = False
        self.print_outcome: PrintOutcome | None = None
        self.printing = False
        self.search.reset()

    def open(self) -> None:
        self.reset()
        self.session.go(Screen.GUIDE)
        self._select_first()

    def set_mode(self, mode: GuideMode) -> None:
        self.mode = mode
        self.selected = None
        self.search.reset()
        if mode != "search":
            self._select_first()

    def _select_first(self) -> None:
        keys = [row["key"] for row in self.left_rows()]
        if keys:
            self.select(keys[0])

    def select(self, key: str) -> None:
        """A department or a life event on the left was touched: list its matters."""
        self.selected = key
        state = self.session.kiosk_state
        if self.mode == "department":
            name = (
                next((d.name for d in state.departments if d.code == key), None) if state else None
            )
            self.search.browse(department=key, department_name=name, query="")
        else:
            self.search.browse(department=None, department_name=None, query="", life_event=key)

    # ------------------------------------------------------------------ detail

    def open_matter(self, matter_code: str) -> None:
        session = self.session
        item = next((i for i in self.search.results if i.matter_code == matter_code), None)
        self.item = item or session.cache.item(matter_code)
        self.detail = session.cache.detail(matter_code)
        self.detail_missing = False
        self.print_outcome = None
        session.go(Screen.MATTER)
        if session.offline:
            self.detail_missing = self.detail is None
            return

        def done(detail: MatterDetail) -> None:
            session.cache.remember_detail(detail)
            if self.item is None or self.item.matter_code == detail.matter_code:
                self.detail = detail

        def failed(_error: BaseException) -> None:
            # Cached detail (if any) stays on screen; otherwise say plainly what is missing.
            self.detail_missing = self.detail is None

        session.run("error.busy", lambda: session.gateway.matter_detail(matter_code), done, failed)

    def print_checklist(self) -> None:
        session = self.session
        detail = self.detail
        if detail is None or self.printing:
            return
        content = checklist_content(
            session.hall_name, detail, session.local_now(), session.language
        )
        self.printing = True

        def job() -> None:
            try:
                outcome = session.printer.print_checklist(content)
            except Exception:
                logger.exception("printing the checklist failed")
                outcome = PrintOutcome(
                    False,
                    PrinterHealth.OFFLINE,
                    visitor_message(
                        PrinterHealth.OFFLINE,
                        printed=False,
                        document="checklist",
                        language=content.language,
                    ),
                )
            with session.lock:
                self.print_outcome = outcome
                self.printing = False
            session.changed()

        session.runner.submit(job)

    # ------------------------------------------------------------------ render

    def left_rows(self) -> list[dict[str, Any]]:
        state = self.session.kiosk_state
        if state is None:
            return []
        if self.mode == "department":
            return [
                {"key": d.code, "title": d.name, "selected": d.code == self.selected}
                for d in state.departments
            ]
        if self.mode == "life_event":
            return [
                {"key": event, "title": event, "selected": event == self.selected}
                for event in state.life_events
            ]
        return []

    def render(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "guide_mode": self.mode,
            "guide_left_rows": self.left_rows(),
            "guide_rows": self.search.rows(),
            "guide_query": self.search.query,
            "guide_note": self.search.note(),
        }
        values.update(self._render_matter())
        return values

    def _render_matter(self) -> dict[str, Any]:
        session = self.session
        t = session.t
        detail, item = self.detail, self.item
        days: int | None
        name = detail.name if detail else (item.name if item else "")
        facts: list[dict[str, str]] = []
        sections: list[dict[str, str]] = []
        if detail is not None:
            department = detail.department_name
            matter_type = detail.type
            days = detail.promised_days
            where = where_text(detail.floor, detail.window_area, session.language)
            if detail.windows:
                where += (
                    "  "
                    + "、".join(detail.windows)
                    + ("号窗口" if session.language == "zh" else "")
                )
        elif item is not None:
            department, matter_type, days = item.department, item.type, item.promised_days
            where = where_text(item.floor, item.window_area, session.language)
        else:
            department = matter_type = where = ""
            days = None
        if name:
            facts.append({"label": t("matter.department"), "value": department})
            facts.append({"label": t("matter.type"), "value": matter_type})
            if days is not None:
                promised = (
                    t("matter.promised.spot") if days == 0 else t("matter.promised.days", days=days)
                )
                facts.append({"label": t("matter.promised"), "value": promised})
            if detail is not None:
                facts.append({"label": t("matter.fee"), "value": detail.fee})
            facts.append({"label": t("matter.where"), "value": where})
        if detail is not None:
            lines = []
            for number, material in enumerate(detail.materials, start=1):
                form = t(_FORM_KEYS.get(material.form, "matter.material.original"))
                line = (
                    f"{number}. {material.name}（{form} {t('matter.count', count=material.count)}）"
                )
                if material.note:
                    line += f"\n    {material.note}"
                lines.append(line)
            sections.append({"title": t("matter.materials"), "body": "\n".join(lines)})
            if detail.conditions:
                sections.append({"title": t("matter.conditions"), "body": detail.conditions})
            if detail.steps:
                sections.append({"title": t("matter.steps"), "body": " → ".join(detail.steps)})
            if detail.legal_basis:
                sections.append({"title": t("matter.legal_basis"), "body": detail.legal_basis})
        if self.printing:
            print_message, print_failed = t("ticket.done.printing"), False
        elif self.print_outcome is not None:
            print_message = self.print_outcome.visitor_message
            print_failed = not self.print_outcome.printed
        else:
            print_message, print_failed = "", False
        return {
            "matter_title": name,
            "matter_facts": facts,
            "matter_sections": sections,
            "matter_missing": t("matter.detail_missing") if self.detail_missing else "",
            "matter_can_print": detail is not None and not self.printing,
            "matter_can_ticket": bool(name) and not session.offline,
            "matter_print_message": print_message,
            "matter_print_failed": print_failed,
        }
