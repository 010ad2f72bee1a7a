"""WSGI entry point for any WSGI server: `gunicorn backend.wsgi:app`."""

from backend.app import create_app

app = create_app()
