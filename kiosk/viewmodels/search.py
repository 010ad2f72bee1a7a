"""Search-as-you-type over the catalog with the on-screen letter keypad, online or offline."""

from __future__ import annotations

import string
from typing import Any

from hallbus.messages import CatalogItem, CatalogResults
from kiosk.viewmodels.session import Session

LETTERS = tuple(string.ascii_lowercase)
MAX_QUERY = 30
RESULT_LIMIT = 30


class SearchFlow:
    """One search box (the ticket screen and the guide each have their own)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.query = ""
        self.department: str | None = None
        self.department_name: str | None = None
        self.life_event: str | None = None
        self.results: list[CatalogItem] = []
        self.total = 0
        self.from_cache = False
        self.searched = False
        self._generation = 0

    def reset(self) -> None:
        self.query = ""
        self.department = None
        self.department_name = None
        self.life_event = None
        self.results = []
        self.total = 0
        self.from_cache = False
        self.searched = False
        self._generation += 1  # answers still in flight belong to the last visitor

    # ------------------------------------------------------------------ keypad

    def press(self, key: str) -> None:
        if key == "backspace":
            self.query = self.query[:-1]
        elif key == "clear":
            self.query = ""
        elif key == "space":
            if self.query and not self.query.endswith(" "):
                self.query += " "
        elif len(key) == 1 and key.lower() in LETTERS and len(self.query) < MAX_QUERY:
            self.query += key.lower()
        else:
            return
        self.department = None
        self.department_name = None
        self.life_event = None
        if self.query.strip():
            self.search()
        else:
            self._generation += 1
            self.results, self.total, self.searched = [], 0, False

    # ------------------------------------------------------------------ search

    def browse(
        self,
        *,
        department: str | None,
        department_name: str | None,
        query: str,
        life_event: str | None = None,
    ) -> None:
        """List matters of one department or life event (no typed query)."""
        self.department = department
        self.department_name = department_name
        self.life_event = life_event
        self.query = ""
        self.search(query_override=query)

    def search(self, *, query_override: str | None = None) -> None:
        session = self.session
        query = self.query.strip() if query_override is None else query_override
        self._generation += 1
        generation = self._generation
        department, department_name = self.department, self.department_name
        life_event = self.life_event
        # The cached catalogue does not know life events; searching their name there
        # finds the matters that mention it (the backend ranks those high too).
        local_query = query or (life_event or "")

        if session.offline:
            self._show_local(local_query, department, department_name)
            return

        def work() -> CatalogResults:
            return session.gateway.search_catalog(
                query, department=department, life_event=life_event, limit=RESULT_LIMIT
            )

        def done(results: CatalogResults) -> None:
            session.cache.remember_items(results.items)
            if generation != self._generation:
                return  # the visitor typed on; a newer answer is coming
            self.results, self.total = list(results.items), results.total
            self.from_cache, self.searched = False, True

        def failed(_error: BaseException) -> None:
            if generation == self._generation:
                self._show_local(local_query, department, department_name)

        session.run(None, work, done, failed)

    def _show_local(self, query: str, department: str | None, department_name: str | None) -> None:
        found = self.session.cache.search(
            query, department=department, department_name=department_name, limit=RESULT_LIMIT
        )
        self.results, self.total = found, len(found)
        self.from_cache, self.searched = True, True

    # ------------------------------------------------------------------ render

    def rows(self) -> list[dict[str, Any]]:
        session = self.session
        rows = []
        for item in self.results:
            category = session.category(item.category)
            where = ""
            if item.floor is not None and item.window_area:
                where = session.t("ticket.where", floor=item.floor, area=item.window_area)
            detail_parts = [item.department, where]
            if category is not None and category.waiting is not None:
                detail_parts.append(session.t("ticket.waiting", waiting=category.waiting))
            rows.append(
                {
                    "key": item.matter_code,
                    "title": item.name,
                    "detail": " · ".join(part for part in detail_parts if part),
                }
            )
        return rows

    def note(self) -> str:
        session = self.session
        if not self.searched:
            return session.t("search.prompt")
        if not self.results:
            return session.t("search.empty")
        if self.from_cache:
            return session.t("search.offline_note")
        return session.t("search.results", total=self.total)
