"""Benchmark the catalog search over a generated, realistic catalog.

    python bench/catalog_search.py --matters 5000 --queries 2000 --seed 1

Builds a catalog of distinct matter names from real department names and
matter-name fragments, times CatalogIndex.build, then times a query mix like
the kiosk and window traffic: Chinese substrings, full-pinyin prefixes,
initials, codes, multi-term queries, filters, empty and nonsense queries.
Prints latency percentiles and throughput; the last line is a Markdown table
row for the performance notes.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a plain script: make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pypinyin import Style, lazy_pinyin

from backend.catalog.search import CatalogIndex, SearchEntry

DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("scjg", "市场监督管理局"),
    ("zjj", "住房和城乡建设局"),
    ("gaj", "公安局"),
    ("mzj", "民政局"),
    ("rsj", "人力资源和社会保障局"),
    ("wjw", "卫生健康委员会"),
    ("zrzy", "自然资源和规划局"),
    ("sthj", "生态环境局"),
    ("jtys", "交通运输局"),
    ("jyj", "教育局"),
    ("wglj", "文化广电旅游局"),
    ("nync", "农业农村局"),
    ("slj", "水利局"),
    ("swj", "商务局"),
    ("sw", "税务局"),
    ("ybj", "医疗保障局"),
    ("tyjr", "退役军人事务局"),
    ("yjgl", "应急管理局"),
    ("cgj", "城市管理局"),
    ("cl", "残疾人联合会"),
    ("gjj", "住房公积金管理中心"),
    ("fgj", "发展和改革局"),
    ("czj", "财政局"),
    ("sfj", "司法局"),
    ("lyj", "林业局"),
    ("daj", "档案馆"),
    ("qxj", "气象局"),
    ("xf", "消防救援大队"),
    ("yc", "烟草专卖局"),
    ("bdc", "不动产登记中心"),
)

SUBJECTS: tuple[str, ...] = (
    "企业",
    "个体工商户",
    "农民专业合作社",
    "食品经营",
    "食品生产",
    "药品零售",
    "医疗器械",
    "建筑工程",
    "建设工程",
    "城镇燃气",
    "道路运输",
    "出租汽车",
    "船舶",
    "特种设备",
    "民办学校",
    "幼儿园",
    "养老机构",
    "社会团体",
    "民办非企业单位",
    "基金会",
    "婚姻",
    "收养",
    "户口",
    "居民身份证",
    "出入境",
    "机动车",
    "驾驶证",
    "不动产",
    "房屋",
    "林木",
    "取水",
    "排污",
    "危险化学品",
    "烟花爆竹",
    "放射诊疗",
    "医师",
    "护士",
    "教师资格",
    "导游",
    "旅行社",
    "互联网上网服务",
    "娱乐场所",
    "户外广告",
    "城市道路",
    "临时建筑",
    "消防",
    "人防工程",
    "公共场所卫生",
    "生活饮用水",
    "职业病诊断",
    "劳务派遣",
    "人力资源服务",
    "社会保险",
    "养老保险",
    "失业保险",
    "医疗保险",
    "住房公积金",
    "残疾人",
    "退役军人",
    "档案",
    "气象探测",
    "施工图审查",
    "商品房预售",
    "供热",
    "排水",
    "渔业捕捞",
    "种子生产",
    "兽药经营",
    "农药经营",
    "粮食收购",
    "酒类流通",
)
OBJECTS: tuple[str, ...] = (
    "",
    "",
    "",
    "许可证",
    "资质",
    "登记证",
    "执业证书",
    "经营许可证",
    "备案证明",
    "证明",
    "补贴",
    "待遇",
    "证书",
    "施工许可证",
)
ACTIONS: tuple[str, ...] = (
    "设立登记",
    "变更登记",
    "注销登记",
    "核发",
    "变更",
    "延续",
    "补办",
    "注销",
    "备案",
    "审批",
    "审核",
    "申领",
    "开具",
    "年检",
    "换领",
    "查询",
    "认定",
    "核准",
)
TYPES: tuple[tuple[str, str], ...] = (
    ("行政许可", "XK"),
    ("非行政许可", "FX"),
    ("公共服务", "GG"),
    ("便民服务", "BM"),
)
LIFE_EVENTS: tuple[str, ...] = (
    "开办企业",
    "工程建设",
    "结婚生育",
    "就业创业",
    "社会保障",
    "户籍办理",
    "不动产登记",
    "交通出行",
    "退休养老",
    "教育入学",
)
EXTRA_KEYWORDS: tuple[str, ...] = ("办证", "开公司", "新办", "网上办", "一件事", "证照")


def generate_catalog(matter_count: int, rng: random.Random) -> list[SearchEntry]:
    """*matter_count* matters with distinct names and codes."""
    names: set[str] = set()
    entries: list[SearchEntry] = []
    attempts = 0
    while len(entries) < matter_count:
        attempts += 1
        subject, obj, action = rng.choice(SUBJECTS), rng.choice(OBJECTS), rng.choice(ACTIONS)
        name = f"{subject}{obj}{action}"
        if attempts > matter_count * 20:
            # Fragment space exhausted: qualify like real catalogs do.
            name = f"{name}（{rng.choice(('市级', '区级', '街道', '乡镇'))}{len(entries)}）"
        if name in names:
            continue
        names.add(name)
        department, department_name = rng.choice(DEPARTMENTS)
        type_name, type_abbreviation = rng.choice(TYPES)
        keywords = tuple(rng.sample((subject, *EXTRA_KEYWORDS), k=rng.randint(0, 3)))
        life_events = tuple(rng.sample(LIFE_EVENTS, k=rng.randint(0, 2)))
        entries.append(
            SearchEntry(
                matter_id=len(entries) + 1,
                code=f"{department.upper()}-{type_abbreviation}-{len(entries) + 1:05d}",
                name=name,
                department=department,
                department_name=department_name,
                type=type_name,
                keywords=keywords,
                life_events=life_events,
            )
        )
    return entries


@dataclass(frozen=True)
class BenchQuery:
    text: str
    department: str | None = None
    type: str | None = None


def _chinese_substring(entry: SearchEntry, rng: random.Random) -> str:
    length = rng.randint(2, min(4, len(entry.name)))
    start = rng.randint(0, len(entry.name) - length)
    return entry.name[start : start + length]


def _pinyin_prefix(entry: SearchEntry, rng: random.Random) -> str:
    syllables = lazy_pinyin(entry.name, style=Style.NORMAL)
    return "".join(syllables[: rng.randint(1, 3)])


def _initials(entry: SearchEntry, rng: random.Random) -> str:
    letters = "".join(lazy_pinyin(entry.name, style=Style.FIRST_LETTER))
    start = rng.choice((0, 0, 0, rng.randint(0, max(0, len(letters) - 2))))
    return letters[start : start + rng.randint(2, 4)]


def generate_queries(
    catalog: list[SearchEntry], query_count: int, rng: random.Random
) -> list[BenchQuery]:
    """Weighted mix of the query shapes seen at kiosks and windows."""
    shapes: list[tuple[float, Callable[[SearchEntry], str]]] = [
        (0.28, lambda entry: _chinese_substring(entry, rng)),
        (0.20, lambda entry: _pinyin_prefix(entry, rng)),
        (0.20, lambda entry: _initials(entry, rng)),
        (0.08, lambda entry: entry.code),
        (0.04, lambda entry: entry.code[: rng.randint(3, 8)]),
        (0.08, lambda entry: f"{entry.name[:2]} {entry.name[-2:]}"),
        (0.04, lambda entry: " ".join(lazy_pinyin(entry.name[:2], style=Style.NORMAL))),
        (0.03, lambda entry: rng.choice(("q", "z", "s", "企", "证"))),
        (0.03, lambda entry: rng.choice(("xyzzy", "宇宙飞船", "qqqq"))),
        (0.02, lambda entry: ""),
    ]
    weights = [weight for weight, _ in shapes]
    queries: list[BenchQuery] = []
    for _ in range(query_count):
        entry = rng.choice(catalog)
        make_text = rng.choices([make for _, make in shapes], weights=weights)[0]
        text = make_text(entry)
        filter_roll = rng.random()
        if filter_roll < 0.15 or not text:
            queries.append(BenchQuery(text, department=entry.department))
        elif filter_roll < 0.25:
            queries.append(BenchQuery(text, type=entry.type))
        else:
            queries.append(BenchQuery(text))
    return queries


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--matters", type=int, default=5000, help="catalog size")
    parser.add_argument("--queries", type=int, default=2000, help="timed queries")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--limit", type=int, default=20, help="hits per query")
    arguments = parser.parse_args(argv)

    rng = random.Random(arguments.seed)
    catalog = generate_catalog(arguments.matters, rng)
    queries = generate_queries(catalog, arguments.queries, rng)

    build_started = time.perf_counter()
    index = CatalogIndex.build(catalog)
    build_seconds = time.perf_counter() - build_started

    latencies_ms: list[float] = []
    hit_counts: list[int] = []
    run_started = time.perf_counter()
    for query in queries:
        started = time.perf_counter()
        hits = index.search(
            query.text, department=query.department, type=query.type, limit=arguments.limit
        )
        latencies_ms.append((time.perf_counter() - started) * 1000)
        hit_counts.append(len(hits))
    run_seconds = time.perf_counter() - run_started

    latencies_ms.sort()
    p50, p99 = percentile(latencies_ms, 0.50), percentile(latencies_ms, 0.99)
    worst = latencies_ms[-1]
    throughput = len(queries) / run_seconds if run_seconds else float("inf")
    command = shlex.join([Path(sys.executable).name, *sys.argv])

    print(f"command:        {command}")
    print(f"python:         {sys.version.split()[0]}")
    print(f"catalog:        {len(index)} matters, {len(DEPARTMENTS)} departments")
    print(f"build:          {build_seconds:.3f} s")
    print(f"queries:        {len(queries)} (mean hits {statistics.fmean(hit_counts):.1f})")
    print(f"latency p50:    {p50:.3f} ms")
    print(f"latency p99:    {p99:.3f} ms")
    print(f"latency max:    {worst:.3f} ms")
    print(f"throughput:     {throughput:.0f} queries/s")
    print()
    print("| matters | queries | build s | p50 ms | p99 ms | max ms | queries/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(index)} | {len(queries)} | {build_seconds:.2f} | {p50:.3f} | {p99:.3f} "
        f"| {worst:.3f} | {throughput:.0f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
