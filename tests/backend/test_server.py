"""The gunicorn settings the backend runs with."""

from __future__ import annotations

import gc

from backend.server import freeze_startup_objects, gunicorn_options


def test_workers_freeze_what_loading_the_app_created() -> None:
    options = gunicorn_options("127.0.0.1", 8000, workers=2, threads=4)
    assert options["post_worker_init"] is freeze_startup_objects
    assert options["bind"] == "127.0.0.1:8000"
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        # Everything alive now is out of reach of a full collection.
        assert gc.get_freeze_count() > before
        assert gc.get_objects(generation=2) == []
    finally:
        gc.unfreeze()
