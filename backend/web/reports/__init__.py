"""Performance reports as HTML (printable), Excel and PDF.

    report = build_report(session, hall_id=..., department_id=..., period=...,
                          group_by="department", today=..., now=...)
    render_html(report) -> str; render_xlsx(report) -> bytes; render_pdf(report) -> bytes

The renderers need no Flask request: the scheduled e-mail (backend.services.
report_schedule) renders the same documents outside any request.
"""

from __future__ import annotations

from backend.web.reports.data import (
    COLUMNS,
    RATING_COLUMNS,
    Column,
    PerformanceReport,
    build_report,
    cell_text,
    cell_value,
)
from backend.web.reports.excel import render_xlsx
from backend.web.reports.html import render_html
from backend.web.reports.pdf import render_pdf

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def render(report: PerformanceReport, report_format: str) -> bytes:
    if report_format == "pdf":
        return render_pdf(report)
    if report_format == "xlsx":
        return render_xlsx(report)
    if report_format == "html":
        return render_html(report).encode("utf-8")
    raise ValueError(f"unknown report format {report_format!r}")


__all__ = [
    "COLUMNS",
    "MEDIA_TYPES",
    "RATING_COLUMNS",
    "Column",
    "PerformanceReport",
    "build_report",
    "cell_text",
    "cell_value",
    "render",
    "render_html",
    "render_pdf",
    "render_xlsx",
]
