"""The hall display's Kivy app: HallView → widget properties and row widgets."""

from __future__ import annotations

import displays.kivy_env  # noqa: F401  (must precede kivy)

# isort: split

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    show_notices = BooleanProperty(False)
    notice_text = StringProperty("")
    offline_text = StringProperty("")
    flash_on = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: HallView | None = None
        self._calls: tuple[CallRow, ...] | None = None
        self._page_content: tuple[Any, ...] | None = None
        self._flash = CallFlash(self)
        self._ticker_event: Any = None
        self.bind(size=self._rescale)

    def _rescale(self, *_args: Any) -> None:
        self.u = min(self.width, self.height) / 1080
        self.portrait = self.height > self.width
        # Row widgets copy u when built; rebuild them at the new scale.
        self._calls = None
        self._page_content = None
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
        self.show_notices = view.show_notices and bool(view.notice_text)
        self.notice_text = view.notice_text
        self.offline_text = view.offline_text
        if view.calls != self._calls:
            self._calls = view.calls
            self._build_calls(view.calls)
        page_content = (view.page, view.waiting, view.guide_floors, view.guide_steps)
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
        for row in rows:
            container.add_widget(
                Factory.WaitingRowWidget(
                    u=self.u,
                    prefix=row.prefix,
                    name=row.name,
                    waiting_text=row.waiting_text,
                    estimate_text=row.estimate_text,
                    estimate_text_en=row.estimate_text_en,
                )
            )
        if not rows:
            container.add_widget(Factory.GuideLineWidget(u=self.u, text="暂无等候数据 No data yet"))
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

    def _scroll_ticker(self, dt: float) -> None:
        strip = self.ids.ticker_strip
        label = self.ids.ticker_label
        label.x -= TICKER_PIXELS_PER_S * self.u * dt
        if label.right < strip.x:
            label.x = strip.right

    def park_ticker(self, fraction: float = 0.0) -> None:
        """Place the notice at a fixed spot (screenshots are taken mid-scroll otherwise)."""
        strip = self.ids.ticker_strip
        self.ids.ticker_label.x = strip.x + strip.width * fraction


class HallDisplayApp(DisplayApp):
    title = "信息公示屏 Hall display"

    def __init__(
        self,
        controller: Refreshable,
        ui: UiModel,
        *,
        portrait: bool = False,
        on_drawn: DrawnProbe | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(controller, ui, on_drawn=on_drawn, **kwargs)
        self.portrait = portrait

    def build(self) -> HallDisplayScreen:
        Builder.load_file(str(KV_DIR / "common.kv"))
        Builder.load_file(str(KV_DIR / "hall_display.kv"))
        screen = HallDisplayScreen()
        self.attach(screen)
        return screen
