"""Error codes shared by every hall application, and the exceptions that carry them.

The codes are part of the wire contract (they appear in error replies); the
table with "when is each used" lives in docs/protocol.md.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    BAD_SCHEMA = "bad_schema"
    UNSUPPORTED_VERSION = "unsupported_version"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    BAD_TOPIC = "bad_topic"
    UNKNOWN_DEVICE = "unknown_device"
    NOT_AUTHORISED = "not_authorised"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"


# Whether a device may send the same request again (same correlation id, so the
# hub can deduplicate). Used as the default for ErrorReply.error.retry.
RETRYABLE: dict[ErrorCode, bool] = {
    ErrorCode.BAD_JSON: False,
    ErrorCode.BAD_SCHEMA: False,
    ErrorCode.UNSUPPORTED_VERSION: False,
    ErrorCode.PAYLOAD_TOO_LARGE: False,
    ErrorCode.BAD_TOPIC: False,
    ErrorCode.UNKNOWN_DEVICE: False,
    ErrorCode.NOT_AUTHORISED: False,
    ErrorCode.DEADLINE_EXCEEDED: True,
    ErrorCode.BACKEND_UNAVAILABLE: True,
    ErrorCode.NOT_FOUND: False,
    ErrorCode.CONFLICT: False,
    ErrorCode.RATE_LIMITED: True,
    ErrorCode.INTERNAL: True,
}


class ContractError(Exception):
    """A message or topic broke the contract; `code` says how (an ErrorCode)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
