from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from evaluator.pending import PendingRatings
from evaluator.viewmodel import EvaluatorSettings, EvaluatorViewModel, ViewState

START = datetime.fromisoformat("2026-03-03T09:30:00+08:00")


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PendingRatings]:
    pending = PendingRatings(tmp_path / "pending.db")
    yield pending
    pending.close()


class Views:
    def __init__(self) -> None:
        self.seen: list[ViewState] = []

    def __call__(self, view: ViewState) -> None:
        self.seen.append(view)

    @property
    def last(self) -> ViewState:
        return self.seen[-1]


def make_view_model(
    store: PendingRatings, clock: FakeClock, **settings: object
) -> tuple[EvaluatorViewModel, Views]:
    values: dict[str, object] = {"window": "3", "timeout_s": 30}
    values.update(settings)
    view_model = EvaluatorViewModel(EvaluatorSettings(**values), store, clock)  # type: ignore[arg-type]
    views = Views()
    view_model.listen(views)
    view_model.set_connection(connected=True, hub_online=True)
    return view_model, views
