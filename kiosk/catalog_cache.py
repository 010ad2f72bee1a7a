"""What the kiosk has seen of the service catalog, kept on disk for offline browsing.

Every search result, matter detail and browse list that comes back from the hub is stored
here and written to a JSON file (atomically, so a power cut never leaves half a file). When
the hub is unreachable the guide searches this copy locally, by Chinese, full pinyin or
pinyin initials, like the hub's own search does.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pypinyin import Style, lazy_pinyin

from hallbus.messages import CatalogItem, KioskState, MatterDetail

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1


@lru_cache(maxsize=4096)
def pinyin_forms(text: str) -> tuple[str, str]:
    """(full pinyin without spaces, initials) of ``text``, lower case."""
    syllables = lazy_pinyin(text, style=Style.NORMAL, errors="ignore")
    full = "".join(syllables).lower()
    initials = "".join(s[0] for s in syllables if s).lower()
    return full, initials


def normalise(query: str) -> str:
    return "".join(unicodedata.normalize("NFKC", query).lower().split())


def local_match_score(item: CatalogItem, query: str) -> int:
    """0 when ``item`` does not match ``query``; higher is a better match.

    Aliases (别名: old names, everyday words) count like the name, just below it, as
    in the backend's ranking (backend/catalog/search.py)."""
    if not query:
        return 1
    name = item.name.lower()
    if name.startswith(query):
        return 900
    aliases = [normalise(alias) for alias in item.aliases]
    if query in aliases:
        return 850
    if query in name:
        return 800
    if any(query in alias for alias in aliases):
        return 780
    if not query.isascii():
        return 300 if query in item.department.lower() else 0
    full, initials = pinyin_forms(item.name)
    alias_forms = [pinyin_forms(alias) for alias in aliases]
    if full.startswith(query):
        return 600
    if any(alias_full.startswith(query) for alias_full, _ in alias_forms):
        return 580
    if initials.startswith(query):
        return 450
    if any(alias_initials.startswith(query) for _, alias_initials in alias_forms):
        return 420
    if query in full:
        return 500
    if any(query in alias_full for alias_full, _ in alias_forms):
        return 480
    if query in initials:
        return 400
    return 0


class CatalogCache:
    """Thread-safe store of catalog items, details and the last kiosk state."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._items: dict[str, CatalogItem] = {}
        self._details: dict[str, MatterDetail] = {}
        self._state: KioskState | None = None
        self._load()

    # ----------------------------------------------------------------- persistence

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT:
                return
            self._items = {
                i["matter_code"]: CatalogItem.model_validate(i) for i in data.get("items", [])
            }
            self._details = {
                d["matter_code"]: MatterDetail.model_validate(d) for d in data.get("details", [])
            }
            if data.get("state") is not None:
                self._state = KioskState.model_validate(data["state"])
        except (OSError, ValueError, KeyError, ValidationError) as error:
            # A damaged cache only costs offline browsing; start empty rather than crash.
            logger.warning("ignoring unreadable catalog cache %s: %s", self._path, error)
            self._items, self._details, self._state = {}, {}, None

    def _save_locked(self) -> None:
        if self._path is None:
            return
        data: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "items": [i.model_dump(mode="json") for i in self._items.values()],
            "details": [d.model_dump(mode="json") for d in self._details.values()],
            "state": self._state.model_dump(mode="json") if self._state else None,
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
            os.replace(temporary, self._path)
        except OSError as error:
            logger.warning("cannot write catalog cache %s: %s", self._path, error)
            Path(temporary).unlink(missing_ok=True)

    # --------------------------------------------------------------------- updates

    def remember_items(self, items: list[CatalogItem]) -> None:
        if not items:
            return
        with self._lock:
            changed = False
            for item in items:
                if self._items.get(item.matter_code) != item:
                    self._items[item.matter_code] = item
                    changed = True
            if changed:
                self._save_locked()

    def remember_detail(self, detail: MatterDetail) -> None:
        with self._lock:
            if self._details.get(detail.matter_code) == detail:
                return
            self._details[detail.matter_code] = detail
            self._save_locked()

    def remember_state(self, state: KioskState) -> None:
        with self._lock:
            # Waiting counts change every minute; the browse lists rarely. Only a change of
            # the lists is worth a disk write.
            old = self._state
            self._state = state
            if (
                old is None
                or old.departments != state.departments
                or old.life_events != state.life_events
                or [c.name for c in old.categories] != [c.name for c in state.categories]
            ):
                self._save_locked()

    # --------------------------------------------------------------------- queries

    @property
    def state(self) -> KioskState | None:
        with self._lock:
            return self._state

    def detail(self, matter_code: str) -> MatterDetail | None:
        with self._lock:
            return self._details.get(matter_code)

    def item(self, matter_code: str) -> CatalogItem | None:
        with self._lock:
            return self._items.get(matter_code)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def search(
        self,
        query: str,
        *,
        department: str | None = None,
        department_name: str | None = None,
        limit: int = 30,
    ) -> list[CatalogItem]:
        """Local search: Chinese substring, pinyin or initials; best match first."""
        wanted = normalise(query)
        with self._lock:
            items = list(self._items.values())
        scored = []
        for item in items:
            if department is not None and item.department not in (department, department_name):
                continue
            score = local_match_score(item, wanted)
            if score:
                scored.append((-score, len(item.name), item.matter_code, item))
        scored.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in scored[:limit]]
