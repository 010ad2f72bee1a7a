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
    CaseStatus,
    CatalogSearch,
    ConfigPush,
    DeviceHealth,
    ErrorReply,
    HallCallList,
    KioskCategory,
    KioskDepartment,
    KioskState,
    MatterDetailRequest,
    RequestEnvelope,
    Response,
    SubmitRating,
    TakeTicket,
    WindowDisplayState,
)
from hallbus.topics import Component, RequestKind

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


# ------------------------------------------------- additions within v1 (docs/protocol.md §9)


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"appointment_code": "YY2026"}, True),  # check-in by code
        ({"id_lookup_hash": "a" * 64}, True),  # check-in by ID card
        ({"appointment_code": "YY2026", "id_lookup_hash": "a" * 64}, True),
        ({"category": "A", "id_lookup_hash": "a" * 64}, True),  # a real-name ticket
        ({"category": "A", "appointment_code": "YY2026"}, False),
        ({"appointment_code": "YY 2026"}, False),
        ({}, False),
        ({"id_lookup_hash": "11010519491231002X"}, False),  # a number is never a hash
        ({"category": "A", "notify_phone": "13912345678"}, True),  # 到号提醒 by SMS
        ({"category": "A", "notify_phone": "1391234567"}, False),  # not a mobile number
        ({"category": "A", "notify_phone": "010-12345678"}, False),
        ({"appointment_code": "YY2026", "notify_phone": "13912345678"}, False),  # booking's
    ],
)
def test_take_ticket_check_in(body: dict[str, object], ok: bool) -> None:
    if ok:
        _envelope, typed = decode_request(raw(envelope(body=body)), RequestKind.TAKE_TICKET)
        assert isinstance(typed, TakeTicket)
        assert typed.is_check_in == ("category" not in body)
        return
    with pytest.raises(ContractError) as excinfo:
        decode_request(raw(envelope(body=body)), RequestKind.TAKE_TICKET)
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA


def test_rating_window_is_optional_for_a_case_only() -> None:
    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    case = SubmitRating(rating_id=RID, case_receipt="20261124409381759", level=4, rated_at=when)
    # Left out of the JSON while unset, so a receiver without the addition still
    # sees the payload it knows (for ratings that do name their window).
    assert "window" not in json.loads(encode(case))
    with pytest.raises(ValueError, match="window is required"):
        SubmitRating(rating_id=RID, ticket_number="A001", level=4, rated_at=when)
    ticket = SubmitRating(rating_id=RID, ticket_number="A001", window="3", level=4, rated_at=when)
    assert json.loads(encode(ticket))["window"] == "3"


def test_added_fields_are_omitted_while_unset() -> None:
    calls = HallCallList(seq=1, recent_calls=[], waiting=[])
    assert set(json.loads(encode(calls))) == {"v", "seq", "recent_calls", "waiting"}
    assert json.loads(encode(calls.model_copy(update={"notices": ["停电"]})))["notices"] == ["停电"]
    search = CatalogSearch(query="营业执照")
    assert "life_event" not in json.loads(encode(search))
    assert "notify_phone" not in json.loads(encode(TakeTicket(category="A")))
    status = CaseStatus(
        receipt_number="1", matter_name="x", status="accepted", status_name="已受理"
    )
    assert not {"next_action", "supplement"} & set(json.loads(encode(status)))
    # An empty supplement list is set (the case waits; the notice lists the items).
    waiting = status.model_copy(update={"supplement": []})
    assert json.loads(encode(waiting))["supplement"] == []
    assert decode(CaseStatus, encode(waiting)).supplement == []
    assert decode(CaseStatus, encode(status)).supplement is None


def test_new_payloads_round_trip_and_stay_strict() -> None:
    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    state = KioskState(
        seq=3,
        categories=[KioskCategory(prefix="A", name="企业开办", waiting=2, departments=["GS"])],
        departments=[KioskDepartment(code="GS", name="工商分局", floor=1)],
        life_events=["企业开办"],
        notices=["停电通知"],
    )
    assert decode(KioskState, encode(state)) == state
    health = DeviceHealth(device="kiosk-1", component=Component.PRINTER, state="paper_out", at=when)
    assert decode(DeviceHealth, encode(health)) == health
    with pytest.raises(ContractError) as excinfo:
        decode(DeviceHealth, encode(health)[:-1] + b',"printer":"ok"}')
    assert code_of(excinfo) is ErrorCode.BAD_SCHEMA
    with pytest.raises(ContractError):
        decode(DeviceHealth, encode(health).replace(b"paper_out", b"on_fire"))
    detail = decode_request(
        raw(envelope(kind="matter_detail", body={"matter_code": "GS-001"})),
        RequestKind.MATTER_DETAIL,
    )[1]
    assert isinstance(detail, MatterDetailRequest) and detail.matter_code == "GS-001"
