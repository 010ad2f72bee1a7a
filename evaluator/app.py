"""The evaluator's Kivy app: loads one .kv file per screen and shows the view-model's state.

The app holds no rating logic. It forwards touches to the view-model and, when
the view-model publishes a new ViewState (from any thread), a UiModel brings it
onto the Kivy clock, where `view` is replaced and the .kv bindings redraw.
"""

from __future__ import annotations

import deviceui.bootstrap  # noqa: F401  (environment and fonts before kivy)

# isort: split

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import ObjectProperty
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

from deviceui.bootstrap import register_fonts
from deviceui.screens import UiModel
from evaluator.runtime import EvaluatorRuntime
from evaluator.viewmodel import ViewState
from evaluator.widgets import ReasonToggle

if TYPE_CHECKING:
    from kivy.uix.textinput import TextInput

KV_DIR = Path(__file__).parent / "kv"
KV_FILES = (
    "common.kv",
    "idle.kv",
    "ask_level.kv",
    "dimensions.kv",
    "bad_reasons.kv",
    "thanks.kv",
    "expired.kv",
    "offline.kv",
)
TICK_SECONDS = 0.5


class IdleScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pass


class AskLevelScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pass


class DimensionsScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pass


class ThanksScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pass


class ExpiredScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pass


class OfflineScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pass


class BadReasonsScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    reasons_grid = ObjectProperty(None)
    note_input = ObjectProperty(None)

    def show(self, view: ViewState) -> None:
        """The reason list is data (pushed by the hub), so its buttons are made here."""
        grid: GridLayout = self.reasons_grid
        wanted = [(choice.value, choice.selected) for choice in view.reasons]
        current = [(child.reason, child.state == "down") for child in reversed(grid.children)]
        if [reason for reason, _ in wanted] != [reason for reason, _ in current]:
            grid.clear_widgets()
            for reason, _selected in wanted:
                grid.add_widget(ReasonToggle(text=reason, reason=reason))
        for child, (_reason, selected) in zip(reversed(grid.children), wanted, strict=True):
            child.state = "down" if selected else "normal"
        note: TextInput = self.note_input
        if note.text != view.note:
            note.text = view.note


class EvaluatorApp(App):  # type: ignore[misc]  # Kivy ships no type hints
    # rebind: kv rules read app.view.<field>; without it they keep the first view.
    view = ObjectProperty(None, rebind=True)

    def __init__(
        self,
        runtime: EvaluatorRuntime,
        *,
        size: tuple[int, int] = (1280, 800),
        photo_base_url: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = "评价器 / Evaluator"
        self.runtime = runtime
        self.window_size = size
        self.photo_base_url = photo_base_url
        self.view = runtime.view_model.view()
        self.ui_model = UiModel(view=self.view)
        self.screens: ScreenManager | None = None

    # ------------------------------------------------------------------ lifecycle

    def build(self) -> ScreenManager:
        # The window is created on the first import of kivy.core.window (TextInput
        # imports it too), and an offscreen window keeps its first size; so the
        # size is configured here, before anything imports it.
        from kivy.config import Config

        width, height = self.window_size
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
        from kivy.core.window import Window

        Window.size = self.window_size
        register_fonts()
        Window.clearcolor = (0.957, 0.965, 0.98, 1)
        for name in KV_FILES:
            Builder.load_file(str(KV_DIR / name))
        screens = ScreenManager(transition=NoTransition())
        for screen in (
            IdleScreen(),
            AskLevelScreen(),
            DimensionsScreen(),
            BadReasonsScreen(),
            ThanksScreen(),
            ExpiredScreen(),
            OfflineScreen(),
        ):
            screens.add_widget(screen)
        self.screens = screens
        self.ui_model.use_kivy_clock = True
        self.ui_model.listen(self._on_model)
        self.runtime.view_model.listen(lambda view: self.ui_model.update(view=view))
        Clock.schedule_interval(lambda _dt: self.runtime.poll(), TICK_SECONDS)
        return screens

    def on_start(self) -> None:
        self.runtime.start()
        self._show(self.runtime.view_model.view())

    def on_stop(self) -> None:
        self.runtime.stop()

    def _on_model(self, values: dict[str, Any]) -> None:
        self._show(values["view"])

    def _show(self, view: ViewState) -> None:
        self.view = view
        if self.screens is None:
            return
        reasons = self.screens.get_screen("bad_reasons")
        assert isinstance(reasons, BadReasonsScreen)
        reasons.show(view)
        if self.screens.current != view.screen.value:
            self.screens.current = view.screen.value

    # ------------------------------------------------------- called from the .kv files

    def photo_source(self, photo_url: str) -> str:
        if not photo_url:
            return ""
        if photo_url.startswith(("http://", "https://")):
            return photo_url
        if Path(photo_url).is_file():
            return photo_url
        if self.photo_base_url:
            return urljoin(self.photo_base_url, photo_url)
        return ""  # no way to fetch it: the avatar shows the surname instead

    def choose_level(self, level: int) -> None:
        self.runtime.view_model.choose_level(int(level))

    def toggle_reason(self, reason: str) -> None:
        self.runtime.view_model.toggle_reason(reason)

    def set_note(self, note: str) -> None:
        self.runtime.view_model.set_note(note)

    def submit_reasons(self) -> None:
        self.runtime.view_model.submit_reasons()

    def back_to_levels(self) -> None:
        self.runtime.view_model.back_to_levels()

    def score_dimension(self, score: int) -> None:
        self.runtime.view_model.score_dimension(int(score))

    def skip_dimensions(self) -> None:
        self.runtime.view_model.skip_dimensions()

    def dismiss_result(self) -> None:
        self.runtime.view_model.dismiss_result()

    def toggle_language(self) -> None:
        self.runtime.view_model.toggle_language()
