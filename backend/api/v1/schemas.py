"""Request bodies and query strings of API v1. Unknown fields are rejected."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from backend.services.offline import HubMode, WindowActionKind

ID_TEXT = r"^[A-Za-z0-9_\-.:]{1,64}$"
# HMAC-SHA256 (hall lookup key) of a normalised ID number: 64 lower-case hex digits.
_LOOKUP_HASH = re.compile(r"^[0-9a-f]{64}$")


def _check_lookup_hash(value: str | None) -> None:
    """Checked at model level, so a refused value is never echoed in the error
    details (field errors carry their input; the hash identifies a person)."""
    if value is not None and not _LOOKUP_HASH.fullmatch(value):
        raise ValueError("id_lookup_hash must be 64 lower-case hex digits")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IssueTicket(Strict):
    category: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{1,4}$", description="排队类别前缀"
    )
    matter_code: str | None = Field(default=None, max_length=40)
    priority_kind: Literal["elderly", "disabled", "military", "pregnant"] | None = None
    channel: Literal["kiosk", "staff", "phone"] = "kiosk"
    request_id: str | None = Field(
        default=None,
        pattern=ID_TEXT,
        description="client idempotency key: a retry returns the same ticket",
    )
    id_lookup_hash: str | None = Field(
        default=None,
        description="实名取号：身份证号的查询哈希（64位小写十六进制）/ real-name ticket: the "
        "ID number's lookup hash (HMAC-SHA256 with the hall's lookup key); stored, never returned",
    )
    notify_phone: str | None = Field(
        default=None,
        max_length=20,
        description="到号短信提醒的手机号（可选）/ optional mobile number for the turn-is-near "
        "SMS; stored sealed, never returned, shown masked only",
    )

    @model_validator(mode="after")
    def _hash_shape(self) -> IssueTicket:
        _check_lookup_hash(self.id_lookup_hash)
        return self


class CheckIn(Strict):
    """By the appointment code or by the ID card's lookup hash: exactly one."""

    code: str | None = Field(default=None, min_length=4, max_length=16, pattern=r"^[A-Za-z0-9]+$")
    id_lookup_hash: str | None = Field(
        default=None,
        description="身份证号的查询哈希 / the ID number's lookup hash: today's booking here",
    )
    request_id: str | None = Field(default=None, pattern=ID_TEXT)

    @model_validator(mode="after")
    def _exactly_one(self) -> CheckIn:
        if (self.code is None) == (self.id_lookup_hash is None):
            raise ValueError("give exactly one of code or id_lookup_hash")
        _check_lookup_hash(self.id_lookup_hash)
        return self


class ReserveBlock(Strict):
    category: str = Field(pattern=r"^[A-Za-z]{1,4}$")
    size: int = Field(ge=1, le=200)


class OfflineTicket(Strict):
    category: str = Field(pattern=r"^[A-Za-z]{1,4}$")
    number: int = Field(ge=1, le=99999)
    issued_at: AwareDatetime
    request_id: str = Field(pattern=ID_TEXT)
    device_id: str = Field(pattern=ID_TEXT)
    priority_kind: Literal["elderly", "disabled", "military", "pregnant"] | None = None


class CallSpecific(Strict):
    number: str = Field(pattern=r"^[A-Za-z]{1,4}[0-9]{1,5}$")
    reason: str = Field(min_length=1, max_length=200)


class Hold(Strict):
    reason: str = Field(default="", max_length=200, description="挂起原因，如 补取材料")


class ResumeHeld(Strict):
    number: str = Field(pattern=r"^[A-Za-z]{1,4}[0-9]{1,5}$", description="挂起的号票")


class Transfer(Strict):
    number: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{1,4}[0-9]{1,5}$",
        description="defaults to the window's current ticket",
    )
    to_category: str | None = Field(default=None, pattern=r"^[A-Za-z]{1,4}$")
    to_window: str | None = Field(default=None, max_length=16)
    reason: str = Field(default="", max_length=200)


class Pause(Strict):
    reason: str = Field(min_length=1, max_length=200)
    expected_back_at: AwareDatetime | None = None


class Empty(Strict):
    pass


class SearchQuery(Strict):
    q: str = Field(default="", max_length=100)
    department: str | None = Field(default=None, max_length=40)
    type: str | None = Field(default=None, max_length=20)
    life_event: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=20, ge=1, le=100)
    hall: str | None = Field(
        default=None, max_length=32, description="only matters this hall handles (hall code)"
    )


class HallFilter(Strict):
    hall: str | None = Field(
        default=None, max_length=32, description="only what this hall handles (hall code)"
    )


class EventsQuery(Strict):
    after: int = Field(default=0, ge=0)
    limit: int = Field(default=500, ge=1, le=2000)
    wait: float = Field(default=0, ge=0, le=60, description="long-poll seconds when nothing is new")


class ApplicantIn(Strict):
    kind: Literal["person", "organisation"]
    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=15, max_length=24, description="身份证号 or 统一社会信用代码")
    phone: str = Field(min_length=7, max_length=20)


class RegisterCase(Strict):
    hall: str = Field(max_length=32)
    matter_code: str = Field(max_length=40)
    applicant: ApplicantIn
    ticket_id: int | None = None
    window: str | None = Field(default=None, max_length=16)
    joint_departments: list[str] = Field(default_factory=list, max_length=20)
    not_accepted_reason: str | None = Field(default=None, max_length=2000)


class CaseTransition(Strict):
    action: Literal[
        "undertake", "review", "return", "approve", "complete", "deliver", "deny", "withdraw"
    ]
    note: str = Field(default="", max_length=2000)
    collected_by: str = Field(default="", max_length=100)


class Suspend(Strict):
    kind: str = Field(max_length=16, description="补正 / 踏勘 / 专家论证 / 听证 / 检验检测 …")
    reason: str = Field(min_length=1, max_length=2000)


class Resume(Strict):
    note: str = Field(default="", max_length=2000)


class RecordFee(Strict):
    amount: str = Field(
        min_length=1, max_length=14, description="实收金额，元，最多两位小数 / yuan, e.g. 80.00"
    )
    note: str = Field(default="", max_length=200, description="缴款书号等 / receipt number etc.")


class Forward(Strict):
    department: str = Field(max_length=40)
    window: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", max_length=2000)


class JointDecision(Strict):
    department: str = Field(max_length=40)
    approve: bool
    note: str = Field(default="", max_length=2000)


class Disclosure(Strict):
    public: bool


class PublicCaseLookup(Strict):
    receipt_number: str = Field(min_length=8, max_length=24)
    phone_last4: str = Field(pattern=r"^[0-9]{4}$")


class SubmitRating(Strict):
    rating_id: str = Field(pattern=ID_TEXT, description="client idempotency id")
    level: int = Field(ge=1, le=5, description="5 非常满意 … 1 非常不满意")
    ticket_id: int | None = None
    receipt_number: str | None = Field(default=None, max_length=24)
    window: str | None = Field(default=None, max_length=16)
    channel: Literal["evaluator", "kiosk", "phone", "web"] = "evaluator"
    reasons: list[str] = Field(default_factory=list, max_length=10)
    note: str = Field(default="", max_length=500)
    dimensions: dict[str, int] = Field(default_factory=dict, max_length=10)
    rated_at: AwareDatetime | None = None
    request_id: str | None = Field(
        default=None,
        pattern=ID_TEXT,
        description="the rate-now invitation answered: the rating must be given before it"
        " expires and arrive within the offline grace (docs/hub.md)",
    )


class VoidRating(Strict):
    reason: str = Field(min_length=4, max_length=2000)


class CallbackNote(Strict):
    note: str = Field(min_length=1, max_length=2000)


class Outcome(Strict):
    outcome: str = Field(min_length=1, max_length=2000)


class FollowUp(Strict):
    level: int = Field(ge=1, le=5)


class SignIn(Strict):
    employee_no: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=200)
    hall: str | None = Field(default=None, max_length=32)
    window: str | None = Field(default=None, max_length=16)


class DeviceReport(Strict):
    device_type: Literal[
        "kiosk", "window_display", "hall_display", "evaluator", "announcer", "led", "hub"
    ]
    online: bool
    last_seen: AwareDatetime | None = None
    app_version: str = Field(default="", max_length=32)
    config_version: str = Field(default="", max_length=32)
    window: str | None = Field(default=None, max_length=16)
    health: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=20)


class RectificationQuery(Strict):
    state: Literal["open", "called_back", "rectified", "closed", "voided"] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


def utc(value: datetime | None, default: datetime) -> datetime:
    return value if value is not None else default


_ACTION_ID = r"^[A-Za-z0-9_.:\-]{8,64}$"


class WindowActionBody(Strict):
    """A window action from the hall hub: a caller key box while online
    (`offline` false), or the replay of an act the hub made offline."""

    action_id: str = Field(pattern=_ACTION_ID, description="幂等键 / idempotency key")
    window: str = Field(min_length=1, max_length=16)
    action: WindowActionKind
    ticket: str | None = Field(default=None, pattern=r"^[A-Za-z]{1,4}[0-9]{1,5}$")
    target_window: str | None = Field(default=None, min_length=1, max_length=16)
    reason: str | None = Field(default=None, max_length=200)
    employee_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,32}$")
    at: AwareDatetime | None = Field(
        default=None, description="离线操作的原始时间 / the offline act's original time"
    )
    offline: bool = False
    rating_request_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-]{8,64}$",
        description="离线发出的评价邀请编号 / the rating invitation the hub sent offline",
    )

    @model_validator(mode="after")
    def _offline_needs(self) -> WindowActionBody:
        if self.offline and self.at is None:
            raise ValueError("an offline action needs its original time `at`")
        if self.offline and self.action == "call" and self.ticket is None:
            raise ValueError("an offline call names its ticket")
        if self.action == "transfer" and self.target_window is None:
            raise ValueError("a transfer needs target_window")
        return self


class HubState(Strict):
    mode: HubMode
    console_url: str | None = Field(default=None, max_length=300, pattern=r"^https?://\S+$")
    pending: int = Field(default=0, ge=0, le=10_000_000)
