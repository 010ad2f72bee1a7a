"""Payload models of the hall protocol (schema version 1).

Every JSON payload is one of these pydantic models. Unknown fields are rejected
(extra="forbid") so a typo in a device or a newer sender is caught at the edge
instead of being silently ignored; `v` is the schema version (see the
versioning policy in docs/protocol.md). Availability is deliberately not JSON:
it is the plain string `online` / `offline` (see AVAILABILITY_*).

Fields added to a v1 payload after its first release are declared with
`added_field()`: they are left out of the JSON while they hold their default, so
a sender that does not use the new feature still sends exactly what a receiver
built before the addition accepts (the compatibility rule of docs/protocol.md).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal, TypeAlias

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hallbus.errors import RETRYABLE, ErrorCode
from hallbus.topics import Component, RequestKind

SCHEMA_VERSION: Final = 1
AVAILABILITY_ONLINE: Final = b"online"
AVAILABILITY_OFFLINE: Final = b"offline"

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2000)]
CorrelationId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
TicketNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,2}[0-9]{3,4}$")]
CategoryPrefix = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,2}$")]
WindowNumber = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{1,8}$")]
DeviceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")]
Stars = Annotated[int, Field(ge=1, le=5)]
Seq = Annotated[int, Field(ge=0)]
Floor = Annotated[int, Field(ge=-5, le=99)]
IdLookupHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# A mainland mobile number for the 到号提醒 SMS (docs/sms.md): relayed to the backend,
# which keeps it sealed; never logged and never in a reply.
MobileNumber = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]


def _is_none(value: object) -> bool:
    return value is None


def _is_empty_list(value: object) -> bool:
    return value == []


def added_field(default: Any = None, **constraints: Any) -> Any:
    """A field added to a v1 payload after its release: omitted from the JSON while unset.

    Receivers built before the addition reject unknown keys, so the key may only
    appear when the sender actually uses the new feature (see docs/protocol.md §9).
    """
    if default == []:
        return Field(default_factory=list, exclude_if=_is_empty_list, **constraints)
    if default is not None:
        raise ValueError("added fields default to None or an empty list")
    # Only None is "unset": an optional list that is set but empty still means something.
    return Field(default=None, exclude_if=_is_none, **constraints)


class ContractModel(BaseModel):
    """Base of every payload: strict about unknown fields, immutable once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Aliased because payloads have fields named `type`, which would shadow the
# builtin when pydantic evaluates annotations inside those classes.
ReplyModel: TypeAlias = type[ContractModel]


class VersionedModel(ContractModel):
    v: Literal[1] = SCHEMA_VERSION


# --------------------------------------------------------------------------- requests


class RequestBody(ContractModel):
    """Body of a request; KIND names its topic segment and REPLY the success body."""

    KIND: ClassVar[RequestKind]
    REPLY: ClassVar[ReplyModel]


class TicketIssued(ContractModel):
    ticket_id: ShortText
    number: TicketNumber
    category: CategoryPrefix
    category_name: ShortText
    ahead: Annotated[int, Field(ge=0)]
    estimated_wait_minutes: Annotated[int, Field(ge=0)]
    issued_at: AwareDatetime
    window_area: ShortText
    floor: Annotated[int, Field(ge=-5, le=99)]
    follow_url: ShortText | None = None
    # True when the hub issued the ticket from its reserved block because the
    # backend was unreachable; the kiosk prints a note and the hub syncs later.
    degraded: bool = False


AppointmentCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{4,16}$")]


class TakeTicket(RequestBody):
    """A queue ticket (by category or matter) or an appointment check-in.

    Check-in: no category and no matter, but the `appointment_code` the person
    typed and/or the `id_lookup_hash` of the ID card they placed on the reader.
    """

    KIND: ClassVar[RequestKind] = RequestKind.TAKE_TICKET
    REPLY: ClassVar[ReplyModel] = TicketIssued

    category: CategoryPrefix | None = None
    matter_code: ShortText | None = None
    channel: Literal["kiosk"] = "kiosk"
    priority_kind: Literal["elderly", "disabled", "military", "pregnant"] | None = None
    appointment_code: AppointmentCode | None = None
    # HMAC-SHA256 (hall key) of the normalised ID card number, the value the backend
    # stores as the lookup hash; the number itself never travels (hallbus.idlookup).
    id_lookup_hash: IdLookupHash | None = None
    # Optional: text this number when the turn is near (a check-in uses the booking's).
    notify_phone: MobileNumber | None = added_field()

    @model_validator(mode="after")
    def _one_target(self) -> TakeTicket:
        if self.category is not None and self.matter_code is not None:
            raise ValueError("give category or matter_code, not both")
        queue = self.category is not None or self.matter_code is not None
        if queue and self.appointment_code is not None:
            raise ValueError("an appointment check-in names no category or matter_code")
        if not queue and self.appointment_code is None and self.id_lookup_hash is None:
            raise ValueError(
                "give category or matter_code, or appointment_code / id_lookup_hash to check in"
            )
        if not queue and self.notify_phone is not None:
            raise ValueError("a check-in takes the booking's number, not notify_phone")
        return self

    @property
    def is_check_in(self) -> bool:
        return self.category is None and self.matter_code is None


class CatalogItem(ContractModel):
    matter_code: ShortText
    name: ShortText
    department: ShortText
    type: ShortText
    promised_days: Annotated[int, Field(ge=0)] | None = None
    category: CategoryPrefix | None = None
    window_area: ShortText | None = None
    floor: int | None = None
    # 别名: old names and everyday words, so an offline kiosk's search finds
    # the matter by them as the backend's does.
    aliases: list[ShortText] = Field(default_factory=list, max_length=20)


class CatalogResults(ContractModel):
    items: list[CatalogItem]
    total: Annotated[int, Field(ge=0)]


class CatalogSearch(RequestBody):
    KIND: ClassVar[RequestKind] = RequestKind.CATALOG_SEARCH
    REPLY: ClassVar[ReplyModel] = CatalogResults

    query: Annotated[str, StringConstraints(max_length=100)] = ""
    department: ShortText | None = None
    type: ShortText | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    # Only matters of this life event (生活事件, one of KioskState.life_events).
    life_event: Annotated[str | None, StringConstraints(min_length=1, max_length=40)] = (
        added_field()
    )


class MaterialEntry(ContractModel):
    name: ShortText
    form: Literal["原件", "复印件", "原件及复印件"] = "原件"
    count: Annotated[int, Field(ge=1, le=99)] = 1
    electronic_allowed: bool = False
    note: LongText = ""


class MatterDetail(ContractModel):
    """The guide (办事指南) of one matter: what to bring, where to go."""

    matter_code: ShortText
    name: ShortText
    department: ShortText  # code, the value CatalogSearch.department filters by
    department_name: ShortText
    type: ShortText
    promised_days: Annotated[int, Field(ge=0)]
    statutory_days: Annotated[int, Field(ge=0)] | None = None
    materials: Annotated[list[MaterialEntry], Field(max_length=100)] = []
    conditions: Annotated[str, StringConstraints(max_length=4000)] = ""
    legal_basis: Annotated[str, StringConstraints(max_length=4000)] = ""
    fee: Annotated[str, StringConstraints(max_length=1000)] = "不收费"
    steps: Annotated[list[ShortText], Field(max_length=50)] = []
    online: bool = False
    category: CategoryPrefix | None = None
    windows: Annotated[list[WindowNumber], Field(max_length=100)] = []
    window_area: ShortText | None = None
    floor: Floor | None = None


class MatterDetailRequest(RequestBody):
    KIND: ClassVar[RequestKind] = RequestKind.MATTER_DETAIL
    REPLY: ClassVar[ReplyModel] = MatterDetail

    matter_code: ShortText


class CaseStep(ContractModel):
    name: ShortText
    at: AwareDatetime


class CaseStatus(ContractModel):
    receipt_number: ShortText
    matter_name: ShortText
    status: ShortText
    status_name: ShortText
    accepted_at: AwareDatetime | None = None
    promised_by: AwareDatetime | None = None
    steps: list[CaseStep] = []
    # What the applicant has to do or wait for next, in the backend's words
    # ("请补正材料：…", "已办结，请凭受理单到窗口领取结果").
    next_action: LongText | None = added_field()
    # Set (possibly empty) while the case waits for supplementary materials: the
    # items asked for; empty when the notice handed over at the window lists them.
    supplement: Annotated[list[ShortText], Field(max_length=50)] | None = added_field()
    # True while `promised_by` is counted on a year whose holiday notice is not
    # entered yet (weekends only): the date may still move, so it is shown as
    # provisional. Left out when the date is final.
    promised_provisional: bool | None = added_field()


class CaseLookup(RequestBody):
    KIND: ClassVar[RequestKind] = RequestKind.CASE_LOOKUP
    REPLY: ClassVar[ReplyModel] = CaseStatus

    receipt_number: ShortText
    phone_last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]


class RatingAccepted(ContractModel):
    rating_id: CorrelationId
    # True when this rating_id had been stored (or queued by the hub) before: a
    # retried submission.
    duplicate: bool = False
    # True when the hub kept the rating because the backend is away: the backend
    # has not judged it yet; its final outcome follows as a RatingOutcome command.
    queued: bool | None = added_field()


class SubmitRating(RequestBody):
    KIND: ClassVar[RequestKind] = RequestKind.SUBMIT_RATING
    REPLY: ClassVar[ReplyModel] = RatingAccepted

    rating_id: CorrelationId  # idempotency key chosen by the device
    ticket_number: TicketNumber | None = None
    ticket_id: ShortText | None = None
    case_receipt: ShortText | None = None
    # Required for tickets; optional for a case rated by its receipt (the kiosk does
    # not know where the case was handled, the backend does).
    window: WindowNumber | None = added_field()
    level: Stars
    reasons: Annotated[list[ShortText], Field(max_length=20)] = []
    note: LongText | None = None
    dimensions: dict[Annotated[str, StringConstraints(max_length=32)], Stars] = {}
    rated_at: AwareDatetime
    # Set when the rating answers a rate_now command.
    request_id: CorrelationId | None = None

    @model_validator(mode="after")
    def _rated_something(self) -> SubmitRating:
        if self.ticket_number is None and self.ticket_id is None and self.case_receipt is None:
            raise ValueError("give ticket_number, ticket_id or case_receipt")
        if self.window is None and self.case_receipt is None:
            raise ValueError("window is required unless case_receipt is given")
        return self


REQUEST_BODIES: Final[dict[RequestKind, type[RequestBody]]] = {
    body.KIND: body
    for body in (TakeTicket, CatalogSearch, CaseLookup, SubmitRating, MatterDetailRequest)
}


class RequestEnvelope(VersionedModel):
    """A request from a device. The reply goes to `reply_to`, tagged with `id`.

    Reply topic and correlation id live in the payload (not only in MQTT 5
    properties) because LED controllers, button boxes and the embedded broker
    speak MQTT 3.1.1 only.
    """

    id: CorrelationId
    reply_to: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    deadline: Annotated[int, Field(gt=0)]  # unix time in milliseconds
    device: DeviceId
    kind: RequestKind
    body: dict[str, Any]

    def typed_body(self) -> RequestBody:
        """Validate `body` against the model for `kind` (raises pydantic.ValidationError)."""
        return REQUEST_BODIES[self.kind].model_validate(self.body)


class Response(VersionedModel):
    id: CorrelationId
    ok: Literal[True] = True
    body: dict[str, Any]


class ErrorDetail(ContractModel):
    code: ErrorCode
    message: LongText
    retry: bool


class ErrorReply(VersionedModel):
    # None only when the request was too broken to read its id (bad_json etc.).
    id: CorrelationId | None
    ok: Literal[False] = False
    error: ErrorDetail

    @classmethod
    def for_code(cls, request_id: str | None, code: ErrorCode, message: str) -> ErrorReply:
        return cls(
            id=request_id, error=ErrorDetail(code=code, message=message, retry=RETRYABLE[code])
        )


# ----------------------------------------------------------------- state and commands


class StaffCard(ContractModel):
    """The clerk at a window; shown in full on that window's own display."""

    name: ShortText
    employee_no: ShortText
    photo_url: ShortText | None = None
    stars: Annotated[float, Field(ge=0, le=5)] | None = None


# Who decides the queue when it is not the backend (hub.window_desk.HallMode).
HallModeMark = Literal["offline", "replaying"]


class WindowDisplayState(VersionedModel):
    seq: Seq
    window: WindowNumber
    department_name: ShortText
    staff: StaffCard | None = None
    state: Literal["open", "paused", "resting", "closed"]
    pause_reason: ShortText | None = None
    expected_back: AwareDatetime | None = None
    current_ticket: TicketNumber | None = None
    called_at: AwareDatetime | None = None
    # Set while the hall hub decides the queue alone (the backend is away, or the hub
    # is still replaying what it did meanwhile): the display shows a small mark.
    # Absent: online, the backend decides.
    hall_mode: HallModeMark | None = added_field()


def serves_floor(device_floor: int | None, call_floor: int | None) -> bool:
    """Whether a display or announcer configured for `device_floor` shows or speaks
    something on `call_floor`: a hall-wide device (None) serves every floor; a floor's
    device serves its own floor, and what names no floor (a window the backend
    knows no floor of), so nothing goes unannounced everywhere."""
    return device_floor is None or call_floor is None or call_floor == device_floor


class RecentCall(ContractModel):
    ticket: TicketNumber
    window: WindowNumber
    called_at: AwareDatetime
    recall_count: Annotated[int, Field(ge=0, le=5)] = 0
    # The window's floor: a hall display configured for a floor lists its floor's calls.
    floor: Floor | None = added_field()


class CategoryWaiting(ContractModel):
    prefix: CategoryPrefix
    name: ShortText
    waiting: Annotated[int, Field(ge=0)]
    estimated_wait_minutes: Annotated[int, Field(ge=0)]
    # The floor of the category's windows (a floor's hall display lists its own).
    floor: Floor | None = added_field()


class HallCallList(VersionedModel):
    seq: Seq
    recent_calls: Annotated[list[RecentCall], Field(max_length=50)]
    waiting: Annotated[list[CategoryWaiting], Field(max_length=50)]
    # The hall's active notices (公告), in the order the admin pages set.
    notices: Annotated[list[LongText], Field(max_length=20)] = added_field([])
    # As WindowDisplayState.hall_mode: absent while the backend decides.
    hall_mode: HallModeMark | None = added_field()


class CallEvent(VersionedModel):
    seq: Seq
    ticket: TicketNumber
    window: WindowNumber
    floor: Floor | None = None  # the window's floor; None: the backend knows none
    # The window's floor by name ("二楼大厅"), for displays that say where to go.
    area: ShortText | None = added_field()
    repeat: Annotated[int, Field(ge=1, le=5)] = 2  # how many times to speak it
    recall: bool = False
    called_at: AwareDatetime


class RateNow(VersionedModel):
    request_id: CorrelationId  # echoed in SubmitRating.request_id
    window: WindowNumber
    ticket_number: TicketNumber | None = None
    case_receipt: ShortText | None = None
    matter_code: ShortText | None = None
    matter_name: ShortText | None = None
    staff_name: ShortText
    employee_no: ShortText
    expires_at: AwareDatetime


class RatingOutcome(VersionedModel):
    """On hall/<h>/evaluator/<id>/cmd/rating_outcome, hub -> the device that sent
    the rating: the backend's final word on a rating acknowledged `queued`."""

    rating_id: CorrelationId
    outcome: Literal["stored", "refused"]
    duplicate: bool = False  # stored before (the same rating_id reached it earlier)
    code: ErrorCode | None = None  # refused: the contract error code (e.g. conflict)
    reason: LongText | None = None  # refused: why, for staff (no personal data)

    @model_validator(mode="after")
    def _refusal_has_a_reason(self) -> RatingOutcome:
        if (self.outcome == "refused") != (self.code is not None):
            raise ValueError("a refused outcome, and only that, carries a code")
        return self


class CategoryInfo(ContractModel):
    prefix: CategoryPrefix
    name: ShortText
    enabled: bool = True


Scalar = str | int | float | bool


class ConfigPush(VersionedModel):
    """Run-time settings the hub pushes (retained) to one device."""

    seq: Seq
    hall_name: ShortText
    notice: LongText | None = None
    categories: list[CategoryInfo] = []
    # Device-type specific knobs, named in docs/protocol.md; unknown keys are ignored
    # by devices so the hub can roll a new knob out before every device knows it.
    settings: dict[Annotated[str, StringConstraints(max_length=64)], Scalar] = {}
    # The hall's IANA time zone ("Asia/Shanghai"): every time the device shows a
    # person is in it; instants on the wire stay UTC.
    timezone: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$")] | None
    ) = added_field()


# ------------------------------------------------------------------------ kiosk state


class KioskCategory(ContractModel):
    """One queue category as the kiosk offers it."""

    prefix: CategoryPrefix
    name: ShortText
    enabled: bool = True  # False while the category issues no tickets
    waiting: Annotated[int, Field(ge=0)] | None = None
    estimated_wait_minutes: Annotated[int, Field(ge=0)] | None = None
    # Green-channel tickets may be taken at the kiosk; None: the hub does not know
    # (the kiosk offers it and the backend refuses with `conflict` where it is not).
    priority_allowed: bool | None = None
    floor: Floor | None = None
    window_area: ShortText | None = None
    departments: Annotated[list[ShortText], Field(max_length=100)] = []  # department codes


class KioskDepartment(ContractModel):
    code: ShortText  # the value CatalogSearch.department filters by
    name: ShortText
    floor: Floor | None = None


class KioskState(VersionedModel):
    """Retained on hall/<h>/kiosk/<id>/state: what a kiosk shows before anyone asks."""

    seq: Seq
    categories: Annotated[list[KioskCategory], Field(max_length=50)]
    departments: Annotated[list[KioskDepartment], Field(max_length=100)] = []
    life_events: Annotated[list[ShortText], Field(max_length=100)] = []
    notices: Annotated[list[LongText], Field(max_length=20)] = []
    # True while the hub cannot reach the backend: it still issues tickets from its block.
    degraded: bool = False


# ---------------------------------------------------------------------- device health


class DeviceHealth(VersionedModel):
    """Retained on hall/<h>/<type>/<id>/health/<component>, device -> hub."""

    device: DeviceId  # must equal the topic's device id
    component: Component  # must equal the topic's last segment
    # paper_near_end / paper_out are printer states; `fault` is any other failure.
    state: Literal["ok", "paper_near_end", "paper_out", "fault", "offline", "unknown"]
    detail: LongText = ""  # for staff (the hub's health page, the backend), never visitors
    at: AwareDatetime


# ------------------------------------------------------------------------ device info


class DeviceInfo(VersionedModel):
    """Retained on hall/<h>/<type>/<id>/info, device -> hub, after every connect: what
    the device runs, for the device admin page (程序版本)."""

    device: DeviceId  # must equal the topic's device id
    app_version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
