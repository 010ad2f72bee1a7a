"""Fixtures shared by the serial driver tests: each module names its port with ``link``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devices.ptypeer import PtyPeer, Recorder


@pytest.fixture
def peer(link: Path) -> Iterator[PtyPeer]:
    device = PtyPeer(link)
    yield device
    device.close()


@pytest.fixture
def recorder() -> Recorder[object]:
    return Recorder()
