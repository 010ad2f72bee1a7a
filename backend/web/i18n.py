"""Languages of the pages: 简体中文 by default, English on request.

Message ids in templates and code are the Chinese texts, so a page with no
catalog at all is correct Chinese; `backend/translations/en/…/messages.po`
holds the English. The .po is compiled to .mo at start-up into
`<var>/translations` (only when the .po changed), so no compiled file is kept
in the repository.

Add a text: wrap it in `_()` (templates, code) or `_l()` (module level), then
re-extract and merge (docs/web.md, "Translations") and write the English in the .po.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask.sessions import NullSession
from flask_babel import Babel

from hallbus.localtime import DEFAULT_TIMEZONE

SOURCE_DIR = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"


def compile_catalogs(target_dir: Path) -> Path:
    """Compile every .po under backend/translations into `target_dir`, if stale."""
    for po_path in SOURCE_DIR.glob("*/LC_MESSAGES/*.po"):
        relative = po_path.relative_to(SOURCE_DIR).with_suffix(".mo")
        mo_path = target_dir / relative
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=po_path.parts[-3])
        # A temporary name of this process's own: server workers start together
        # and each may compile the same catalog; a shared temporary file would be
        # renamed away under the others (a worker then failed to boot).
        partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        partial.replace(mo_path)  # atomic: another worker may be reading it
    return target_dir


@lru_cache(maxsize=len(LANGUAGES))
def translator(language: str) -> Callable[[str], str]:
    """gettext for ``language`` without a request: the scheduler renders reports
    and messages outside any, and a page may render for another language.
    Chinese (and an unknown language) is the message id itself."""
    po_path = SOURCE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LOCALE or not po_path.exists():
        return _message_id
    with po_path.open("rb") as source:
        catalog = read_po(source, locale=language)
    strings = {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.string, str) and message.string
    }
    return lambda message: strings.get(message, message)


# What a recipient of e-mail and SMS (report schedules, alert contacts) reads:
# the stored value of their ``language`` column.
RECIPIENT_LANGUAGES = {"zh": "简体中文", "en": "English"}
DEFAULT_RECIPIENT_LANGUAGE = "zh"


def recipient_translator(language: str) -> Callable[[str], str]:
    """:func:`translator` for a stored recipient language ("zh" or "en")."""
    return translator("en" if language == "en" else DEFAULT_LOCALE)


def page_recipient_language() -> str:
    """The recipient language matching the page's language (a new schedule's default)."""
    return "en" if current_language() == "en" else DEFAULT_RECIPIENT_LANGUAGE


def _message_id(message: str) -> str:
    return message


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        if not isinstance(session, NullSession):  # the API has no session to remember it in
            session["lang"] = chosen
        return chosen
    remembered = session.get("lang")
    if remembered in LANGUAGES:
        return str(remembered)
    return DEFAULT_LOCALE


def current_language() -> str:
    return select_locale()


def install(app: Flask) -> None:
    settings = app.extensions["hallkit"].settings
    compiled = compile_catalogs(Path(settings.var_dir) / "translations")
    Babel(
        app,
        default_locale=DEFAULT_LOCALE,
        default_timezone=DEFAULT_TIMEZONE,
        default_translation_directories=str(compiled),
        locale_selector=select_locale,
    )
