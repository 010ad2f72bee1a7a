"""Consistency checks for the demo hall seed data.

backend/seed/demo_hall.yaml    organisation: halls, departments, queue categories,
                               windows, staff, notices, rating reasons, life events
backend/seed/demo_catalog.yaml service catalog (事项目录), one MatterSpec per entry
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.catalog.spec import MatterSpec

SEED_DIR = Path(__file__).resolve().parents[1] / "backend" / "seed"
HALL_KINDS = {"centre", "branch", "subcentre", "station"}
ROLES = {"clerk", "lead", "supervisor", "admin"}
CENTRE = "BH"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def hall() -> dict[str, Any]:
    with open(SEED_DIR / "demo_hall.yaml", encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


@pytest.fixture(scope="module")
def raw_matters() -> list[dict[str, Any]]:
    with open(SEED_DIR / "demo_catalog.yaml", encoding="utf-8") as fh:
        items: list[dict[str, Any]] = yaml.safe_load(fh)["matters"]
    return items


@pytest.fixture(scope="module")
def matters(raw_matters: list[dict[str, Any]]) -> list[MatterSpec]:
    return [MatterSpec.model_validate(item) for item in raw_matters]


@pytest.fixture(scope="module")
def departments(hall: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["code"]: d for d in hall["departments"]}


@pytest.fixture(scope="module")
def categories(hall: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["hall"], c["prefix"]): c for c in hall["queue_categories"]}


@pytest.fixture(scope="module")
def windows(hall: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(w["hall"], w["number"]): w for w in hall["windows"]}


# ---------------------------------------------------------------- YAML shape


def test_top_level_sections_present(hall: dict[str, Any]) -> None:
    for key in (
        "halls",
        "departments",
        "queue_categories",
        "windows",
        "staff",
        "notices",
        "bad_rating_reasons",
        "life_events",
    ):
        assert hall.get(key), f"demo_hall.yaml lacks {key}"


def test_window_numbers_are_strings(
    hall: dict[str, Any], raw_matters: list[dict[str, Any]]
) -> None:
    for w in hall["windows"]:
        assert isinstance(w["number"], str), w
    for s in hall["staff"]:
        for ref in s["windows"]:
            assert isinstance(ref["number"], str), s["employee_no"]
    for item in raw_matters:
        assert all(isinstance(n, str) for n in item.get("windows", ())), item["code"]


# ---------------------------------------------------------------- halls


def test_hall_codes_unique(hall: dict[str, Any]) -> None:
    codes = [h["code"] for h in hall["halls"]]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9\-]*", c) for c in codes)


def test_hall_hierarchy(hall: dict[str, Any], departments: dict[str, dict[str, Any]]) -> None:
    by_code = {h["code"]: h for h in hall["halls"]}
    centres = [h for h in hall["halls"] if h["kind"] == "centre"]
    assert [c["code"] for c in centres] == [CENTRE]
    assert centres[0]["parent"] is None
    expected_parent_kind = {"branch": {"centre"}, "subcentre": {"centre"}, "station": {"subcentre"}}
    for h in hall["halls"]:
        assert h["kind"] in HALL_KINDS, h
        assert h["name"].strip()
        assert h["floors"], h["code"]
        if h["kind"] == "centre":
            continue
        parent = by_code.get(h["parent"])
        assert parent is not None, f"{h['code']}: parent {h['parent']} missing"
        assert parent["kind"] in expected_parent_kind[h["kind"]], h["code"]
        if h["kind"] == "branch":
            assert h["run_by"] in departments, h["code"]


def test_branches_subcentres_and_stations(hall: dict[str, Any]) -> None:
    kinds = defaultdict(list)
    for h in hall["halls"]:
        kinds[h["kind"]].append(h)
    branch_names = " ".join(h["name"] for h in kinds["branch"])
    for word in ("劳动人事保障局", "住建局房产", "交通局", "新农合"):
        assert word in branch_names
    sub_names = " ".join(h["name"] for h in kinds["subcentre"])
    for word in ("杏山街道", "天桥街道", "王家街道", "娘娘宫镇"):
        assert word in sub_names
    stations = Counter(h["parent"] for h in kinds["station"])
    for sub in kinds["subcentre"]:
        assert stations[sub["code"]] >= 2, f"{sub['code']} needs at least 2 代办站"


def test_centre_floors(hall: dict[str, Any]) -> None:
    centre = next(h for h in hall["halls"] if h["code"] == CENTRE)
    assert [f["number"] for f in centre["floors"]] == [1, 2, 3]


# ---------------------------------------------------------------- departments


def test_departments(hall: dict[str, Any], departments: dict[str, dict[str, Any]]) -> None:
    assert len(departments) == len(hall["departments"]), "duplicate department code"
    assert 28 <= len(departments) <= 40
    for d in hall["departments"]:
        assert d["name"] and d["short_name"] and d["line"], d
    names = {d["name"] for d in hall["departments"]}
    for name in (
        "工商分局",
        "国税分局",
        "地税分局",
        "质监分局",
        "社保分局",
        "消防大队",
        "公安局",
        "海洋渔业局",
        "园林绿化局",
        "征收办",
    ):
        assert name in names


# ---------------------------------------------------------------- queue categories


def test_queue_categories(
    hall: dict[str, Any],
    departments: dict[str, dict[str, Any]],
    categories: dict[tuple[str, str], dict[str, Any]],
) -> None:
    assert len(categories) == len(hall["queue_categories"]), "duplicate (hall, prefix)"
    halls = {h["code"] for h in hall["halls"]}
    per_hall = Counter(c["hall"] for c in hall["queue_categories"])
    assert all(n <= 26 for n in per_hall.values())
    for c in hall["queue_categories"]:
        assert c["hall"] in halls
        assert re.fullmatch(r"[A-Z]", c["prefix"]), c
        assert c["departments"], c
        assert set(c["departments"]) <= departments.keys(), c
        assert 1 <= c["number_start"] < c["number_end"] <= 999
        assert c["daily_cap"] <= c["number_end"] - c["number_start"] + 1
        for key in ("issue_from", "issue_until"):
            assert re.fullmatch(r"\d\d:\d\d", c[key]), c
        assert c["issue_from"] < c["issue_until"]
        assert isinstance(c["priority_allowed"], bool)


def test_centre_has_consultation_and_fee_categories(hall: dict[str, Any]) -> None:
    names = {c["name"] for c in hall["queue_categories"] if c["hall"] == CENTRE}
    assert any("咨询" in n for n in names)
    assert any("收费" in n or "缴费" in n for n in names)


def test_every_department_reachable_by_a_centre_category(
    hall: dict[str, Any], departments: dict[str, dict[str, Any]]
) -> None:
    covered = set()
    for c in hall["queue_categories"]:
        if c["hall"] == CENTRE:
            covered.update(c["departments"])
    assert covered == departments.keys()


# ---------------------------------------------------------------- windows


def test_window_numbers_unique_per_hall(
    hall: dict[str, Any], windows: dict[tuple[str, str], dict[str, Any]]
) -> None:
    assert len(windows) == len(hall["windows"])


def test_centre_window_layout(hall: dict[str, Any]) -> None:
    bh = [w for w in hall["windows"] if w["hall"] == CENTRE]
    by_floor = Counter(w["floor"] for w in bh)
    assert by_floor[1] == 18
    assert by_floor[2] == 22
    assert sorted(int(w["number"]) for w in bh) == list(range(1, 41))


def test_branch_and_subcentre_windows(hall: dict[str, Any]) -> None:
    counts = Counter(w["hall"] for w in hall["windows"])
    for h in hall["halls"]:
        if h["kind"] in ("branch", "subcentre"):
            assert 2 <= counts[h["code"]] <= 4, h["code"]


def test_window_references(
    hall: dict[str, Any],
    departments: dict[str, dict[str, Any]],
    categories: dict[tuple[str, str], dict[str, Any]],
) -> None:
    halls = {h["code"]: h for h in hall["halls"]}
    for w in hall["windows"]:
        assert w["hall"] in halls
        assert w["floor"] in {f["number"] for f in halls[w["hall"]]["floors"]}, w
        assert w["departments"] and set(w["departments"]) <= departments.keys(), w
        assert w["categories"], w
        for cat in w["categories"]:
            assert (w["hall"], cat["prefix"]) in categories, f"{w['hall']} #{w['number']}: {cat}"
            assert cat["weight"] >= 1


def test_every_centre_category_served_by_a_window(hall: dict[str, Any]) -> None:
    served = {c["prefix"] for w in hall["windows"] if w["hall"] == CENTRE for c in w["categories"]}
    prefixes = {c["prefix"] for c in hall["queue_categories"] if c["hall"] == CENTRE}
    assert prefixes <= served


# ---------------------------------------------------------------- staff


def test_employee_numbers_unique(hall: dict[str, Any]) -> None:
    numbers = [s["employee_no"] for s in hall["staff"]]
    dupes = [n for n, k in Counter(numbers).items() if k > 1]
    assert not dupes, dupes
    assert all(re.fullmatch(r"[A-Z]{2,3}\d{4}", n) for n in numbers)


def test_staff_references(
    hall: dict[str, Any],
    departments: dict[str, dict[str, Any]],
    windows: dict[tuple[str, str], dict[str, Any]],
) -> None:
    halls = {h["code"] for h in hall["halls"]}
    for s in hall["staff"]:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", s["name"]), s
        assert s["department"] in departments, s
        assert s["hall"] in halls, s
        assert s["roles"] and set(s["roles"]) <= ROLES, s
        for ref in s["windows"]:
            assert (s["hall"], ref["number"]) in windows, f"{s['employee_no']} -> {ref}"
            assert ref["post"] in ("A", "B")
        if "clerk" in s["roles"]:
            assert s["windows"], f"clerk {s['employee_no']} has no window"


def test_every_window_staffed_on_posts_a_and_b(hall: dict[str, Any]) -> None:
    posts = defaultdict(set)
    for s in hall["staff"]:
        for ref in s["windows"]:
            posts[(s["hall"], ref["number"])].add(ref["post"])
    for w in hall["windows"]:
        key = (w["hall"], w["number"])
        assert posts[key] == {"A", "B"}, f"window {key} posts {posts[key]}"


def test_centre_front_windows_staffed_by_own_departments(
    hall: dict[str, Any], windows: dict[tuple[str, str], dict[str, Any]]
) -> None:
    for s in hall["staff"]:
        for ref in s["windows"]:
            window = windows[(s["hall"], ref["number"])]
            assert s["department"] in window["departments"], s["employee_no"]


def test_every_department_has_a_lead(
    hall: dict[str, Any], departments: dict[str, dict[str, Any]]
) -> None:
    leads = {s["department"] for s in hall["staff"] if "lead" in s["roles"]}
    assert leads == departments.keys()


def test_supervisors_and_administrators(hall: dict[str, Any]) -> None:
    roles = Counter(r for s in hall["staff"] for r in s["roles"])
    assert roles["supervisor"] >= 3
    assert roles["admin"] >= 2


# ---------------------------------------------------------------- notices, reasons, life events


def test_notices(hall: dict[str, Any]) -> None:
    notices = [n for n in hall["notices"] if n["hall"] == CENTRE]
    assert 4 <= len(notices) <= 6
    assert all(n["title"].strip() and n["body"].strip() for n in notices)


def test_rating_reasons_and_life_events(hall: dict[str, Any]) -> None:
    assert "其他" in hall["bad_rating_reasons"]
    assert len(set(hall["bad_rating_reasons"])) == len(hall["bad_rating_reasons"])
    assert len(set(hall["life_events"])) == len(hall["life_events"]) >= 8


# ---------------------------------------------------------------- catalog


def test_catalog_size(matters: list[MatterSpec]) -> None:
    assert len(matters) >= 160


def test_every_matter_validates(raw_matters: list[dict[str, Any]]) -> None:
    errors = []
    for item in raw_matters:
        try:
            MatterSpec.model_validate(item)
        except Exception as exc:  # collect them all for one readable failure
            errors.append(f"{item.get('code')}: {exc}")
    assert not errors, "\n".join(errors)


def test_matter_codes_unique_and_prefixed(matters: list[MatterSpec]) -> None:
    codes = [m.code for m in matters]
    assert len(codes) == len(set(codes))
    for m in matters:
        assert re.fullmatch(rf"{re.escape(m.department)}-\d{{3}}", m.code), m.code


def test_matter_names_unique(matters: list[MatterSpec]) -> None:
    names = Counter(m.name for m in matters)
    assert not [n for n, k in names.items() if k > 1]


def test_every_department_has_three_matters(
    matters: list[MatterSpec], departments: dict[str, dict[str, Any]]
) -> None:
    per_dept = Counter(m.department for m in matters)
    thin = {d: per_dept[d] for d in departments if per_dept[d] < 3}
    assert not thin, thin
    for big in ("GS", "ZJJ", "SB", "GA"):
        assert per_dept[big] >= 10, big


def test_matter_departments_and_categories_exist(
    matters: list[MatterSpec],
    departments: dict[str, dict[str, Any]],
    categories: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for m in matters:
        assert m.department in departments, m.code
        assert (CENTRE, m.queue_category) in categories, m.code


def test_matter_category_serves_its_department(
    matters: list[MatterSpec], categories: dict[tuple[str, str], dict[str, Any]]
) -> None:
    for m in matters:
        assert m.department in categories[(CENTRE, m.queue_category)]["departments"], m.code


def test_matter_windows_exist_in_centre(
    matters: list[MatterSpec], windows: dict[tuple[str, str], dict[str, Any]]
) -> None:
    for m in matters:
        for number in m.windows:
            window = windows.get((CENTRE, number))
            assert window is not None, f"{m.code}: window {number}"
            assert m.department in window["departments"], f"{m.code}: window {number}"
            prefixes = {c["prefix"] for c in window["categories"]}
            assert m.queue_category in prefixes, f"{m.code}: window {number}"


def test_matter_life_events_listed(matters: list[MatterSpec], hall: dict[str, Any]) -> None:
    allowed = set(hall["life_events"])
    for m in matters:
        assert m.life_events, m.code
        assert set(m.life_events) <= allowed, m.code


def test_matter_content_quality(matters: list[MatterSpec]) -> None:
    for m in matters:
        assert 2 <= len(m.materials) <= 8, m.code
        assert m.conditions.strip() and m.legal_basis.strip(), m.code
        assert "《" in m.legal_basis, m.code
        assert m.keywords, m.code
        if m.promised_days == 0 and m.statutory_days == 0:
            continue
        assert m.promised_days > 0 or m.statutory_days > 0


def test_catalog_mix(matters: list[MatterSpec]) -> None:
    types = Counter(m.type.value for m in matters)
    assert set(types) == {"行政许可", "非行政许可", "公共服务", "便民服务"}
    online = sum(m.online for m in matters) / len(matters)
    assert 0.3 <= online <= 0.5, online
    assert sum(not m.is_free for m in matters) >= 5
    assert any("现场踏勘" in m.steps for m in matters)
