"""The report as an Excel workbook (openpyxl): one sheet per section, real
numbers with number formats (minutes to one decimal, rates as percentages) so
that the figures can be summed and charted again in Excel."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from backend.texts import N_
from backend.web.layout import local_datetime
from backend.web.reports.data import (
    COLUMNS,
    RATING_COLUMNS,
    WEEKDAYS,
    Column,
    PerformanceReport,
    Translate,
    cell_value,
    weight_text,
)

FONT = "Microsoft YaHei"  # what the hall's PCs have; WPS and LibreOffice substitute
HEADER_FILL = PatternFill("solid", fgColor="EEF3F8")
TOTAL_FILL = PatternFill("solid", fgColor="F7F9FB")
THIN = Side(style="thin", color="C9D2DA")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
NUMBER_FORMATS = {
    "int": "0",
    "minutes": "0.0",
    "percent": "0.0%",
    "score": "0.00",
    "change": "+0.00;-0.00;0.00",
    "text": "@",
}


def _title(sheet: Worksheet, report: PerformanceReport, heading: str, width: int) -> int:
    sheet["A1"] = f"{report.title} — {heading}"
    sheet["A1"].font = Font(name=FONT, size=14, bold=True)
    sheet["A2"] = report.translate(
        N_("统计期间：%(period)s　比较期间：%(previous)s　范围：%(scope)s　生成时间：%(at)s")
    ) % {
        "period": report.period_text,
        "previous": report.previous_period.label,
        "scope": report.scope_label,
        "at": local_datetime(report.generated_at),
    }
    sheet["A2"].font = Font(name=FONT, size=10, color="52606D")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(width, 1))
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(width, 1))
    return 4  # the header row


def _table(
    sheet: Worksheet,
    first_row: int,
    columns: Sequence[Column],
    rows: Sequence[dict[str, Any]],
    translate: Translate,
    total: dict[str, Any] | None = None,
) -> int:
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=first_row, column=index, value=translate(column.label))
        cell.font = Font(name=FONT, bold=True)
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    row_number = first_row
    all_rows = [*rows, *([total] if total is not None else [])]
    for position, row in enumerate(all_rows):
        row_number += 1
        is_total = total is not None and position == len(all_rows) - 1
        for index, column in enumerate(columns, start=1):
            value = (
                translate(N_("合计"))
                if is_total and column.kind == "text"
                else cell_value(column, row)
            )
            cell = sheet.cell(row=row_number, column=index, value=value)
            cell.number_format = NUMBER_FORMATS[column.kind]
            cell.border = BORDER
            cell.font = Font(name=FONT, bold=is_total)
            if is_total:
                cell.fill = TOTAL_FILL
    for index, column in enumerate(columns, start=1):
        width = 24 if column.kind == "text" else max(9, len(translate(column.label)) + 4)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = sheet.cell(row=first_row + 1, column=3)
    if rows:
        last = get_column_letter(len(columns))
        sheet.auto_filter.ref = f"A{first_row}:{last}{first_row + len(rows)}"
    return row_number


def render_xlsx(report: PerformanceReport) -> bytes:
    t = report.translate
    workbook = Workbook()
    ranking = workbook.active
    assert ranking is not None
    ranking.title = t(N_("绩效排名"))
    heading = t(N_("按%(group)s排名")) % {"group": report.group_label}
    header = _title(ranking, report, heading, len(COLUMNS))
    last = _table(ranking, header, COLUMNS, report.rows, t)
    ranking.cell(row=last + 2, column=1, value=weight_text(t)).font = Font(
        name=FONT, size=9, color="52606D"
    )
    ranking.print_options.gridLines = False
    ranking.page_setup.orientation = "landscape"
    ranking.page_setup.fitToWidth = 1
    ranking.sheet_properties.pageSetUpPr.fitToPage = True
    ranking.print_title_rows = f"{header}:{header}"

    ratings = workbook.create_sheet(t(N_("好差评")))
    header = _title(ratings, report, t(N_("好差评（按部门）")), len(RATING_COLUMNS))
    _table(ratings, header, RATING_COLUMNS, report.ratings, t, report.ratings_total)

    heat = workbook.create_sheet(t(N_("等候热力")))
    hours = report.heat_hours()
    header = _title(heat, report, t(N_("平均等候分钟（星期 × 取号时段）")), len(hours) + 1)
    heat.cell(row=header, column=1, value=t(N_("星期"))).font = Font(name=FONT, bold=True)
    for index, hour in enumerate(hours, start=2):
        cell = heat.cell(row=header, column=index, value=t(N_("%(hour)d时")) % {"hour": hour})
        cell.font = Font(name=FONT, bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        heat.column_dimensions[get_column_letter(index)].width = 7
    for day in range(1, 8):
        row = header + day
        heat.cell(row=row, column=1, value=t(WEEKDAYS[day - 1])).font = Font(name=FONT)
        for index, hour in enumerate(hours, start=2):
            found = report.heat.get(day, {}).get(hour)
            if found and found[1] is not None:
                cell = heat.cell(row=row, column=index, value=round(found[1] / 60.0, 1))
                cell.number_format = "0.0"
    corner = f"B{header + 1}:{get_column_letter(len(hours) + 1)}{header + 7}"
    heat.conditional_formatting.add(
        corner,
        ColorScaleRule(start_type="min", start_color="FFFFFF", end_type="max", end_color="FF6919"),
    )
    heat.column_dimensions["A"].width = 10

    workbook.properties.title = report.title
    workbook.properties.creator = "hallkit"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
