"""The report as PDF (reportlab), in Chinese.

reportlab's standard fonts have no Chinese glyphs, and its TrueType support
does not read the CFF outlines of Noto CJK, so the font is WenQuanYi Micro
Hei (Debian package fonts-wqy-microhei: a TrueType collection), embedded as a
subset. Without that font the PDF cannot be made: we raise instead of
silently printing empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from backend.texts import N_
from backend.web.layout import local_datetime
from backend.web.reports.data import (
    COLUMNS,
    RATING_COLUMNS,
    WEEKDAYS,
    Column,
    PerformanceReport,
    Translate,
    cell_text,
    weight_text,
)

FONT_NAME = "WenQuanYiMicroHei"
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
GRID = colors.HexColor("#C9D2DA")
HEADER_BG = colors.HexColor("#EEF3F8")
TOTAL_BG = colors.HexColor("#F7F9FB")


class PdfFontMissing(RuntimeError):
    """The Chinese font is not installed (apt-get install fonts-wqy-microhei)."""


@lru_cache(maxsize=1)
def register_font() -> str:
    for path in FONT_PATHS:
        if path.exists():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
            return FONT_NAME
    raise PdfFontMissing(
        "PDF 报表需要文泉驿微米黑字体（Debian: fonts-wqy-microhei）/ "
        "the PDF report needs fonts-wqy-microhei"
    )


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=4),
        "meta": ParagraphStyle(
            "meta", fontName=font, fontSize=8.5, leading=12, textColor=colors.HexColor("#52606D")
        ),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=11.5, leading=16, spaceBefore=8),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5),
        "note": ParagraphStyle(
            "note", fontName=font, fontSize=7.5, leading=10, textColor=colors.HexColor("#52606D")
        ),
    }


def _table(
    font: str,
    columns: Sequence[Column],
    rows: Sequence[dict[str, Any]],
    total: dict[str, Any] | None,
    cell_style: ParagraphStyle,
    widths: Sequence[float],
    translate: Translate,
) -> Table:
    header = [Paragraph(translate(column.label), cell_style) for column in columns]
    body: list[list[Any]] = []
    for row in rows:
        body.append(
            [
                Paragraph(cell_text(column, row), cell_style)
                if column.kind == "text"
                else cell_text(column, row)
                for column in columns
            ]
        )
    if total is not None:
        body.append(
            [
                translate(N_("合计")) if column.kind == "text" else cell_text(column, total)
                for column in columns
            ]
        )
    if not body:
        body.append([translate(N_("本期没有数据")), *[""] * (len(columns) - 1)])
    table = Table([header, *body], colWidths=widths, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), font, 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("ALIGN", (0, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if total is not None:
        style.append(("BACKGROUND", (0, -1), (-1, -1), TOTAL_BG))
    table.setStyle(TableStyle(style))
    return table


def _heat_table(report: PerformanceReport, font: str, width: float) -> Table:
    hours = report.heat_hours()
    worst = max(
        (wait or 0.0 for cells in report.heat.values() for _n, wait in cells.values()),
        default=0.0,
    )
    t = report.translate
    data: list[list[str]] = [[t(N_("星期")), *[t(N_("%(hour)d时")) % {"hour": h} for h in hours]]]
    style: list[Any] = [
        ("FONT", (0, 0), (-1, -1), font, 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
    ]
    for day in range(1, 8):
        line = [t(WEEKDAYS[day - 1])]
        for column, hour in enumerate(hours, start=1):
            found = report.heat.get(day, {}).get(hour)
            if found is None or found[1] is None:
                line.append("")
                continue
            line.append(f"{found[1] / 60.0:.0f}")
            share = min(1.0, found[1] / worst) if worst else 0.0
            style.append(
                (
                    "BACKGROUND",
                    (column, day),
                    (column, day),
                    colors.Color(1, 1 - 0.59 * share, 1 - 0.9 * share),
                )
            )
        data.append(line)
    first = 16 * mm
    table = Table(data, colWidths=[first, *[(width - first) / len(hours)] * len(hours)])
    table.setStyle(TableStyle(style))
    return table


def render_pdf(report: PerformanceReport) -> bytes:
    font = register_font()
    styles = _styles(font)
    buffer = io.BytesIO()
    page = landscape(A4)
    document = SimpleDocTemplate(
        buffer,
        pagesize=page,
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"{report.title} {report.period.label}",
        author="hallkit",
    )
    width = page[0] - 20 * mm
    narrow = (width - 36 * mm) / (len(COLUMNS) - 1)
    ranking_widths = [narrow if c.kind != "text" else 36 * mm for c in COLUMNS]
    rating_widths = [60 * mm, *[(width - 60 * mm) / (len(RATING_COLUMNS) - 1)] * 8]
    t = report.translate
    meta = t(
        N_(
            "统计期间：%(period)s　比较期间：%(previous)s　范围：%(scope)s　"
            "分组：按%(group)s　生成时间：%(at)s"
        )
    ) % {
        "period": report.period_text,
        "previous": report.previous_period.label,
        "scope": report.scope_label,
        "group": report.group_label,
        "at": local_datetime(report.generated_at),
    }
    story: list[Any] = [
        Paragraph(report.title, styles["title"]),
        Paragraph(meta, styles["meta"]),
        Paragraph(
            t(N_("一、绩效排名（按%(group)s）")) % {"group": report.group_label}, styles["h2"]
        ),
        Spacer(1, 2 * mm),
        _table(font, COLUMNS, report.rows, None, styles["cell"], ranking_widths, t),
        Spacer(1, 1.5 * mm),
        Paragraph(weight_text(t), styles["note"]),
        Paragraph(t(N_("二、好差评（按部门）")), styles["h2"]),
        Spacer(1, 2 * mm),
        _table(
            font,
            RATING_COLUMNS,
            report.ratings,
            report.ratings_total,
            styles["cell"],
            rating_widths,
            t,
        ),
        # Eight rows: split over two pages they could not be read, so kept whole.
        KeepTogether(
            [
                Paragraph(t(N_("三、等候热力（平均等候分钟，星期 × 取号时段）")), styles["h2"]),
                Spacer(1, 2 * mm),
                _heat_table(report, font, width),
            ]
        ),
    ]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillColor(colors.HexColor("#52606D"))
        footer_text = t(N_("第 %(page)d 页 · hallkit 电子监察")) % {"page": doc.page}
        canvas.drawRightString(page[0] - 10 * mm, 6 * mm, footer_text)
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
