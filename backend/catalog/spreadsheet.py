"""Import and export the matter catalog as CSV or Excel (.xlsx) spreadsheets.

Halls maintain their 事项目录 in Excel, so the file layout follows theirs: one
matter per row under Chinese headers (English field names are accepted on
import too).  Every row passes through ``MatterSpec``, the catalog's single
validation point.

Import never stops at the first problem: each bad row is reported with every
problem found in it, by spreadsheet row number (the header is row 1, as Excel
shows it) and Chinese column header, so staff can fix the whole file in one go.
Bad rows are left out of ``ImportReport.matters``.

Cell formats (the same on import and export):

* 申报材料: one material per line, ``名称|原件|1|是|备注`` - form, count,
  electronic (是/否) and note may be left off from the right.
* 办理流程: one step per line, or separated by "→" or "->".
* 办理窗口, 生活事件, 关键词: separated by "、", "，", ",", ";" or new lines.
* 网上可办: 是/否, true/false, 1/0, Y/N.
* 时限: whole working days; Excel's 5.0 is accepted, 5.5 is not.

CSV is written as UTF-8 with a byte order mark (Excel on Windows needs it to
show Chinese); on import the mark is optional and GB18030 (what Chinese Excel
saves as "CSV") is accepted as a fallback.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from backend.catalog.spec import MaterialForm, MaterialSpec, MatterSpec, MatterType

__all__ = [
    "COLUMNS",
    "CatalogFileError",
    "Column",
    "ImportReport",
    "RowError",
    "read_catalog",
    "write_catalog",
]

ProgressCallback = Callable[[int, "int | None"], None]


class CatalogFileError(ValueError):
    """The file as a whole cannot be read or written (not a per-row problem)."""


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    #: Cells hold several lines; exported with wrapped text.
    multiline: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("code", "事项编码", ("code", "编码"), required=True),
    Column("name", "事项名称", ("name",), required=True),
    Column("type", "事项类型", ("type",), required=True),
    Column("department", "实施部门", ("department", "实施部门编码"), required=True),
    Column("promised_days", "承诺时限(工作日)", ("promised_days", "承诺时限"), required=True),
    Column("statutory_days", "法定时限(工作日)", ("statutory_days", "法定时限"), required=True),
    Column("materials", "申报材料", ("materials", "申请材料"), multiline=True),
    Column("conditions", "审批条件", ("conditions", "受理条件"), multiline=True),
    Column("legal_basis", "设定依据", ("legal_basis",), multiline=True),
    Column("fee", "收费标准", ("fee",), multiline=True),
    Column("steps", "办理流程", ("steps",)),
    Column("online", "网上可办", ("online", "是否网上可办")),
    Column("queue_category", "排队类别", ("queue_category",), required=True),
    Column("windows", "办理窗口", ("windows",)),
    Column("life_events", "生活事件", ("life_events",)),
    Column("keywords", "关键词", ("keywords",)),
    Column("aliases", "别名", ("aliases", "别称", "曾用名")),
)
_HEADER_OF_FIELD = {column.field: column.header for column in COLUMNS}


@dataclass(frozen=True)
class RowError:
    """One problem in one row (row 1 = the header row, as Excel numbers it)."""

    row: int
    code: str | None
    column: str | None
    value: str | None
    reason: str


@dataclass
class ImportReport:
    matters: list[MatterSpec] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: Non-blank data rows read (good and bad).
    rows_read: int = 0


# --------------------------------------------------------------------------
# Cell parsing


class _CellProblem(Exception):
    """A cell that cannot become a field value; the message is the reason."""


_LIST_SEPARATORS = re.compile(r"[、，,;；\n]")
_STEP_SEPARATORS = re.compile(r"\n|→|->")
_MATERIAL_FIELD_SEPARATORS = re.compile(r"[|｜]")
_TRUE_WORDS = frozenset({"是", "true", "1", "y", "yes", "t", "对", "可"})
_FALSE_WORDS = frozenset({"否", "false", "0", "n", "no", "f", "不"})
_BOOL_HINT = "应为 是/否（或 true/false、1/0、Y/N）"
_DAYS_HINT = "应为整数（工作日）"
_LIST_JOINER = "、"
_STEP_JOINER = " → "
_MATERIAL_JOINER = "|"


def _cell_text(raw: object) -> str:
    """A cell as the text a person sees, stripped; integral floats lose '.0'."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "是" if raw else "否"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def _fold(text: str) -> str:
    """Full-width to half-width and lower case, for words that are not prose."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def _parse_integer(raw: object) -> int:
    if isinstance(raw, bool):
        raise _CellProblem(_DAYS_HINT)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isfinite(raw) and raw.is_integer():
            return int(raw)
        raise _CellProblem(_DAYS_HINT)
    text = _fold(_cell_text(raw))
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise _CellProblem(_DAYS_HINT) from None
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise _CellProblem(_DAYS_HINT)


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    word = _fold(_cell_text(raw))
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise _CellProblem(_BOOL_HINT)


def _parse_type(raw: object) -> MatterType:
    text = _cell_text(raw)
    for matter_type in MatterType:
        if text == matter_type.value or _fold(text) == matter_type.name.lower():
            return matter_type
    choices = "、".join(matter_type.value for matter_type in MatterType)
    raise _CellProblem(f"应为 {choices} 之一")


def _parse_list(raw: object) -> tuple[str, ...]:
    items = (item.strip() for item in _LIST_SEPARATORS.split(_cell_text(raw)))
    return tuple(item for item in items if item)


def _parse_steps(raw: object) -> tuple[str, ...]:
    steps = (step.strip() for step in _STEP_SEPARATORS.split(_cell_text(raw)))
    return tuple(step for step in steps if step)


def _parse_material_line(line: str) -> MaterialSpec:
    parts = [part.strip() for part in _MATERIAL_FIELD_SEPARATORS.split(line, maxsplit=4)]
    values: dict[str, Any] = {"name": parts[0]}
    problems: list[str] = []
    if len(parts) > 1 and parts[1]:
        forms = {form.value: form for form in MaterialForm}
        if parts[1] in forms:
            values["form"] = forms[parts[1]]
        else:
            problems.append(f"形式应为 {'、'.join(forms)} 之一")
    if len(parts) > 2 and parts[2]:
        try:
            values["count"] = _parse_integer(parts[2])
        except _CellProblem:
            problems.append("份数应为整数")
    if len(parts) > 3 and parts[3]:
        try:
            values["electronic_allowed"] = _parse_bool(parts[3])
        except _CellProblem:
            problems.append("是否可电子化" + _BOOL_HINT)
    if len(parts) > 4:
        values["note"] = parts[4]
    try:
        material = MaterialSpec(**values)
    except ValidationError as error:
        names = {"name": "名称", "count": "份数", "note": "备注"}
        problems.extend(
            f"{names.get(str(detail['loc'][0]), detail['loc'][0]) if detail['loc'] else ''}"
            f"{_reason(detail)}"
            for detail in error.errors()
        )
    if problems:
        raise _CellProblem("；".join(problems))
    return material


def _parse_materials(raw: object) -> tuple[MaterialSpec, ...]:
    lines = [line.strip() for line in _cell_text(raw).splitlines()]
    materials: list[MaterialSpec] = []
    problems: list[str] = []
    for number, line in enumerate((line for line in lines if line), start=1):
        try:
            materials.append(_parse_material_line(line))
        except _CellProblem as problem:
            problems.append(f"第 {number} 条「{line}」：{problem}")
    if problems:
        raise _CellProblem("；".join(problems))
    return tuple(materials)


def _parse_text(raw: object) -> str:
    return _cell_text(raw)


_PARSERS: dict[str, Callable[[object], object]] = {
    "type": _parse_type,
    "promised_days": _parse_integer,
    "statutory_days": _parse_integer,
    "materials": _parse_materials,
    "steps": _parse_steps,
    "online": _parse_bool,
    "windows": _parse_list,
    "life_events": _parse_list,
    "keywords": _parse_list,
    "aliases": _parse_list,
}


def _reason(detail: ErrorDetails) -> str:
    """A pydantic error in the words a hall's staff would use."""
    context = detail.get("ctx") or {}
    kind = detail["type"]
    if kind == "missing":
        return "必填，不能为空"
    if kind == "string_too_short":
        return f"至少 {context.get('min_length')} 个字符"
    if kind == "string_too_long":
        return f"最多 {context.get('max_length')} 个字符"
    if kind == "too_long":
        return f"最多 {context.get('max_length')} 项"
    if kind == "greater_than_equal":
        return f"不能小于 {context.get('ge')}"
    if kind == "less_than_equal":
        return f"不能大于 {context.get('le')}"
    message = detail["msg"]
    return message.removeprefix("Value error, ")


# --------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class _RowProblem:
    field: str | None
    reason: str


def _parse_row(
    cells: Mapping[str, object],
    known_departments: Collection[str] | None,
    known_categories: Collection[str] | None,
) -> tuple[MatterSpec | None, list[_RowProblem]]:
    """Field name -> raw cell into a matter, or every problem of the row."""
    data: dict[str, object] = {}
    problems: list[_RowProblem] = []
    for field_name, raw in cells.items():
        if _cell_text(raw) == "":
            continue  # empty: pydantic applies the default or reports "missing"
        parser = _PARSERS.get(field_name, _parse_text)
        try:
            value = parser(raw)
        except _CellProblem as problem:
            problems.append(_RowProblem(field_name, str(problem)))
            continue
        if value != ():  # an all-separator list/steps cell counts as empty
            data[field_name] = value

    department = data.get("department")
    if known_departments is not None and department and department not in known_departments:
        problems.append(_RowProblem("department", f"未知的实施部门「{department}」"))
    category = data.get("queue_category")
    if known_categories is not None and category and category not in known_categories:
        problems.append(_RowProblem("queue_category", f"未知的排队类别「{category}」"))
    promised, statutory = data.get("promised_days"), data.get("statutory_days")
    if isinstance(promised, int) and isinstance(statutory, int) and 0 < statutory < promised:
        # Checked here too: pydantic runs this model rule only when every
        # field is valid, and the report must list every problem at once.
        problems.append(
            _RowProblem("promised_days", f"承诺时限 {promised} 天超过法定时限 {statutory} 天")
        )

    try:
        matter = MatterSpec.model_validate(data)
    except ValidationError as error:
        reported = {problem.field for problem in problems}
        for detail in error.errors():
            field_name = str(detail["loc"][0]) if detail["loc"] else "promised_days"
            if field_name not in reported:
                reported.add(field_name)
                problems.append(_RowProblem(field_name, _reason(detail)))
        return None, problems
    return (None, problems) if problems else (matter, problems)


def _normalize_header(text: str) -> str:
    folded = _fold(text)
    return re.sub(r"[\s_\-]", "", folded)


_COLUMN_BY_HEADER: dict[str, Column] = {
    _normalize_header(name): column
    for column in COLUMNS
    for name in (column.header, column.field, *column.aliases)
}


def _is_blank(values: Sequence[object]) -> bool:
    return all(_cell_text(value) == "" for value in values)


def _map_header(values: Sequence[object]) -> tuple[dict[int, Column], list[str]]:
    """Position -> column for recognised headers, plus problems with the header."""
    positions: dict[int, Column] = {}
    seen: dict[str, int] = {}
    problems: list[str] = []
    for position, value in enumerate(values):
        column = _COLUMN_BY_HEADER.get(_normalize_header(_cell_text(value)))
        if column is None:
            continue  # extra columns (序号, 备注 ...) are common and harmless
        if column.field in seen:
            problems.append(f"列「{column.header}」出现了两次")
            continue
        seen[column.field] = position
        positions[position] = column
    missing = [column.header for column in COLUMNS if column.required and column.field not in seen]
    if missing:
        problems.append(f"缺少必需的列：{'、'.join(missing)}")
    return positions, problems


# A title row ("XX市政务服务事项目录") often sits above the header.
_HEADER_SEARCH_ROWS = 10


class _Throttle:
    """Calls the progress callback at most ~100 times, and always at the end."""

    def __init__(self, callback: ProgressCallback | None, total: int | None) -> None:
        self._callback = callback
        self._total = total
        self._step = max(1, math.ceil(total / 100)) if total else 1000

    def update(self, done: int) -> None:
        if self._callback is not None and done % self._step == 0:
            self._callback(done, self._total)

    def finish(self, done: int) -> None:
        if self._callback is not None:
            self._callback(done, done)


@dataclass
class _Sheet:
    """Rows of the file as (spreadsheet row number, cell values)."""

    rows: Iterator[tuple[int, Sequence[object]]]
    #: Rows in the file, when known up front.
    row_count: int | None


def read_catalog(
    path: Path,
    *,
    progress: ProgressCallback | None = None,
    known_departments: Collection[str] | None = None,
    known_categories: Collection[str] | None = None,
) -> ImportReport:
    """Read a .csv or .xlsx catalog; every bad row is reported, none raises.

    *progress* receives (data rows processed, data rows expected or None).
    With *known_departments* / *known_categories*, other 实施部门 codes and
    排队类别 are errors.  Raises CatalogFileError for an unsupported suffix or
    a file that cannot be opened as the format its suffix claims.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_rows(_csv_sheet(path), progress, known_departments, known_categories)
    if suffix == ".xlsx":
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises zip, XML and key errors
            raise CatalogFileError(f"无法读取 Excel 文件 {path.name}：{error}") from error
        try:
            sheet = workbook.worksheets[0]
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            return _read_rows(
                _Sheet(rows, sheet.max_row), progress, known_departments, known_categories
            )
        finally:
            workbook.close()
    raise CatalogFileError(f"不支持的文件类型「{path.suffix}」：请使用 .csv 或 .xlsx")


def _csv_sheet(path: Path) -> _Sheet:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as error:
            raise CatalogFileError(f"{path.name} 不是 UTF-8 或 GB18030 编码的 CSV 文件") from error
    # Catalog files are a few MB at most; parsing up front gives an exact total.
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return _Sheet(enumerate(rows, start=1), len(rows))


def _read_rows(
    sheet: _Sheet,
    progress: ProgressCallback | None,
    known_departments: Collection[str] | None,
    known_categories: Collection[str] | None,
) -> ImportReport:
    report = ImportReport()
    header_row = 0
    positions: dict[int, Column] = {}
    header_problems = ["文件为空，没有表头"]
    for row_number, values in sheet.rows:
        if _is_blank(values):
            continue
        candidate, candidate_problems = _map_header(values)
        if header_row == 0 or len(candidate) >= 2:
            header_row, positions, header_problems = row_number, candidate, candidate_problems
        if len(candidate) >= 2 or row_number >= _HEADER_SEARCH_ROWS:
            break
    if header_problems:
        for reason in header_problems:
            report.errors.append(RowError(max(header_row, 1), None, None, None, reason))
        return report

    total = sheet.row_count - header_row if sheet.row_count is not None else None
    throttle = _Throttle(progress, total)
    first_row_of_code: dict[str, int] = {}
    processed = 0
    for row_number, values in sheet.rows:
        processed += 1
        throttle.update(processed)
        if _is_blank(values):
            continue
        report.rows_read += 1
        cells = {
            column.field: values[position] if position < len(values) else None
            for position, column in positions.items()
        }
        matter, problems = _parse_row(cells, known_departments, known_categories)
        code = _cell_text(cells["code"]) or None
        if code is not None:
            first = first_row_of_code.setdefault(code, row_number)
            if first != row_number:
                problems.insert(0, _RowProblem("code", f"事项编码与第 {first} 行重复"))
        if problems:
            report.errors.extend(
                RowError(
                    row=row_number,
                    code=code,
                    column=_HEADER_OF_FIELD.get(problem.field) if problem.field else None,
                    value=(_cell_text(cells.get(problem.field)) or None) if problem.field else None,
                    reason=problem.reason,
                )
                for problem in problems
            )
        elif matter is not None:
            report.matters.append(matter)
    throttle.finish(processed)
    return report


# --------------------------------------------------------------------------
# Export


def _material_line(material: MaterialSpec) -> str:
    parts = [
        material.name,
        material.form.value,
        str(material.count),
        "是" if material.electronic_allowed else "否",
    ]
    if material.note:
        parts.append(material.note)
    return _MATERIAL_JOINER.join(parts)


def _row_of(matter: MatterSpec) -> list[str | int]:
    """The cells of *matter* in COLUMNS order."""
    cells: dict[str, str | int] = {
        "code": matter.code,
        "name": matter.name,
        "type": matter.type.value,
        "department": matter.department,
        "promised_days": matter.promised_days,
        "statutory_days": matter.statutory_days,
        "materials": "\n".join(_material_line(material) for material in matter.materials),
        "conditions": matter.conditions,
        "legal_basis": matter.legal_basis,
        "fee": matter.fee,
        "steps": _STEP_JOINER.join(matter.steps),
        "online": "是" if matter.online else "否",
        "queue_category": matter.queue_category,
        "windows": _LIST_JOINER.join(matter.windows),
        "life_events": _LIST_JOINER.join(matter.life_events),
        "keywords": _LIST_JOINER.join(matter.keywords),
        "aliases": _LIST_JOINER.join(matter.aliases),
    }
    return [cells[column.field] for column in COLUMNS]


def _unrepresentable_fields(matter: MatterSpec, row: list[str | int]) -> list[str]:
    """Headers of fields that would read back differently from *matter*."""
    cells = {column.field: value for column, value in zip(COLUMNS, row, strict=True)}
    read_back, _ = _parse_row(cells, None, None)
    if read_back is None:
        return ["(整行)"]
    return [
        column.header
        for column in COLUMNS
        if getattr(read_back, column.field) != getattr(matter, column.field)
    ]


def write_catalog(matters: Sequence[MatterSpec], path: Path) -> None:
    """Write *matters* to a .csv or .xlsx file that reads back equal.

    Raises CatalogFileError, before touching *path*, when the suffix is not
    supported or some value cannot survive the cell format (e.g. a keyword
    containing "、", a step containing "→", a material name with "|", or
    text with leading/trailing spaces, which import strips).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise CatalogFileError(f"不支持的文件类型「{path.suffix}」：请使用 .csv 或 .xlsx")
    rows = [_row_of(matter) for matter in matters]
    lossy = [
        f"{matter.code}（{'、'.join(fields)}）"
        for matter, row in zip(matters, rows, strict=True)
        if (fields := _unrepresentable_fields(matter, row))
    ]
    if lossy:
        raise CatalogFileError("以下事项的内容无法按表格格式无损导出：" + "；".join(lossy))
    _write_atomically(path, rows, _write_csv if suffix == ".csv" else _write_xlsx)


def _write_atomically(
    path: Path,
    rows: list[list[str | int]],
    write: Callable[[Path, list[list[str | int]]], None],
) -> None:
    """Write to a sibling temporary file, then rename: never a half file."""
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        write(temporary, rows)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_csv(path: Path, rows: list[list[str | int]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow([column.header for column in COLUMNS])
        writer.writerows(rows)


# Column widths in Excel units (about one Latin character; Han count double).
_MIN_WIDTH, _MAX_WIDTH = 8, 60


def _display_width(value: str | int) -> int:
    longest_line = max(str(value).splitlines() or [""], key=len)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in longest_line)


def _write_xlsx(path: Path, rows: list[list[str | int]]) -> None:
    workbook = Workbook(write_only=True)
    sheet: WriteOnlyWorksheet = workbook.create_sheet("事项目录")
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS):
        widest = max((_display_width(row[index]) for row in rows), default=0)
        width = max(_MIN_WIDTH, _display_width(column.header), min(widest, _MAX_WIDTH)) + 2
        sheet.column_dimensions[get_column_letter(index + 1)].width = width

    bold = Font(bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    header = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for column, value in zip(COLUMNS, row, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # Text starting with "=" must stay text, not become a formula.
                cell.data_type = "s"
            cell.alignment = wrapped if column.multiline or "\n" in str(value) else top
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
