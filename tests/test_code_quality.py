"""The code rules every change must keep: ruff (lint and format) on the whole
tree, and strict typing on the shared MQTT contract and the hub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_is_clean() -> None:
    result = _run("ruff", "check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_contract_and_hub_are_strictly_typed() -> None:
    result = _run("mypy", "--strict", "hallbus", "hub")
    assert result.returncode == 0, result.stdout + result.stderr
