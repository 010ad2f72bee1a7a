"""The real hall display app with 5, 19 and 40 categories: readable from 3 m, measured.

Each run is its own process under SDL's offscreen driver (tests/displays/
hall_app_driver.py). For every page of the waiting table the driver reports each
label of the side panel — font size, the text's own extent and its box in window
pixels — and a screenshot; then the ticker's pieces and what scrolled through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from displays import style
from displays.samples import HALL_CATEGORY_NAMES, HALL_NOTICES

DRIVER = Path(__file__).with_name("hall_app_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def run_driver(categories: int, tmp_path: Path, *, portrait: bool = False) -> dict[str, Any]:
    result_path = tmp_path / "result.json"
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", PYTHONPATH=str(ROOT))
    args = [sys.executable, str(DRIVER), str(categories), str(result_path), str(tmp_path)]
    completed = subprocess.run(
        args + (["portrait"] if portrait else []),
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result_path.exists(), completed.stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads(result_path.read_text())
    assert "failed" not in result, result["failed"]
    assert completed.returncode == 0
    return result


def overlaps(a: list[float], b: list[float]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw - 0.5 and bx < ax + aw - 0.5 and ay < by + bh - 0.5 and by < ay + ah - 0.5


def inked_box(label: dict[str, Any]) -> list[float]:
    """Where the label's text is drawn: its box, as tall as the text (centred)."""
    x, y, width, height = label["box"]
    text_height = label["text_size"][1]
    return [x, y + (height - text_height) / 2, width, text_height]


def yellow_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels of the ticket yellow (style.TICKET) in a box given in window coordinates."""
    x, y, width, height = box
    top = image.height - (y + height)  # window y grows upwards, image rows downwards
    region = image.convert("RGB").crop((x, top, x + width, top + height))
    data = region.tobytes()
    return sum(
        1
        for i in range(0, len(data), 3)
        if data[i] > 200 and data[i + 1] > 170 and data[i + 2] < 90
    )


def check_waiting_pages(result: dict[str, Any], categories: int) -> None:
    minimum = result["min_text_px"]
    assert minimum >= style.MIN_TEXT_PX
    pages = sorted(result["pages"], key=lambda page: int(page["page"].split("/")[0]))
    per_page = result["rows_per_page"]
    assert len(pages) == -(-categories // per_page)
    # Every category is on exactly one page, in the hub's order.
    shown = [prefix for page in pages for prefix in page["prefixes"]]
    assert shown == [prefix for prefix, _name in HALL_CATEGORY_NAMES[:categories]]
    for number, page in enumerate(pages, start=1):
        expected_indicator = f"{number}/{len(pages)}" if len(pages) > 1 else ""
        labels = page["labels"]
        texts = [label["text"] for label in labels]
        if expected_indicator:
            assert expected_indicator in texts
        for label in labels:
            assert label["font_size"] >= minimum, label
            width, height = label["text_size"]
            # The whole text fits its box: not shortened ("…"), not spilling out.
            assert width <= label["box"][2] + 1, label
            assert height <= label["box"][3] + 1, label
            panel_x, panel_y, panel_w, panel_h = page["panel"]
            x, y, w, h = label["box"]
            assert panel_x <= x and x + w <= panel_x + panel_w + 1, label
            assert panel_y <= y and y + h <= panel_y + panel_h + 1, label
        inked = [inked_box(label) for label in labels]
        for i, first in enumerate(inked):
            for second in inked[i + 1 :]:
                assert not overlaps(first, second), (labels[inked.index(first)], second)


def check_ticker(result: dict[str, Any], tmp_path: Path, categories: int) -> None:
    ticker = result["ticker"]
    pieces = ticker["view_pieces"]
    # The pieces read exactly as the six notices, one after another.
    assert "".join(pieces) == "".join(notice + "　　◆　　" for notice in HALL_NOTICES)
    assert ticker["pieces"], "the ticker strip is empty"
    for piece in ticker["pieces"]:
        assert 0 < piece["texture"][0] <= ticker["max_texture"] // 4
        assert piece["font"] >= result["min_text_px"]
    # Scrolling brings every piece through the strip in order, then starts over.
    assert ticker["passed"][: len(pieces)] == pieces
    assert ticker["passed"][len(pieces)] == pieces[0]
    # Real pixels: the parked ticker shows yellow text, not a black bar.
    shot = Image.open(tmp_path / f"hall-{categories}-ticker.png")
    strip = tuple(int(value) for value in ticker["strip"])
    assert yellow_pixels(shot, strip) > 2000  # type: ignore[arg-type]


@pytest.mark.parametrize("categories", [5, 19, 40])
def test_waiting_table_pages_at_readable_size_and_ticker_scrolls(
    categories: int, tmp_path: Path
) -> None:
    result = run_driver(categories, tmp_path)
    check_waiting_pages(result, categories)
    check_ticker(result, tmp_path, categories)
    # Each page's screenshot is a real frame with the table's yellow counts in it.
    for page in result["pages"]:
        shot = Image.open(tmp_path / page["shot"])
        assert shot.size == (1920, 1080)
        panel = tuple(int(value) for value in page["panel"])
        assert yellow_pixels(shot, panel) > 1000  # type: ignore[arg-type]


def test_portrait_waiting_table_is_readable_at_19_categories(tmp_path: Path) -> None:
    result = run_driver(19, tmp_path, portrait=True)
    check_waiting_pages(result, 19)
