"""Domain errors with stable codes. The API turns them into JSON in one place
(backend/api/errors.py); services raise them and never build HTTP responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    status = 400
    # A refused attempt (no permission, or outside one's scope): audited.
    refusal = False

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class BadInput(DomainError):
    code = "bad_input"
    status = 400


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    refusal = True


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidTransition(DomainError):
    """The object exists but is not in a state that allows this action."""

    code = "invalid_transition"
    status = 409


class QueueUnavailable(DomainError):
    """Outside issuing hours, category closed, daily cap or number range reached."""

    code = "queue_unavailable"
    status = 409


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429


class NotSignedIn(DomainError):
    """A window action from the hall (a caller key box) while nobody is signed in
    at that window: there is no clerk to act as."""

    code = "not_signed_in"
    status = 409


class HallReplaying(DomainError):
    """The hall hub is replaying the calls it made offline; until it is done the
    hub, not the backend, decides the hall's queue (docs/hub.md)."""

    code = "hall_replaying"
    status = 409


class DatabaseUnavailable(DomainError):
    code = "database_unavailable"
    status = 503
