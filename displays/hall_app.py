"""The hall display's Kivy app: HallView → widget properties and row widgets."""

from __future__ import annotations

import displays.kivy_env  # noqa: F401  (must precede kivy)

# isort: split

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout

from deviceui.screens import UiModel
from displays import style
from displays.app_base import DisplayApp, DrawnProbe, Refreshable
from displays.glyphs import CALL_CHARS, atlas_for
from displays.hall_view import CallRow, HallView, WaitingRow
from displays.widgets import CallFlash

KV_DIR = Path(__file__).with_name("kv")
VISIBLE_CALL_ROWS = 8
TICKER_PIXELS_PER_S = 110  # slow enough for elderly readers
TICKER_FPS = 30
EMPTY_ROW = CallRow(ticket="", window_text="", time_text="", recall_text="", newest=False)
TICKER_FONT_PX = 42  # ≥ style.MIN_TEXT_PX


class HallController(Refreshable, Protocol):
    def set_waiting_capacity(self, rows: int) -> None: ...


def waiting_rows_fitting(body_height: float, u: float) -> int:
    """Rows of the waiting table that fit a page body of this height: the header, the
    rows and the spacing after each (the layout's filler takes what is left)."""
    spacing = style.WAITING_ROW_SPACING_PX * u
    free = body_height - style.WAITING_HEADER_PX * u - spacing
    return max(1, int((free + 0.5) // (style.WAITING_ROW_PX * u + spacing)))


class TickerStrip(FloatLayout):  # type: ignore[misc]  # Kivy ships no type hints
    """Clips the scrolling notice to its strip (scissor rule in hall_display.kv).

    A scissor box rather than a StencilView: the stencil is drawn and undrawn on every
    frame — 30 times a second while the notice scrolls — and costs a software renderer
    the strip's area twice; a scissor costs nothing. Window coordinates: the strip is
    not inside a RelativeLayout or Scatter.
    """


class HallDisplayScreen(FloatLayout):  # type: ignore[misc]  # Kivy ships no type hints
    u = NumericProperty(1.0)
    portrait = BooleanProperty(False)
    hall_name = StringProperty("")
    date_text = StringProperty("")
    date_text_en = StringProperty("")
    clock_text = StringProperty("")
    show_calls = BooleanProperty(True)
    banner = StringProperty("")
    banner_en = StringProperty("")
    page = StringProperty("")
    page_title = StringProperty("")
    page_title_en = StringProperty("")
    waiting_page_text = StringProperty("")
    show_notices = BooleanProperty(False)
    notice_text = StringProperty("")
    offline_text = StringProperty("")
    hall_mark = StringProperty("")
    flash_on = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: HallView | None = None
        self._calls: tuple[CallRow, ...] | None = None
        self._page_content: tuple[Any, ...] | None = None
        self._flash = CallFlash(self)
        self._ticker_event: Any = None
        self._notice_pieces: tuple[str, ...] = ()
        self._next_piece = 0
        self.on_waiting_capacity: Callable[[int], None] | None = None
        self._reported_capacity: int | None = None
        self.bind(size=self._rescale)
        self.ids.page_body.bind(size=self._report_capacity)

    def _report_capacity(self, *_args: Any) -> None:
        body = self.ids.page_body
        if not self.page or body.height <= 1 or self.on_waiting_capacity is None:
            return
        rows = waiting_rows_fitting(body.height, self.u)
        if rows != self._reported_capacity:
            self._reported_capacity = rows
            self.on_waiting_capacity(rows)

    def _rescale(self, *_args: Any) -> None:
        self.u = min(self.width, self.height) / 1080
        self.portrait = self.height > self.width
        # Row widgets copy u when built; rebuild them at the new scale.
        self._calls = None
        self._page_content = None
        self._notice_pieces = ()  # pieces are laid out at the old scale
        if self.view is not None:
            self.show(self.view)

    def show(self, view: HallView) -> str:
        self.view = view
        self.hall_name = view.hall_name
        self.date_text = view.date_text
        self.date_text_en = view.date_text_en
        self.clock_text = view.clock_text
        self.show_calls = view.show_calls
        self.banner = view.banner
        self.banner_en = view.banner_en
        self.page = view.page
        self.page_title = view.page_title
        self.page_title_en = view.page_title_en
        self.waiting_page_text = view.waiting_page_text
        self.show_notices = view.show_notices and bool(view.notice_pieces)
        self.notice_text = view.notice_text
        if view.notice_pieces != self._notice_pieces:
            self._notice_pieces = view.notice_pieces
            self._restart_ticker(self.ids.ticker_strip.right)
        self.offline_text = view.offline_text
        self.hall_mark = view.hall_mark
        if view.calls != self._calls:
            self._calls = view.calls
            self._build_calls(view.calls)
        page_content = (
            view.page,
            view.waiting,
            view.waiting_page_text,
            view.guide_floors,
            view.guide_steps,
        )
        if page_content != self._page_content:
            self._page_content = page_content
            self.ids.page_body.clear_widgets()
            if view.page == "waiting":
                self._build_waiting(view.waiting)
            elif view.page == "guide":
                self._build_guide(view)
        self.tick()
        return view.calls[0].ticket if view.calls else ""

    def drawn_text(self) -> str:
        rows = self.ids.call_rows.children
        if not rows:
            return ""
        newest = rows[-1]  # BoxLayout keeps children in reverse order
        return str(newest.ids.ticket_glyphs.drawn_text)

    def _build_calls(self, calls: tuple[CallRow, ...]) -> None:
        container = self.ids.call_rows
        if len(container.children) != VISIBLE_CALL_ROWS or container.children[0].u != self.u:
            # Once (and after a resize): the same rows are refilled on every call.
            container.clear_widgets()
            for index in range(VISIBLE_CALL_ROWS):
                container.add_widget(Factory.CallRowWidget(u=self.u, odd=index % 2 == 1))
            # The newest row's window column turns bold: both weights exist before a call.
            for bold in (False, True):
                atlas_for(self.u * 60, bold=bold, charset=CALL_CHARS)
        rows = list(reversed(container.children))
        for index, widget in enumerate(rows):
            # Empty slots keep rows the same height whether 1 or 8 calls are listed.
            row = calls[index] if index < len(calls) else EMPTY_ROW
            widget.ticket = row.ticket
            widget.window_text = row.window_text
            widget.time_text = row.time_text
            widget.recall_text = row.recall_text
            widget.newest = row.newest

    def _build_waiting(self, rows: tuple[WaitingRow, ...]) -> None:
        container = self.ids.page_body
        if not rows:
            container.add_widget(Factory.GuideLineWidget(u=self.u, text="暂无等候数据 No data yet"))
        else:
            container.add_widget(Factory.WaitingHeaderWidget(u=self.u))
        for row in rows:
            container.add_widget(
                Factory.WaitingRowWidget(
                    u=self.u,
                    prefix=row.prefix,
                    name=row.name,
                    waiting_text=row.waiting_text,
                    estimate_text=row.estimate_text,
                )
            )
        container.add_widget(Factory.Widget(size_hint_y=0.001))  # takes the space rows leave

    def _build_guide(self, view: HallView) -> None:
        container = self.ids.page_body
        for title, areas in view.guide_floors:
            container.add_widget(
                Factory.GuideLineWidget(u=self.u, text=title, bold=True, color=style.TICKET)
            )
            for area in areas:
                container.add_widget(Factory.GuideLineWidget(u=self.u, text=f"  {area}"))
        if view.guide_steps:
            container.add_widget(
                Factory.GuideLineWidget(
                    u=self.u, text="办事流程 How it works", bold=True, color=style.TICKET
                )
            )
            for number, step in enumerate(view.guide_steps, start=1):
                container.add_widget(Factory.GuideLineWidget(u=self.u, text=f"  {number}. {step}"))
        container.add_widget(Factory.Widget(size_hint_y=0.001))

    def tick(self) -> None:
        now = datetime.now(UTC)
        self._flash.update(self.view is not None and self.view.flashing(now))
        if self.show_notices and self._ticker_event is None:
            self._ticker_event = Clock.schedule_interval(self._scroll_ticker, 1 / TICKER_FPS)
        elif not self.show_notices and self._ticker_event is not None:
            self._ticker_event.cancel()
            self._ticker_event = None

    # The ticker draws the notices as a row of pieces (hall_view.ticker_pieces), each its
    # own small texture, added as it scrolls in and dropped once it has left: a whole
    # day's notices in one Label is wider than the largest texture GL allows and drew
    # as a black bar.

    def _restart_ticker(self, start_x: float) -> None:
        strip = self.ids.ticker_strip
        strip.clear_widgets()
        self._next_piece = 0
        self._fill_ticker(start_x)

    def _fill_ticker(self, start_x: float | None = None) -> None:
        strip = self.ids.ticker_strip
        pieces = self._notice_pieces
        if not pieces:
            return
        # Children are kept in reverse order of adding: children[0] is the last piece.
        while not strip.children or strip.children[0].right < strip.right:
            if strip.children:
                x = strip.children[0].right
            else:
                x = strip.right if start_x is None else start_x
            label = Factory.TickerPiece(
                text=pieces[self._next_piece % len(pieces)], font_size=self.u * TICKER_FONT_PX
            )
            label.texture_update()  # its width is needed now, to place the next one
            label.size = label.texture_size
            label.pos = (x, strip.y + (strip.height - label.height) / 2)
            strip.add_widget(label)
            self._next_piece = (self._next_piece + 1) % len(pieces)

    def _scroll_ticker(self, dt: float) -> None:
        strip = self.ids.ticker_strip
        step = TICKER_PIXELS_PER_S * self.u * dt
        for label in list(strip.children):
            label.x -= step
            if label.right < strip.x:
                strip.remove_widget(label)
        self._fill_ticker()

    def ticker_texts(self) -> list[str]:
        """The pieces in the strip now, left to right (tests, screenshots)."""
        return [label.text for label in reversed(self.ids.ticker_strip.children)]

    def park_ticker(self, fraction: float = 0.0) -> None:
        """Place the notices at a fixed spot (screenshots are taken mid-scroll otherwise)."""
        strip = self.ids.ticker_strip
        self._restart_ticker(strip.x + strip.width * fraction)


class HallDisplayApp(DisplayApp):
    title = "信息公示屏 Hall display"

    def __init__(
        self,
        controller: HallController,
        ui: UiModel,
        *,
        portrait: bool = False,
        on_drawn: DrawnProbe | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(controller, ui, on_drawn=on_drawn, **kwargs)
        self.hall_controller = controller
        self.portrait = portrait

    def build(self) -> HallDisplayScreen:
        Builder.load_file(str(KV_DIR / "common.kv"))
        Builder.load_file(str(KV_DIR / "hall_display.kv"))
        screen = HallDisplayScreen()
        screen.on_waiting_capacity = self.hall_controller.set_waiting_capacity
        self.attach(screen)
        return screen
