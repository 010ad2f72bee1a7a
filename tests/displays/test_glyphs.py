"""GlyphText: numbers drawn from start-up textures, no text rendered on a call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DRIVER = Path(__file__).with_name("glyph_driver.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result_path = tmp_path_factory.mktemp("glyphs") / "result.json"
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, str(DRIVER), str(result_path)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result_path.exists(), completed.stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads(result_path.read_text())
    assert "error" not in result, result["error"]
    return result


def test_a012_is_four_rectangles_with_the_atlas_textures(observed: dict[str, Any]) -> None:
    assert observed["rects"] == 4
    assert observed["textures_match"]
    assert observed["gl_textures"] == 1  # regions of one packed texture: no switches
    assert observed["inside"]
    assert observed["drawn"] == "A012"


def test_updates_create_no_texture_and_render_no_text(observed: dict[str, Any]) -> None:
    assert observed["textures_created_on_update"] == 0
    assert observed["labels_rendered_on_update"] == 0
    assert observed["atlas_renders_on_update"] == 0
    assert observed["drawn_after_updates"] == "A012"
    assert observed["rect_colour"] == [0.5, 0.5, 0.5, 1]  # a colour change is a tint


def test_hidden_glyphs_draw_nothing(observed: dict[str, Any]) -> None:
    assert observed["hidden_drawn"] == ""


def test_too_wide_text_is_scaled_into_the_widget(observed: dict[str, Any]) -> None:
    assert observed["shrunk_inside"]


def test_same_pixels_as_a_label(observed: dict[str, Any]) -> None:
    # Kerning (AV), the colon's two dots (ink boxes) and CJK spacing come out exactly as
    # a Label draws the whole string; measured 0.0 — 1 % leaves room for a font update.
    for text, mismatch in observed["mismatch"].items():
        assert mismatch < 0.01, (text, mismatch)


def test_every_state_word_is_in_the_word_atlas(observed: dict[str, Any]) -> None:
    assert observed["words_missing"] == []


def test_a_hall_call_refills_the_same_rows_without_rendering_text(
    observed: dict[str, Any],
) -> None:
    assert observed["rows_reused"]
    assert observed["hall_drawn"] == "A013"
    assert observed["banner"] == "请 A013 号到 5 号窗口办理"
    assert observed["newest_highlighted"]
    assert observed["hall_labels_rendered"] == []
    assert observed["hall_textures_created"] == 0
