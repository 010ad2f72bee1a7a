"""Numbers drawn from pre-rendered glyph textures: a call changes no texture.

Why: on a software-rendered panel (Mesa llvmpipe) a Label that gets new text renders
it with SDL_ttf and uploads a new texture on the next frame. Uploading into a texture
the previous frame still uses makes the driver finish that frame first, and a 330 px
label re-renders a 750×390 bitmap. :class:`GlyphText` instead draws a row of
Rectangles on regions of a :class:`GlyphAtlas`: every character of a charset rendered
once at start-up per font size, cropped to its ink and packed into one texture. A new
call only swaps texture regions and positions; a colour change (flash, offline grey)
only changes one ``Color`` instruction, because the glyphs are rendered white and tinted.

Spacing matches a Label rendering the whole string (pixel-identical, tests/displays/
test_glyphs.py): advances come from the glyph bitmaps (SDL_ttf sizes a single glyph by
its advance) and pair kerning (``AV``) from measuring the pair, cached. Measuring is a
font-metrics call, not a render.

A character outside the atlas's charset is rendered on first use (logged) into a small
texture of its own, so an unexpected ticket prefix still shows, once at that price.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from typing import Any

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, InstructionGroup, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.widget import Widget

logger = logging.getLogger(__name__)

FONT_NAME = "HallSans"  # registered by deviceui.bootstrap.register_fonts
DIGITS = string.digits
TICKET_CHARS = DIGITS + string.ascii_uppercase + "-"
CLOCK_CHARS = DIGITS + ":"
# The window display's headline in words (window_view): 3 号窗口, 欢迎办理, 暂停服务, …
STATE_WORD_CHARS = TICKET_CHARS + " 号窗口欢迎办理暂停服务休息中未开放"
# Everything the hall display's call rows and banner say around a ticket number.
CALL_CHARS = TICKET_CHARS + " 请号到窗口办理再次呼叫"
ASCII_CHARS = "".join(chr(code) for code in range(0x20, 0x7F))
# The hall display's banner: a call in Chinese, or the bilingual "please wait" line.
BANNER_CHARS = CALL_CHARS + ASCII_CHARS + "留意"
PREALLOCATED_RECTS = 8  # a ticket plus room; longer texts grow the pool once


@dataclass(frozen=True, slots=True)
class Glyph:
    """A character's inked part: the texture region and where it sits in the line.

    Only the inked box is drawn — a glyph bitmap is mostly transparent (the full line
    height, side bearings), and a software renderer blends every pixel it is given.
    """

    texture: Texture | None  # None for blanks (space): advance only
    width: int  # advance in pixels at the atlas size
    ink: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y from the glyph's bottom-left, w, h


def ink_box(pixels: bytes, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Bounding box (x, y, w, h) of the non-transparent pixels of an RGBA bitmap, with
    y counted from the bottom; padded by one pixel so filtering at the edge samples
    transparent texels; None when nothing is inked.

    ``pixels`` starts with the top row: that is what ``Texture.pixels`` returns for a
    label texture (stored upside down and flipped by its texture coordinates), while
    ``Texture.get_region`` counts y from the bottom of the drawn glyph."""
    alpha = pixels[3::4]
    rows = [alpha[row * width : (row + 1) * width] for row in range(height)]
    inked = [index for index, row in enumerate(rows) if row.strip(b"\0")]
    if not inked:
        return None
    left = min(len(rows[index]) - len(rows[index].lstrip(b"\0")) for index in inked)
    right = max(len(rows[index].rstrip(b"\0")) for index in inked)
    x0, top = max(0, left - 1), max(0, inked[0] - 1)
    x1, bottom = min(width, right + 1), min(height, inked[-1] + 2)
    return x0, height - bottom, x1 - x0, bottom - top


class GlyphAtlas:
    """Every character of a charset at one font size, packed into one texture.

    Rendered and uploaded at creation. One texture rather than one per glyph: a
    software renderer pays for every texture switch between rectangles (measured:
    150 glyph rectangles cost 7.3 ms of CPU with 20 textures, 3.5 ms with one).
    """

    SHEET_WIDTH = 2048

    def __init__(self, font_size: int, *, bold: bool, charset: str, font_name: str = FONT_NAME):
        self.font_size = font_size
        self.bold = bold
        self.font_name = font_name
        self.renders = 0  # glyphs rendered so far (start-up + unexpected characters)
        self.sheets: list[Texture] = []  # the packed textures (one per add())
        self._glyphs: dict[str, Glyph] = {}
        self._kerning: dict[tuple[str, str], int] = {}
        self._measure = self._core_label(" ")
        self._measure.resolve_font_name()
        self.line_height = int(self._measure.get_extents("0")[1])
        self.add(charset)

    def _core_label(self, text: str) -> CoreLabel:
        return CoreLabel(
            text=text, font_size=self.font_size, bold=self.bold, font_name=self.font_name
        )

    def _bitmap(self, char: str) -> tuple[int, tuple[int, int, int, int] | None, bytes]:
        """(advance, ink box, the inked pixels as RGBA rows from the bottom up)."""
        label = self._core_label(char)
        label.refresh()
        texture = label.texture
        texture.bind()  # Kivy renders label text lazily, on the texture's first use
        self.renders += 1
        pixels, width, height = texture.pixels, int(texture.width), int(texture.height)
        box = ink_box(pixels, width, height)
        if box is None:
            return width, None, b""
        x, y, ink_width, ink_height = box
        top = height - (y + ink_height)  # ``pixels`` starts with the top row
        rows = [
            pixels[(row * width + x) * 4 : (row * width + x + ink_width) * 4]
            for row in range(top, top + ink_height)
        ]
        return width, box, b"".join(reversed(rows))

    def add(self, charset: str) -> None:
        """Render the characters not in the atlas yet into one new packed texture."""
        missing = [char for char in dict.fromkeys(charset) if char not in self._glyphs]
        placed: list[tuple[str, int, tuple[int, int, int, int], bytes, int, int]] = []
        x = y = shelf = 0
        for char in missing:
            if not char.strip():  # blanks: an advance, nothing to draw
                self._glyphs[char] = Glyph(None, int(self._measure.get_extents(char)[0]))
                continue
            advance, box, data = self._bitmap(char)
            if box is None:
                self._glyphs[char] = Glyph(None, advance)
                continue
            width, height = box[2], box[3]
            if x + width > self.SHEET_WIDTH:  # next shelf
                x, y, shelf = 0, y + shelf + 1, 0
            placed.append((char, advance, box, data, x, y))
            x, shelf = x + width + 1, max(shelf, height)
        if not placed:
            return
        sheet = Texture.create(size=(self.SHEET_WIDTH, y + shelf), colorfmt="rgba")
        # Transparent gaps: linear filtering at a glyph's edge samples its neighbours.
        sheet.blit_buffer(bytes(self.SHEET_WIDTH * (y + shelf) * 4), colorfmt="rgba")
        for char, advance, box, data, left, bottom in placed:
            size = (box[2], box[3])
            sheet.blit_buffer(data, size=size, colorfmt="rgba", pos=(left, bottom))
            self._glyphs[char] = Glyph(sheet.get_region(left, bottom, *size), advance, box)
        self.sheets.append(sheet)

    def glyph(self, char: str) -> Glyph:
        found = self._glyphs.get(char)
        if found is None:
            logger.info("glyph %r not pre-rendered at %s px: rendering it", char, self.font_size)
            self.add(char)
            found = self._glyphs[char]
        return found

    def kerning(self, left: str, right: str) -> int:
        """Pixels to add between two glyphs (negative for pairs like ``AV``)."""
        pair = (left, right)
        value = self._kerning.get(pair)
        if value is None:
            together = int(self._measure.get_extents(left + right)[0])
            value = together - self.glyph(left).width - self.glyph(right).width
            self._kerning[pair] = value
        return value

    def advances(self, text: str) -> list[int]:
        """x offset of each glyph of ``text`` from the start of the line."""
        offsets = []
        x = 0
        for index, char in enumerate(text):
            if index:
                x += self.glyph(text[index - 1]).width + self.kerning(text[index - 1], char)
            offsets.append(x)
        return offsets

    def width(self, text: str) -> int:
        if not text:
            return 0
        return self.advances(text)[-1] + self.glyph(text[-1]).width


_ATLASES: dict[tuple[int, bool, str], GlyphAtlas] = {}


def atlas_for(font_size: float, *, bold: bool, charset: str) -> GlyphAtlas:
    """The shared atlas for a size (widgets of the same size share textures)."""
    size = max(1, round(font_size))
    key = (size, bold, FONT_NAME)
    atlas = _ATLASES.get(key)
    if atlas is None:
        atlas = _ATLASES[key] = GlyphAtlas(size, bold=bold, charset=charset)
    else:
        atlas.add(charset)
    return atlas


class GlyphText(Widget):  # type: ignore[misc]  # Kivy ships no type hints
    """One line of text drawn from a :class:`GlyphAtlas`; centred vertically.

    ``charset`` lists every character the text may contain; they are rendered when
    the font size is set (start-up, window resize), never when the text changes.
    Text wider than the widget is scaled down to fit (like ``fit_font`` for labels).
    """

    text = StringProperty("")
    font_size = NumericProperty(32)
    bold = BooleanProperty(False)
    color = ColorProperty((1, 1, 1, 1))
    halign = OptionProperty("left", options=("left", "center", "right"))
    charset = StringProperty(TICKET_CHARS)

    def __init__(self, **kwargs: Any) -> None:
        self._atlas: GlyphAtlas | None = None
        self._colour = Color(1, 1, 1, 1)
        self._rects: list[Rectangle] = []
        self._group = InstructionGroup()
        self._group.add(self._colour)
        self.drawn_text = ""  # the text the canvas holds now
        self._trigger_layout = Clock.create_trigger(lambda _dt: self.refresh(), -1)
        super().__init__(**kwargs)
        self.canvas.add(self._group)
        self._grow(PREALLOCATED_RECTS)
        self._colour.rgba = self.color
        self.fbind("font_size", self._on_font)
        self.fbind("bold", self._on_font)
        self.fbind("charset", self._on_font)
        # A new text (a call) or showing/hiding is laid out at once — a few rectangles —
        # so the very next frame has it, whatever the clock has queued for that frame.
        # Kivy draws a widget with opacity 0 anyway (all its pixels blended at alpha 0);
        # a hidden GlyphText lays out nothing instead, which a software renderer feels.
        self.fbind("text", self.refresh)
        self.fbind("opacity", self.refresh)
        for name in ("pos", "size", "halign"):
            self.fbind(name, self._trigger_layout)
        self._on_font()

    def on_color(self, _widget: Any, value: Any) -> None:
        # A colour change touches one instruction; the glyph textures stay.
        if hasattr(self, "_colour"):
            self._colour.rgba = value

    def _on_font(self, *_args: Any) -> None:
        self._atlas = atlas_for(self.font_size, bold=self.bold, charset=self.charset)
        self._trigger_layout()

    @property
    def atlas(self) -> GlyphAtlas | None:
        return self._atlas

    @property
    def rects(self) -> list[Rectangle]:
        """The rectangles in use for the current text (tests)."""
        return self._rects[: len(self.drawn_text)]

    def _grow(self, count: int) -> None:
        while len(self._rects) < count:
            rect = Rectangle(size=(0, 0))
            self._rects.append(rect)
            self._group.add(rect)

    def refresh(self, *_args: Any) -> None:
        """Lay the current text out now (geometry changes wait for the next frame)."""
        atlas = self._atlas
        if atlas is None:
            return
        text = self.text if self.opacity > 0 else ""
        self._grow(len(text))
        offsets = atlas.advances(text)
        total = atlas.width(text)
        scale = min(1.0, self.width / total) if total and self.width > 0 else 1.0
        height = atlas.line_height * scale
        if self.halign == "center":
            left = self.x + (self.width - total * scale) / 2
        elif self.halign == "right":
            left = self.right - total * scale
        else:
            left = self.x
        # Whole pixels at scale 1 (a texel per pixel keeps the edges crisp), truncated
        # the way Label places its texture, so both put a text on the same pixels.
        bottom = int(self.y + (self.height - height) / 2)
        left = int(left) if scale == 1.0 else left
        for index, rect in enumerate(self._rects):
            if index < len(text):
                glyph = atlas.glyph(text[index])
                if glyph.texture is not None:
                    ink_x, ink_y, ink_width, ink_height = glyph.ink
                    rect.texture = glyph.texture
                    rect.pos = (left + (offsets[index] + ink_x) * scale, bottom + ink_y * scale)
                    rect.size = (ink_width * scale, ink_height * scale)
                    continue
            rect.size = (0, 0)
        self.drawn_text = text
