"""GlyphText checks that need a real GL context (own process: one Kivy window each).

    python tests/displays/glyph_driver.py RESULT.json

Writes what it observed as JSON; test_glyphs.py asserts on it. Runs under SDL's
offscreen driver (real pixels, Mesa llvmpipe).
"""

from __future__ import annotations

import displays.kivy_env

# isort: split

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from displays.kivy_env import configure_window

configure_window(800, 600)

import kivy.core.text  # noqa: E402
from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import LabelBase  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.uix.floatlayout import FloatLayout  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

import displays  # noqa: E402
from deviceui.bootstrap import register_fonts  # noqa: E402
from displays import style  # noqa: E402
from displays.glyphs import STATE_WORD_CHARS, TICKET_CHARS, GlyphText  # noqa: E402
from displays.guide import load_guide  # noqa: E402
from displays.hall_app import HallDisplayScreen  # noqa: E402
from displays.hall_view import HallDisplayViewModel  # noqa: E402
from displays.link import Link, LinkStatus  # noqa: E402
from displays.samples import call_event, call_list, window_state  # noqa: E402
from displays.window_view import WindowDisplayViewModel  # noqa: E402


class CountingTexture:
    """Stands in for kivy.core.text.Texture: counts every texture a label creates."""

    created = 0

    def __init__(self, real: Any) -> None:
        self._real = real

    def create(self, *args: Any, **kwargs: Any) -> Any:
        CountingTexture.created += 1
        return self._real.create(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def alpha(widget: Any) -> tuple[bytes, int, int]:
    texture = widget.export_as_image().texture
    return texture.pixels[3::4], texture.width, texture.height


def pixel_mismatch(text: str, font_size: int, root: FloatLayout) -> float:
    """Share of inked pixels where a Label and a GlyphText of the same text differ."""
    size = (760, font_size * 2)
    label = Label(text=text, font_size=font_size, font_name="HallSans", size_hint=(None, None))
    glyphs = GlyphText(
        text=text, font_size=font_size, charset=text, halign="center", size_hint=(None, None)
    )
    for widget in (label, glyphs):
        widget.size = size
        widget.pos = (0, 0)
        root.add_widget(widget)
    label.texture_update()
    label.texture.bind()  # label textures are filled lazily, on first use in a frame
    Builder.sync()  # kv canvas bindings (the label's rectangle) apply once per frame
    glyphs.refresh()
    first, width, height = alpha(label)
    second, _, _ = alpha(glyphs)
    root.remove_widget(label)
    root.remove_widget(glyphs)
    inked = sum(1 for value in first if value > 40) or 1
    differ = sum(1 for a, b in zip(first, second, strict=True) if abs(a - b) > 64)
    assert width * height == len(first)
    return differ / inked


def run_checks(root: FloatLayout) -> dict[str, Any]:
    result: dict[str, Any] = {}
    widget = GlyphText(text="A012", font_size=120, bold=True, charset=TICKET_CHARS)
    widget.size_hint = (None, None)
    widget.size = (700, 200)
    root.add_widget(widget)
    widget.refresh()
    atlas = widget.atlas
    assert atlas is not None
    result["rects"] = len(widget.rects)
    result["textures_match"] = all(
        rect.texture is atlas.glyph(char).texture
        for rect, char in zip(widget.rects, "A012", strict=True)
    )
    result["gl_textures"] = len({rect.texture.id for rect in widget.rects})
    result["inside"] = all(
        widget.x <= rect.pos[0] and rect.pos[0] + rect.size[0] <= widget.right
        for rect in widget.rects
    )
    result["drawn"] = widget.drawn_text

    # Updates after start-up: new numbers, a colour change, hiding and showing.
    renders_before = atlas.renders
    fills: list[str] = []
    fill = LabelBase._texture_fill

    def counting_fill(label: Any, texture: Any) -> None:
        fills.append(label.text)
        fill(label, texture)

    LabelBase._texture_fill = counting_fill
    real_texture = kivy.core.text.Texture
    kivy.core.text.Texture = CountingTexture(real_texture)
    try:
        for text in ("B345", "Z999", "A0123", "A012"):
            widget.text = text
            widget.refresh()
        widget.color = (0.5, 0.5, 0.5, 1)
        widget.opacity = 0
        widget.refresh()
        result["hidden_drawn"] = widget.drawn_text
        widget.opacity = 1
        widget.refresh()
    finally:
        kivy.core.text.Texture = real_texture
        LabelBase._texture_fill = fill
    result["textures_created_on_update"] = CountingTexture.created
    result["labels_rendered_on_update"] = len(fills)
    result["atlas_renders_on_update"] = atlas.renders - renders_before
    result["drawn_after_updates"] = widget.drawn_text
    result["rect_colour"] = list(widget._colour.rgba)

    # Too wide for the widget: scaled down, still inside.
    widget.text = "A0123456789"
    widget.width = 300
    widget.refresh()
    result["shrunk_inside"] = all(
        widget.x - 0.5 <= rect.pos[0] and rect.pos[0] + rect.size[0] <= widget.right + 0.5
        for rect in widget.rects
    )
    root.remove_widget(widget)

    # Same pixels as a Label: advances, pair kerning (AV), ink boxes (the colon's dots).
    result["mismatch"] = {
        text: pixel_mismatch(text, size, root)
        for text, size in (("A012", 200), ("AV17", 120), ("10:36:52", 32), ("请 3 号窗口", 48))
    }

    # Every word headline the window view-model produces is in the word atlas.
    model = WindowDisplayViewModel("12")
    now = datetime.now().astimezone()
    words = {model.view(now).headline}
    for seq, state in enumerate(("open", "paused", "resting", "closed"), start=1):
        ticket = None if state == "open" else "A001"
        model.apply_state(window_state(seq, now=now, state=state, ticket=ticket), now)
        words.add(model.view(now).headline)
    result["words_missing"] = sorted(
        {char for word in words for char in word} - set(STATE_WORD_CHARS)
    )
    return result


def walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in widget.children:
        found.extend(walk(child))
    return found


def settle(widget: Any) -> None:
    """What the next frame would do first: kv canvas bindings, then glyph layouts."""
    Builder.sync()
    for child in walk(widget):
        if isinstance(child, GlyphText):
            child.refresh()


def hall_checks(root: FloatLayout) -> dict[str, Any]:
    """A call on the hall display refills the same row widgets and renders no text."""
    kv_dir = Path(displays.__file__).with_name("kv")
    Builder.load_file(str(kv_dir / "common.kv"))
    Builder.load_file(str(kv_dir / "hall_display.kv"))
    screen = HallDisplayScreen(size_hint=(None, None), size=(1920, 1080))
    root.add_widget(screen)
    model = HallDisplayViewModel(["calls", "waiting", "notices"], guide=load_guide(), floor=1)
    model.apply_link(LinkStatus(Link.LIVE))
    now = datetime.now().astimezone().replace(second=0)
    model.apply_call_list(call_list(1, now=now), now)
    screen.show(model.view(now))
    settle(screen)
    rows = list(screen.ids.call_rows.children)
    fills: list[str] = []
    fill = LabelBase._texture_fill

    def counting_fill(label: Any, texture: Any) -> None:
        fills.append(label.text)
        fill(label, texture)

    LabelBase._texture_fill = counting_fill
    before = CountingTexture.created
    real_texture = kivy.core.text.Texture
    kivy.core.text.Texture = CountingTexture(real_texture)
    try:
        model.apply_call_event(call_event(9, "A013", "5", now=now), now)
        screen.show(model.view(now))
        settle(screen)
        # Labels draw in the frame: bind every label texture as the frame would.
        for child in walk(screen):
            if isinstance(child, Label) and child.texture is not None:
                child.texture.bind()
    finally:
        kivy.core.text.Texture = real_texture
        LabelBase._texture_fill = fill
    newest, second = rows[-1], rows[-2]
    return {
        "rows_reused": list(screen.ids.call_rows.children) == rows,
        "hall_drawn": screen.drawn_text(),
        "hall_labels_rendered": fills,
        "hall_textures_created": CountingTexture.created - before,
        "newest_highlighted": list(newest.bg) == list(style.HIGHLIGHT) and not second.newest,
        "banner": screen.ids.banner_text.drawn_text,
    }


def main() -> int:
    result_path = Path(sys.argv[1])
    register_fonts()
    outcome: dict[str, Any] = {}

    class GlyphCheckApp(App):  # type: ignore[misc]  # Kivy ships no type hints
        def build(self) -> FloatLayout:
            return FloatLayout()

        def on_start(self) -> None:
            def check(_dt: float) -> None:
                try:
                    outcome.update(run_checks(self.root))
                    outcome.update(hall_checks(self.root))
                except Exception as error:  # reported to the test, not swallowed
                    outcome["error"] = repr(error)
                self.stop()

            Clock.schedule_once(check, 0)

    GlyphCheckApp().run()
    result_path.write_text(json.dumps(outcome))
    return 0 if "error" not in outcome else 1


if __name__ == "__main__":
    raise SystemExit(main())
