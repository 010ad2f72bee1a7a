"""Marking texts for translation where they are made, not where they are shown.

Services build texts without a request (scans, deliveries, the JSON API) and
keep them in Chinese; a page or a message to a person translates the same
message id with Flask-Babel. ``N_`` is the name ``pybabel extract`` looks for
by default, so these ids reach the catalog like ``_()`` and ``_l()`` ones.
"""

from __future__ import annotations


def N_(message: str) -> str:  # the name gettext extraction looks for
    """Marks a message id for extraction; it is translated where it is read."""
    return message
