"""API v1: one blueprint per area, all under /api/v1."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from backend.api.v1 import (
        auth,
        cases,
        catalog,
        devices,
        events,
        halls,
        hub_sync,
        performance,
        queue,
        ratings,
        reports,
        supervision,
    )

    for module in (
        auth,
        catalog,
        halls,
        queue,
        cases,
        ratings,
        events,
        devices,
        hub_sync,
        supervision,
        performance,
        reports,
    ):
        app.register_blueprint(module.blueprint)
    app.register_blueprint(queue.public)
    app.register_blueprint(cases.public)
