"""Ranked catalog search by Chinese text, pinyin and initials."""

from __future__ import annotations

import pytest

from backend.catalog.search import (
    CatalogIndex,
    MatchKind,
    SearchEntry,
    SearchHit,
    normalize_query,
)

MARKET = ("scjg", "市场监督管理局")
HOUSING = ("zjj", "住房和城乡建设局")
POLICE = ("gaj", "公安局")


def _entry(
    matter_id: int,
    code: str,
    name: str,
    department: tuple[str, str],
    matter_type: str = "行政许可",
    keywords: tuple[str, ...] = (),
    life_events: tuple[str, ...] = (),
) -> SearchEntry:
    return SearchEntry(
        matter_id=matter_id,
        code=code,
        name=name,
        department=department[0],
        department_name=department[1],
        type=matter_type,
        keywords=keywords,
        life_events=life_events,
    )


CATALOG = (
    _entry(
        1, "SCJG-XK-001", "企业设立登记", MARKET, keywords=("开公司",), life_events=("开办企业",)
    ),
    _entry(2, "SCJG-XK-002", "企业变更登记", MARKET, life_events=("开办企业",)),
    _entry(3, "SCJG-XK-003", "企业注销登记", MARKET),
    _entry(4, "SCJG-XK-004", "个体工商户设立登记", MARKET, life_events=("开办企业",)),
    _entry(5, "SCJG-XK-005", "食品经营许可证核发", MARKET, keywords=("餐饮",)),
    _entry(6, "ZJJ-XK-001", "建筑工程施工许可证核发", HOUSING, keywords=("施工证",)),
    _entry(7, "ZJJ-GG-001", "商品房预售资金监管查询", HOUSING, "公共服务"),
    _entry(8, "GAJ-BM-001", "居民身份证申领", POLICE, "便民服务", keywords=("身份证", "办证")),
    _entry(9, "GAJ-BM-002", "重庆户口迁入证明开具", POLICE, "便民服务"),
    _entry(10, "SCJG-XK-006", "企业", MARKET, "非行政许可"),
)


@pytest.fixture(scope="module")
def index() -> CatalogIndex:
    return CatalogIndex.build(CATALOG)


def _names(hits: list[SearchHit]) -> list[str]:
    return [hit.name for hit in hits]


def test_index_counts_entries(index: CatalogIndex) -> None:
    assert len(index) == len(CATALOG)


def test_initials_prefix_finds_enterprise_establishment_first(index: CatalogIndex) -> None:
    hits = index.search("qysl")
    assert hits[0].name == "企业设立登记"
    assert hits[0].matched == MatchKind.INITIALS


def test_full_pinyin_prefix_finds_all_enterprise_matters(index: CatalogIndex) -> None:
    names = _names(index.search("qiye"))
    assert set(names[:4]) == {"企业", "企业设立登记", "企业变更登记", "企业注销登记"}


def test_spaces_inside_pinyin_are_ignored(index: CatalogIndex) -> None:
    assert _names(index.search("qi ye"))[:4] == _names(index.search("qiye"))[:4]


def test_chinese_substring_finds_construction_permit(index: CatalogIndex) -> None:
    hits = index.search("施工许可")
    assert hits[0].name == "建筑工程施工许可证核发"
    assert hits[0].matched == MatchKind.NAME_SUBSTRING


def test_initials_inside_the_name_find_construction_permit(index: CatalogIndex) -> None:
    hits = index.search("sgxk")
    assert _names(hits) == ["建筑工程施工许可证核发"]
    assert hits[0].matched == MatchKind.INITIALS


def test_exact_code_ranks_first_case_insensitively(index: CatalogIndex) -> None:
    hits = index.search("zjj-xk-001")
    assert hits[0].code == "ZJJ-XK-001"
    assert hits[0].matched == MatchKind.CODE


def test_code_prefix_lists_that_code_family(index: CatalogIndex) -> None:
    hits = index.search("GAJ-BM")
    assert {hit.code for hit in hits} == {"GAJ-BM-001", "GAJ-BM-002"}
    assert all(hit.matched == MatchKind.CODE_PREFIX for hit in hits)


def test_department_filter(index: CatalogIndex) -> None:
    hits = index.search("xkz", department="zjj")
    assert _names(hits) == ["建筑工程施工许可证核发"]


def test_type_filter(index: CatalogIndex) -> None:
    hits = index.search("证", type="便民服务")
    assert {hit.name for hit in hits} == {"居民身份证申领", "重庆户口迁入证明开具"}


def test_life_event_filter(index: CatalogIndex) -> None:
    hits = index.search("sl", life_event="开办企业")
    assert _names(hits) == ["企业设立登记", "个体工商户设立登记"]


def test_all_terms_must_match(index: CatalogIndex) -> None:
    assert _names(index.search("企业 变更")) == ["企业变更登记"]
    assert _names(index.search("qiye zx")) == ["企业注销登记"]
    assert index.search("企业 施工") == []


def test_full_width_input_is_folded(index: CatalogIndex) -> None:
    assert index.search("ＱＹＳＬ")[0].name == "企业设立登记"
    assert normalize_query("  ＱＹ　ＳＬ ") == "qy sl"


def test_exact_name_beats_prefix_and_substring(index: CatalogIndex) -> None:
    hits = index.search("企业")
    assert hits[0].name == "企业"
    assert hits[0].matched == MatchKind.NAME
    assert [hit.matched for hit in hits[1:4]] == [MatchKind.NAME_PREFIX] * 3
    assert hits[0].score > hits[1].score


def test_name_prefix_beats_substring_and_shorter_name_breaks_ties(index: CatalogIndex) -> None:
    hits = index.search("设立登记")
    # Both contain the term; neither starts with it; the shorter name wins.
    assert _names(hits) == ["企业设立登记", "个体工商户设立登记"]
    assert hits[0].score == hits[1].score


def test_name_match_beats_keyword_match(index: CatalogIndex) -> None:
    hits = index.search("身份证")
    assert hits[0].matched == MatchKind.NAME_SUBSTRING
    keyword_only = index.search("餐饮")
    assert keyword_only[0].name == "食品经营许可证核发"
    assert keyword_only[0].matched == MatchKind.KEYWORD


def test_name_pinyin_beats_initials(index: CatalogIndex) -> None:
    hits = index.search("shi")
    kinds = [hit.matched for hit in hits]
    assert kinds[0] == MatchKind.PINYIN
    assert hits[0].name == "食品经营许可证核发"  # pinyin prefix "shipin..."


def test_department_name_is_the_weakest_match(index: CatalogIndex) -> None:
    hits = index.search("公安")
    assert {hit.name for hit in hits} == {"居民身份证申领", "重庆户口迁入证明开具"}
    assert all(hit.matched == MatchKind.DEPARTMENT for hit in hits)


def test_heteronym_readings_are_accepted_but_rank_lower(index: CatalogIndex) -> None:
    usual = index.search("chongqing")
    other = index.search("zhongqing")
    assert usual[0].name == other[0].name == "重庆户口迁入证明开具"
    assert usual[0].score > other[0].score


def test_rare_readings_do_not_match_short_terms(index: CatalogIndex) -> None:
    # 核 can be read "kai", but a three-letter term must not find 核发 by it.
    assert "建筑工程施工许可证核发" not in _names(index.search("kai"))


def test_syllables_must_start_a_match(index: CatalogIndex) -> None:
    # "iye" sits inside "qiye" but does not start on a syllable.
    assert index.search("iye") == []


def test_nonsense_finds_nothing(index: CatalogIndex) -> None:
    assert index.search("xyzzy") == []
    assert index.search("宇宙飞船") == []


def test_limit(index: CatalogIndex) -> None:
    assert len(index.search("dj", limit=2)) == 2
    assert index.search("dj", limit=0) == []


def test_empty_query_lists_filtered_catalog_by_code(index: CatalogIndex) -> None:
    hits = index.search("  ", department="gaj")
    assert [hit.code for hit in hits] == ["GAJ-BM-001", "GAJ-BM-002"]
    assert all(hit.score == 0 for hit in hits)
    assert len(index.search("")) == len(CATALOG)


def test_unknown_filter_value_finds_nothing(index: CatalogIndex) -> None:
    assert index.search("", department="nope") == []


def test_keyword_pinyin(index: CatalogIndex) -> None:
    hits = index.search("kaigongsi")
    assert hits[0].name == "企业设立登记"
    assert hits[0].matched == MatchKind.KEYWORD_PINYIN


def test_latin_letters_in_names_are_searchable() -> None:
    index = CatalogIndex.build([_entry(1, "TX-001", "ICP经营许可证核发", ("txj", "通信管理局"))])
    assert index.search("icp")[0].matched == MatchKind.NAME_PREFIX
    assert index.search("icpjing")[0].matched == MatchKind.PINYIN
    assert index.search("icpjy")[0].matched == MatchKind.INITIALS


def test_aliases_match_by_characters_pinyin_and_initials_below_the_name() -> None:
    renamed = CatalogIndex.build(
        [
            SearchEntry(
                matter_id=1,
                code="SCJG-XK-001",
                name="企业设立登记",
                department=MARKET[0],
                department_name=MARKET[1],
                type="行政许可",
                aliases=("工商登记", "注册登记"),
            ),
            _entry(2, "SCJG-XK-002", "工商登记档案查询", MARKET),
            _entry(3, "SCJG-XK-003", "企业注销登记", MARKET, keywords=("工商登记注销",)),
        ]
    )

    def top(query: str) -> tuple[str, int, str]:
        hit = renamed.search(query)[0]
        return hit.code, hit.score, hit.matched

    # The matter's own name still outranks another matter's alias ...
    assert top("工商登记") == ("SCJG-XK-002", 900, MatchKind.NAME_PREFIX)
    # ... and an alias outranks a keyword and a name merely containing the word.
    assert [hit.code for hit in renamed.search("工商登记")] == [
        "SCJG-XK-002",
        "SCJG-XK-001",
        "SCJG-XK-003",
    ]
    assert renamed.search("工商登记")[1].matched == MatchKind.ALIAS
    assert top("注册登记") == ("SCJG-XK-001", 850, MatchKind.ALIAS)
    assert top("注册") == ("SCJG-XK-001", 780, MatchKind.ALIAS)
    assert top("zhucedengji") == ("SCJG-XK-001", 580, MatchKind.ALIAS_PINYIN)
    assert top("zhuce deng ji") == ("SCJG-XK-001", 580, MatchKind.ALIAS_PINYIN)
    assert top("zcdj") == ("SCJG-XK-001", 420, MatchKind.ALIAS_PINYIN)
    # Syllable rule as for names: "ce" starts no syllable run of 注册登记 ("zhu|ce").
    assert top("cedengji") == ("SCJG-XK-001", 530, MatchKind.ALIAS_PINYIN)
    assert [hit.code for hit in renamed.search("hucedengji")] == []
