"""Bytes <-> payload models, with the checks every receiver must make in the same order.

Order matters for the error code a sender gets back: size first (never parse
a huge payload), then JSON syntax, then the schema version (so an old device
talking to a new hub hears "unsupported_version", not a list of field errors),
then the schema itself.
"""

from __future__ import annotations

import json
from typing import Final, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from hallbus.errors import ContractError, ErrorCode
from hallbus.messages import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    SCHEMA_VERSION,
    ErrorReply,
    RequestBody,
    RequestEnvelope,
    Response,
)
from hallbus.topics import RequestKind

MAX_PAYLOAD_BYTES: Final = 64 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)


def encode(model: BaseModel) -> bytes:
    """Serialise a payload compactly; None fields are kept so receivers see every key."""
    data = model.model_dump_json().encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"{type(model).__name__} is {len(data)} bytes, limit {MAX_PAYLOAD_BYTES}",
        )
    return data


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: `field.path: reason`, which fits in an error reply."""
    lines = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "(payload)"
        lines.append(f"{where}: {problem['msg']}")
    return "; ".join(lines)


def decode(model: type[ModelT], raw: bytes | bytearray | memoryview) -> ModelT:
    """Decode one JSON payload into `model`, or raise ContractError with the matching code."""
    data = bytes(raw)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"payload is {len(data)} bytes, limit {MAX_PAYLOAD_BYTES}"
        )
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(ErrorCode.BAD_JSON, f"payload is not UTF-8 JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ContractError(ErrorCode.BAD_SCHEMA, "payload must be a JSON object")
    if "v" in model.model_fields:
        version = parsed.get("v")
        if version != SCHEMA_VERSION:
            raise ContractError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"schema version {version!r} is not supported; this end speaks v={SCHEMA_VERSION}",
            )
    try:
        return model.model_validate(parsed)
    except ValidationError as exc:
        raise ContractError(ErrorCode.BAD_SCHEMA, describe_validation_error(exc)) from None


def decode_request(
    raw: bytes | bytearray | memoryview, topic_kind: RequestKind | str | None = None
) -> tuple[RequestEnvelope, RequestBody]:
    """Decode a request envelope and its typed body (what the hub does on every request).

    When `topic_kind` (the kind named by the topic) is given, the envelope must
    agree with it: the ACL authorises by topic, so the payload may not claim a
    different kind.
    """
    envelope = decode(RequestEnvelope, raw)
    if topic_kind is not None and envelope.kind != topic_kind:
        raise ContractError(
            ErrorCode.NOT_AUTHORISED,
            f"envelope kind {envelope.kind.value!r} does not match topic kind {topic_kind!r}",
        )
    try:
        body = envelope.typed_body()
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        raise ContractError(ErrorCode.BAD_SCHEMA, f"body: {detail}") from None
    return envelope, body


def decode_reply(raw: bytes | bytearray | memoryview) -> Response | ErrorReply:
    """Decode a reply on a device's reply topic: success or typed error."""
    if decode(_ReplyProbe, raw).ok:
        return decode(Response, raw)
    return decode(ErrorReply, raw)


class _ReplyProbe(BaseModel):
    # Only used to pick Response or ErrorReply; the full model does the real checks.
    v: Literal[1]
    ok: bool


def parse_availability(raw: bytes | bytearray | memoryview) -> Literal["online", "offline"]:
    data = bytes(raw)
    if data == AVAILABILITY_ONLINE:
        return "online"
    if data == AVAILABILITY_OFFLINE:
        return "offline"
    raise ContractError(ErrorCode.BAD_SCHEMA, f"availability must be online or offline: {data!r}")
