"""The printable HTML report: one self-contained page (inline CSS, no scripts),
so it prints from the browser and survives being mailed as an attachment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from backend.web.layout import local_datetime
from backend.web.reports.data import (
    COLUMNS,
    RATING_COLUMNS,
    WEEKDAYS,
    PerformanceReport,
    cell_text,
    weight_text,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # A plain Jinja environment rather than Flask's: the scheduler renders
    # reports with no application or request context.
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["dt"] = local_datetime
    return environment


def heat_style(seconds: float | None, worst: float) -> str:
    """White (no wait) to deep orange (the period's longest average wait)."""
    if seconds is None or worst <= 0:
        return ""
    share = min(1.0, seconds / worst)
    green_blue = int(255 - 150 * share), int(255 - 230 * share)
    return f"background: rgb(255, {green_blue[0]}, {green_blue[1]})"


def render_html(report: PerformanceReport) -> str:
    template = _environment().get_template("performance/report_document.html")
    worst = max(
        (wait or 0.0 for cells in report.heat.values() for _n, wait in cells.values()),
        default=0.0,
    )
    return template.render(
        report=report,
        columns=COLUMNS,
        by_key={column.key: column for column in COLUMNS},
        rating_columns=RATING_COLUMNS,
        cell_text=cell_text,
        weekdays=WEEKDAYS,
        hours=report.heat_hours(),
        heat_style=lambda seconds: heat_style(seconds, worst),
        weight_text=weight_text(report.translate),
        t=report.translate,
    )
