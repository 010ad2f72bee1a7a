"""The software version every hall app reports (the `hallkit` distribution's)."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version


@lru_cache(maxsize=1)
def app_version() -> str:
    """ "0.1.0" as installed; "" when run from a tree that was never installed
    (the device page then shows that no version is known, not a made-up one)."""
    try:
        return version("hallkit")
    except PackageNotFoundError:
        return ""
