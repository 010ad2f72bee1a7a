"""The words visitors of the demo hall type most, as characters, full pinyin and
initials, find the matter they mean: on the backend's search and on a kiosk
searching its offline copy of the catalog (two implementations, one behaviour).

Most of these words are no matter's name: 工商登记 is the old name of 企业设立登记,
社保 and 户口 are what people say. They reach the search as the matters' aliases
(别名) in backend/seed/demo_catalog.yaml.
"""

from __future__ import annotations

from functools import cache

import pytest
import yaml
from pypinyin import Style, lazy_pinyin

from backend.catalog.search import CatalogIndex, SearchEntry
from backend.catalog.spec import MatterSpec
from backend.seed.loader import DEMO_CATALOG
from hallbus.messages import CatalogItem
from kiosk.catalog_cache import CatalogCache

# word -> the matters a visitor typing it is looking for (the first hit must be one).
TOP_VISITOR_WORDS: dict[str, frozenset[str]] = {
    "工商登记": frozenset({"GS-001"}),
    "注册登记": frozenset({"GS-001"}),
    "营业执照": frozenset({"GS-001", "GS-005", "GS-014"}),
    # Every matter of the 社会保险 centre is a 社保 matter ("sb" is also its code prefix).
    "社保": frozenset(f"SB-{number:03}" for number in range(1, 13)),
    "医保": frozenset({"SG-008", "SG-009", "SB-012"}),
    "户口": frozenset({"GA-005", "GA-007"}),
    "身份证": frozenset({"GA-001", "GA-002", "GA-003", "GA-004"}),
    "结婚登记": frozenset({"SG-003"}),
    "退休": frozenset({"SB-005"}),
    "房产过户": frozenset({"GT-007"}),
}


def _spellings(word: str) -> list[str]:
    syllables = lazy_pinyin(word, style=Style.NORMAL)
    return [word, "".join(syllables), "".join(syllable[0] for syllable in syllables)]


CASES = [
    pytest.param(spelling, expected, id=spelling)
    for word, expected in TOP_VISITOR_WORDS.items()
    for spelling in _spellings(word)
]


@cache
def _demo_matters() -> tuple[MatterSpec, ...]:
    data = yaml.safe_load(DEMO_CATALOG.read_text(encoding="utf-8"))
    return tuple(MatterSpec.model_validate(matter) for matter in data["matters"])


@cache
def _backend_index() -> CatalogIndex:
    return CatalogIndex.build(
        SearchEntry(
            matter_id=number,
            code=matter.code,
            name=matter.name,
            department=matter.department,
            department_name=matter.department,
            type=matter.type,
            keywords=matter.keywords,
            life_events=matter.life_events,
            aliases=matter.aliases,
        )
        for number, matter in enumerate(_demo_matters())
    )


@cache
def _kiosk_cache() -> CatalogCache:
    cache = CatalogCache(None)
    cache.remember_items(
        [
            CatalogItem(
                matter_code=matter.code,
                name=matter.name,
                department=matter.department,
                type=matter.type,
                aliases=list(matter.aliases),
            )
            for matter in _demo_matters()
        ]
    )
    return cache


def test_the_issue_words_are_aliases_of_the_company_registration() -> None:
    (registration,) = [matter for matter in _demo_matters() if matter.code == "GS-001"]
    assert {"工商登记", "注册登记"} <= set(registration.aliases)


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_backend_search_finds_the_matter_meant(query: str, expected: frozenset[str]) -> None:
    hits = _backend_index().search(query, limit=5)
    assert hits, f"{query!r} finds nothing"
    assert hits[0].code in expected, [(hit.code, hit.name, hit.matched) for hit in hits]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_kiosk_offline_search_finds_the_matter_meant(query: str, expected: frozenset[str]) -> None:
    hits = _kiosk_cache().search(query, limit=5)
    assert hits, f"{query!r} finds nothing offline"
    assert hits[0].matter_code in expected, [(hit.matter_code, hit.name) for hit in hits]


def test_aliases_reach_the_kiosk_through_the_hubs_catalog_items() -> None:
    from hub.translate import catalog_item

    (registration,) = [matter for matter in _demo_matters() if matter.code == "GS-001"]
    # What GET /api/v1/catalog/matters/GS-001 answers, as the hub reads it.
    item = catalog_item({**registration.model_dump(mode="json"), "department_name": "市场监管局"})
    assert item.aliases == list(registration.aliases)
    cache = CatalogCache(None)
    cache.remember_items([item])
    assert [hit.matter_code for hit in cache.search("gsdj")] == ["GS-001"]
