"""WSGI entry point for any WSGI server, e.g. `granian --interface wsgi backend.wsgi:app`."""

from backend.app import create_app

app = create_app()
