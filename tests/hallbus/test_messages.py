from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hallbus.codec import (
    MAX_PAYLOAD_BYTES,
    decode,
    decode_reply,
    decode_request,
    encode,
    parse_availability,
)
from hallbus.errors import ContractError, ErrorCode
from hallbus.messages import (
    CallEvent,
    ConfigPush,
    ErrorReply,
    RequestEnvelope,
    Response,
    SubmitRating,
    TakeTicket,
    WindowDisplayState,
)
from hallbus.topics import RequestKind

RID = "0123456789abcdef0123456789abcdef"


def envelope(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "v": 1,
        "id": RID,
        "reply_to": "hall/bh/kiosk/kiosk-1/reply",
        "deadline": 1767225600000,
        "device": "kiosk-1",
        "kind": "take_ticket",
        "body": {"category": "A"},
    }
    data.update(overrides)
    return data


def raw(data: object) -> bytes:
    return json.dumps(data).encode()


def code_of(excinfo: pytest.ExceptionInfo[ContractError]) -> ErrorCode:
    return excinfo.value.code


def test_request_round_trip() -> None:
    env, body = decode_request(raw(envelope()), RequestKind.TAKE_TICKET)
    assert isinstance(body, TakeTicket) and body.category == "A"
    assert decode(RequestEnvelope, encode(env)) == env


def test_unknown_field_is_bad_schema() -> None:
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, raw(envelope(colour="red")))
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA
    assert "colour" in excinfo.value.message


def test_unknown_field_in_body_is_bad_schema() -> None:
    with pytest.raises(ContractError) as excinfo:
        decode_request(raw(envelope(body={"category": "A", "vip": True})))
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA
    assert "body: vip" in excinfo.value.message


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_version_is_unsupported(version: object) -> None:
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, raw(envelope(v=version)))
    assert code_of(excinfo) is ErrorCode.UNSUPPORTED_VERSION


def test_missing_version_is_unsupported() -> None:
    data = envelope()
    del data["v"]
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, raw(data))
    assert code_of(excinfo) is ErrorCode.UNSUPPORTED_VERSION


@pytest.mark.parametrize("payload", [b"{not json", b"\xff\xfe", b"", b'{"v": 1,'])
def test_malformed_json_is_bad_json(payload: bytes) -> None:
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, payload)
    assert code_of(excinfo) is ErrorCode.BAD_JSON


def test_non_object_is_bad_schema() -> None:
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, b"[1, 2]")
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA


def test_oversized_payload_is_refused_before_parsing() -> None:
    payload = b" " * MAX_PAYLOAD_BYTES + b"{}"
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, payload)
    assert code_of(excinfo) is ErrorCode.PAYLOAD_TOO_LARGE


def test_encode_refuses_oversized_payload() -> None:
    big = SubmitRating(
        rating_id=RID,
        ticket_number="A001",
        window="3",
        level=5,
        reasons=["x" * 200] * 20,
        note="n" * 2000,
        rated_at=datetime.now(UTC),
    )
    assert len(encode(big)) < MAX_PAYLOAD_BYTES  # the largest legal rating still fits
    with pytest.raises(ContractError) as excinfo:
        encode(ConfigPush(seq=1, hall_name="BH", settings={f"k{i}": "x" * 1000 for i in range(80)}))
    assert code_of(excinfo) is ErrorCode.PAYLOAD_TOO_LARGE


def test_topic_and_envelope_kind_must_agree() -> None:
    with pytest.raises(ContractError) as excinfo:
        decode_request(raw(envelope()), RequestKind.SUBMIT_RATING)
    assert code_of(excinfo) is ErrorCode.NOT_AUTHORISED


def test_take_ticket_needs_exactly_one_target() -> None:
    with pytest.raises(ContractError) as excinfo:
        decode_request(raw(envelope(body={"category": "A", "matter_code": "X1"})))
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA


def test_bad_correlation_id_is_bad_schema() -> None:
    with pytest.raises(ContractError) as excinfo:
        decode(RequestEnvelope, raw(envelope(id="not-a-uuid")))
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA


def test_replies_decode_to_success_or_error() -> None:
    ok = decode_reply(raw({"v": 1, "id": RID, "ok": True, "body": {}}))
    assert isinstance(ok, Response)
    failed = ErrorReply.for_code(RID, ErrorCode.BACKEND_UNAVAILABLE, "backend down")
    decoded = decode_reply(encode(failed))
    assert isinstance(decoded, ErrorReply)
    assert decoded.error.code is ErrorCode.BACKEND_UNAVAILABLE and decoded.error.retry is True
    unreadable = decode_reply(encode(ErrorReply.for_code(None, ErrorCode.BAD_JSON, "x")))
    assert isinstance(unreadable, ErrorReply) and unreadable.error.retry is False


def test_state_models_reject_naive_times_and_bad_values() -> None:
    base = {"v": 1, "seq": 3, "window": "12", "department_name": "税务", "state": "open"}
    assert decode(WindowDisplayState, raw(base)).state == "open"
    with pytest.raises(ContractError):
        decode(WindowDisplayState, raw({**base, "state": "asleep"}))
    with pytest.raises(ContractError):
        decode(
            CallEvent,
            raw(
                {
                    "v": 1,
                    "seq": 1,
                    "ticket": "A001",
                    "window": "3",
                    "called_at": "2025-03-01T09:00:00",
                }
            ),
        )


def test_availability_is_plain_text() -> None:
    assert parse_availability(b"online") == "online"
    assert parse_availability(b"offline") == "offline"
    with pytest.raises(ContractError):
        parse_availability(b'{"status": "online"}')
