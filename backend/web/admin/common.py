"""Shared parts of the administration pages: who may read or change, the hall
being administered, form helpers that refuse hostile text, and the audit call.

Rules every admin page follows:

- Changes are administrators only (`admin_only`); supervisors (监察) may read
  the lists marked `readable` and never see a change button.
- Every change is one transaction that also writes an audit entry (who, what,
  before/after where it matters); a form that does not validate changes
  nothing and is shown again with the reasons, with status 400.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import Field, Form, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from backend.errors import NotFound
from backend.models import Hall
from backend.services.access import Access, Resource, roles_for
from backend.services.audit import record
from backend.web.auth import current_staff, permission_required
from backend.web.layout import use_hall_zone

View = TypeVar("View", bound=Callable[..., Any])
Row = TypeVar("Row")
Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")

READERS = tuple(roles_for(Resource.ADMINISTRATION, Access.READ))

# The same rule as the API's (backend.services.access).
admin_only = permission_required(Resource.ADMINISTRATION, Access.WRITE)
readable = permission_required(Resource.ADMINISTRATION, Access.READ)

# C0/C1 control characters (but tab and line breaks) never belong in a name or a
# notice: they break CSV export, the LED protocol and the printed slip.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")


class Clean:
    """Refuses control characters (and line breaks unless `multiline`)."""

    def __init__(self, multiline: bool = False) -> None:
        self.pattern = _CONTROL if multiline else _CONTROL_SINGLE_LINE

    def __call__(self, form: Form, field: Field) -> None:
        if isinstance(field.data, str) and self.pattern.search(field.data):
            raise ValidationError(str(_l("含有不允许的控制字符")))


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class AdminForm(FlaskForm):  # type: ignore[misc]
    """Strips surrounding spaces from every text field."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            if issubclass(unbound_field.field_class, StringField):
                filters = (strip, *unbound_field.kwargs.get("filters", ()))
                return unbound_field.bind(form=form, filters=filters, **options)
            return unbound_field.bind(form=form, **options)


def ext() -> Any:
    return current_app.extensions["hallkit"]


def now() -> datetime:
    value: datetime = ext().clock()
    return value


def actor() -> str:
    label: str = current_staff().principal.label
    return label


def audit(
    session: Session, action: str, entity: str, entity_id: object, detail: dict[str, Any]
) -> None:
    record(session, actor(), action, entity, entity_id, detail)


def audit_changes(
    session: Session,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    """Audit an edit only when it changed something (saving an unchanged form is
    not an event); the difference is returned so the caller can react to it."""
    diff = changed(before, after)
    if diff:
        audit(session, action, entity, entity_id, diff)
    return diff


def found(session: Session, model: type[Row], key: int, missing: str) -> Row:
    """The row with this primary key, or the error page with `missing`."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(missing)
    return row


def hall_of(session: Session, row: Any) -> Hall:
    """The hall a notice, category or window belongs to (a foreign key, so it exists)."""
    hall = session.get(Hall, row.hall_id)
    assert hall is not None
    return hall


def search_filter(query: Query, search: str, *columns: Any) -> Query:
    """A list's search box: rows where any of `columns` contains the text, taken
    literally (% and _ typed by the user are not wildcards)."""
    if not search:
        return query
    matches: list[ColumnElement[bool]] = [
        column.contains(search, autoescape=True) for column in columns
    ]
    return query.where(or_(*matches))


def all_halls(session: Session) -> list[Hall]:
    return list(session.execute(select(Hall).order_by(Hall.id)).scalars())


def selected_hall(session: Session, code: str | None = None) -> Hall:
    """The hall named by ?hall=CODE, else the one the user signed in to."""
    code = code if code is not None else request.args.get("hall", "")
    if code:
        hall = session.execute(select(Hall).where(Hall.code == code)).scalar_one_or_none()
    else:
        hall_id = current_staff().principal.hall_id
        hall = session.get(Hall, hall_id) if hall_id else None
        hall = hall or session.execute(select(Hall).order_by(Hall.id).limit(1)).scalar_one()
    if hall is None:
        abort(404)
    use_hall_zone(hall.timezone)  # the page shows this hall's times
    return hall


def done(message: str, endpoint: str, **values: Any) -> Response:
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def invalid(template: str, **context: Any) -> tuple[str, int]:
    """The form again with its errors; nothing was changed."""
    flash(str(_l("请更正标出的错误，未做任何修改")), "error")
    return render_template(template, **context), 400


def generated_secret(length: int = 12) -> str:
    """A password a person can read out and type: no 0/O, 1/l/I."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only the fields that changed, as {field: [old, new]} for the audit entry."""
    return {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in sorted(value, key=str)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def db_session() -> Any:
    """A read-only session to show a page, a write transaction to change it."""
    database = ext().db
    return database.reading() if request.method == "GET" else database.writing()


def options(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select choices in the form WTForms 3.3+ wants (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]
