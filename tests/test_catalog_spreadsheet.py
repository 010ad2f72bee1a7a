"""Catalog import/export as CSV and Excel."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from backend.catalog.spec import MaterialForm, MaterialSpec, MatterSpec, MatterType
from backend.catalog.spreadsheet import (
    COLUMNS,
    CatalogFileError,
    RowError,
    read_catalog,
    write_catalog,
)

HEADERS = [column.header for column in COLUMNS]


def _matter(code: str = "SCJG-XK-001", name: str = "企业设立登记", **changes: object) -> MatterSpec:
    fields: dict[str, object] = {
        "code": code,
        "name": name,
        "type": MatterType.ADMINISTRATIVE_PERMIT,
        "department": "scjg",
        "promised_days": 3,
        "statutory_days": 15,
        "queue_category": "A",
    }
    fields.update(changes)
    return MatterSpec.model_validate(fields)


RICH = _matter(
    materials=(
        MaterialSpec(
            name="营业执照",
            form=MaterialForm.ORIGINAL_AND_COPY,
            count=2,
            electronic_allowed=True,
            note="加盖公章|骑缝章",
        ),
        MaterialSpec(name="法定代表人身份证明"),
    ),
    conditions="1. 申请人具有完全民事行为能力；\n2. 材料齐全、符合法定形式。",
    legal_basis="《中华人民共和国公司法》第六条",
    fee="不收费",
    steps=("网上申请", "窗口受理", "审核", "发证"),
    online=True,
    windows=("3", "4"),
    life_events=("开办企业",),
    keywords=("开公司", "=SUM(A1)"),
)
PLAIN = _matter(
    "ZJJ-XK-001",
    "建筑工程施工许可证核发",
    department="zjj",
    type=MatterType.PUBLIC_SERVICE,
    promised_days=0,
    statutory_days=0,
    queue_category="B",
)


def _write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        csv.writer(stream).writerows(rows)
    return path


def _valid_row(code: str, name: str = "企业变更登记", /, **cells: object) -> list[object]:
    values: dict[str, object] = {
        "事项编码": code,
        "事项名称": name,
        "事项类型": "行政许可",
        "实施部门": "scjg",
        "承诺时限(工作日)": 3,
        "法定时限(工作日)": 15,
        "排队类别": "A",
    }
    values.update(cells)
    return [values.get(header, "") for header in HEADERS]


def _by_row(errors: list[RowError]) -> dict[int, list[RowError]]:
    grouped: dict[int, list[RowError]] = {}
    for error in errors:
        grouped.setdefault(error.row, []).append(error)
    return grouped


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"catalog{suffix}"
    write_catalog([RICH, PLAIN], path)
    report = read_catalog(path)
    assert report.errors == []
    assert report.matters == [RICH, PLAIN]
    assert report.rows_read == 2


def test_csv_is_written_with_bom_and_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    write_catalog([RICH], path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[0].startswith("事项编码,事项名称,事项类型")


def test_xlsx_layout(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xlsx"
    write_catalog([RICH], path)
    sheet = load_workbook(path).worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "事项编码" and sheet["A1"].font.b
    materials = sheet.cell(row=2, column=HEADERS.index("申报材料") + 1)
    assert materials.alignment.wrap_text
    assert sheet.column_dimensions["B"].width > 10
    keywords = sheet.cell(row=2, column=HEADERS.index("关键词") + 1)
    assert keywords.data_type == "s"  # "=SUM(A1)" stays text, not a formula


def test_every_problem_of_every_bad_row_is_reported(tmp_path: Path) -> None:
    rows: list[Sequence[object]] = [
        HEADERS,
        _valid_row("OK-1", "企业变更登记"),  # row 2
        _valid_row("BAD-TYPE", 事项类型="许可"),  # row 3
        _valid_row("BAD-DAYS", **{"承诺时限(工作日)": 20, "法定时限(工作日)": 10}),  # row 4
        _valid_row("BAD-INT", **{"承诺时限(工作日)": "三天", "法定时限(工作日)": "5.5"}),  # 5
        _valid_row("NO-NAME", ""),  # row 6
        _valid_row("OK-1", "企业注销登记"),  # row 7: duplicate code
        _valid_row("BAD-DEPT", 实施部门="nowhere"),  # row 8
        _valid_row("BAD-MAT", 申报材料="营业执照|原件|1|是\n身份证|扫描件|两份"),  # row 9
        ["", "", ""],  # row 10: blank, skipped
        _valid_row("MANY", "", 事项类型="许可", 网上可办="也许"),  # row 11
    ]
    path = _write_csv(tmp_path / "bad.csv", rows)
    report = read_catalog(path, known_departments={"scjg", "zjj"}, known_categories={"A", "B"})

    assert [matter.code for matter in report.matters] == ["OK-1"]
    assert report.rows_read == 9
    errors = _by_row(report.errors)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 11]
    columns = {row: {error.column for error in found} for row, found in errors.items()}
    assert columns[3] == {"事项类型"}
    assert columns[4] == {"承诺时限(工作日)"}
    assert columns[5] == {"承诺时限(工作日)", "法定时限(工作日)"}
    assert columns[6] == {"事项名称"}
    assert columns[7] == {"事项编码"}
    assert "第 2 行" in errors[7][0].reason
    assert columns[8] == {"实施部门"}
    assert columns[9] == {"申报材料"}
    assert columns[11] == {"事项名称", "事项类型", "网上可办"}

    type_error = errors[3][0]
    assert type_error.code == "BAD-TYPE"
    assert type_error.value == "许可"
    assert "行政许可" in type_error.reason
    assert {error.value for error in errors[5]} == {"三天", "5.5"}
    material_error = errors[9][0]
    assert "第 2 条" in material_error.reason and "第 1 条" not in material_error.reason
    assert "形式" in material_error.reason and "份数" in material_error.reason


def test_unknown_queue_category(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "c.csv", [HEADERS, _valid_row("X-1", 排队类别="Z")])
    report = read_catalog(path, known_categories={"A"})
    assert [(error.row, error.column) for error in report.errors] == [(2, "排队类别")]


def test_missing_required_header_is_one_file_level_error(tmp_path: Path) -> None:
    headers = [header for header in HEADERS if header not in ("事项名称", "排队类别")]
    path = _write_csv(tmp_path / "missing.csv", [headers, ["X-1"] * len(headers)])
    report = read_catalog(path)
    assert report.matters == []
    assert len(report.errors) == 1
    error = report.errors[0]
    assert error.row == 1 and error.column is None
    assert "事项名称" in error.reason and "排队类别" in error.reason


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    report = read_catalog(path)
    assert report.matters == [] and report.errors[0].row == 1


def test_bom_english_and_tolerant_headers(tmp_path: Path) -> None:
    english = [column.field for column in COLUMNS]
    english[0] = "  Code "
    english[HEADERS.index("承诺时限(工作日)")] = "承诺时限 （工作日）"
    row = _valid_row("EN-1", 网上可办="Y", 办理窗口="1，2;3", 办理流程="受理->审核→办结")
    path = _write_csv(tmp_path / "english.csv", [english, row], encoding="utf-8-sig")
    report = read_catalog(path)
    assert report.errors == []
    matter = report.matters[0]
    assert matter.code == "EN-1" and matter.online
    assert matter.windows == ("1", "2", "3")
    assert matter.steps == ("受理", "审核", "办结")


def test_gb18030_csv_from_chinese_excel(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "gbk.csv", [HEADERS, _valid_row("GB-1")], encoding="gb18030")
    assert [matter.name for matter in read_catalog(path).matters] == ["企业变更登记"]


def test_excel_numbers_title_row_and_integral_floats(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["某市政务服务事项目录"])  # title row above the header
    sheet.append(HEADERS)
    sheet.append(_valid_row("XL-1", **{"承诺时限(工作日)": 5.0, "法定时限(工作日)": 20.0}))
    sheet.append(_valid_row("XL-2", **{"承诺时限(工作日)": 5.5}))
    sheet.append(_valid_row("XL-3", 网上可办=True))
    path = tmp_path / "excel.xlsx"
    workbook.save(path)

    report = read_catalog(path)
    assert [(matter.code, matter.promised_days) for matter in report.matters] == [
        ("XL-1", 5),
        ("XL-3", 3),
    ]
    assert report.matters[1].online
    assert [(error.row, error.column, error.value) for error in report.errors] == [
        (4, "承诺时限(工作日)", "5.5")
    ]


def test_progress_is_throttled_and_ends_complete(tmp_path: Path) -> None:
    rows: list[Sequence[object]] = [HEADERS]
    rows += [_valid_row(f"P-{number}", f"事项{number}") for number in range(1000)]
    path = _write_csv(tmp_path / "progress.csv", rows)
    calls: list[tuple[int, int | None]] = []
    read_catalog(path, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (1000, 1000)
    assert 2 <= len(calls) <= 102
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_unsupported_suffix_and_broken_xlsx(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match=r"\.ods"):
        read_catalog(tmp_path / "catalog.ods")
    with pytest.raises(CatalogFileError):
        write_catalog([PLAIN], tmp_path / "catalog.txt")
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a zip")
    with pytest.raises(CatalogFileError):
        read_catalog(broken)


def test_unrepresentable_values_are_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "lossy.csv"
    lossy = _matter(keywords=("开公司、办执照",), steps=("受理→审核",))
    with pytest.raises(CatalogFileError, match="关键词") as raised:
        write_catalog([PLAIN, lossy], path)
    assert "办理流程" in str(raised.value) and "SCJG-XK-001" in str(raised.value)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_big_xlsx_reads_in_linear_time(tmp_path: Path) -> None:
    matters = [
        _matter(f"BIG-{number:05d}", f"测试事项{number:05d}", keywords=("测试",), windows=("1",))
        for number in range(5000)
    ]
    path = tmp_path / "big.xlsx"
    write_catalog(matters, path)
    started = time.perf_counter()
    report = read_catalog(path)
    elapsed = time.perf_counter() - started
    assert report.errors == []
    assert report.matters == matters
    assert elapsed < 10  # generous: the point is "not quadratic"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_aliases_round_trip_in_their_own_column(tmp_path: Path, suffix: str) -> None:
    with_aliases = _matter(aliases=("工商登记", "注册登记", "设立登记"))
    path = tmp_path / f"catalog{suffix}"
    write_catalog([with_aliases, PLAIN], path)
    report = read_catalog(path)
    assert report.errors == []
    assert report.matters == [with_aliases, PLAIN]
    if suffix == ".csv":
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
        assert rows[1][rows[0].index("别名")] == "工商登记、注册登记、设立登记"


def test_aliases_cell_takes_either_separator_and_refuses_bad_ones(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "aliases.csv",
        [
            HEADERS,
            _valid_row("SCJG-XK-002", 别名="工商变更; 变更登记；公司变更"),
            _valid_row("SCJG-XK-003", "企业注销登记", 别名="注销、注销"),
            _valid_row(
                "SCJG-XK-004", "企业备案登记", 别名="、".join(f"别名{n}" for n in range(21))
            ),
            _valid_row("SCJG-XK-005", "企业迁移登记", 别名="迁"),
        ],
    )
    report = read_catalog(path)
    assert [matter.aliases for matter in report.matters] == [("工商变更", "变更登记", "公司变更")]
    reasons = {error.row: (error.column, error.reason) for error in report.errors}
    assert reasons == {
        3: ("别名", "别名“注销”重复"),
        4: ("别名", "最多 20 项"),
        5: ("别名", "至少 2 个字符"),
    }
