"""Translation between the MQTT contract's bodies and the backend API's JSON.

Kept apart from the relay so the same rules apply to live requests and to the
outbox replay (a rating stored offline is sent exactly like a live one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hallbus.errors import ErrorCode
from hallbus.messages import (
    CaseStatus,
    CaseStep,
    CatalogItem,
    MaterialEntry,
    MatterDetail,
    SubmitRating,
    TicketIssued,
)
from hallbus.topics import DeviceType
from hub.backend import BackendClient, BackendRejected

# Backend error code -> contract error code. Anything not listed is `internal`.
_ERROR_CODES: Final[dict[str, ErrorCode]] = {
    "bad_input": ErrorCode.BAD_SCHEMA,
    "bad_request": ErrorCode.BAD_SCHEMA,
    "payload_too_large": ErrorCode.BAD_SCHEMA,
    "unsupported_media_type": ErrorCode.BAD_SCHEMA,
    "not_found": ErrorCode.NOT_FOUND,
    "conflict": ErrorCode.CONFLICT,
    "invalid_transition": ErrorCode.CONFLICT,
    "queue_unavailable": ErrorCode.CONFLICT,
    "rate_limited": ErrorCode.RATE_LIMITED,
}
# Printed on an offline ticket when the category's area was never seen online.
UNKNOWN_AREA: Final = "请留意大厅叫号屏"
# Contract ticket ids of tickets the backend issued: "t-<backend id>".
_BACKEND_TICKET_ID: Final = re.compile(r"^t-([0-9]{1,12})$")
# Kiosks show the promised date; the contract wants a time, the hall closes at 17:00.
PROMISED_TIME_OF_DAY: Final = time(17, 0)
# The backend's phone page of a ticket (backend/web/mobile.py: blueprint /m, route /t/<token>).
TICKET_PAGE_PATH: Final = "/m/t/"
# A case waiting for materials: its `suspended` kind (backend.workdays.SuspensionKind),
# how the backend's next_step text then starts (backend.services.cases.next_step_hint),
# and what separates the items after it.
_SUPPLEMENT_KIND: Final = "补正"
_SUPPLEMENT_PREFIX: Final = "请补正材料："
_SUPPLEMENT_SEPARATORS: Final = re.compile(r"[、；;，,\n]+")


def contract_error(error: BackendRejected) -> ErrorCode:
    return _ERROR_CODES.get(error.code, ErrorCode.INTERNAL)


_REJECTION_TEXT = re.compile(r"^HTTP (\d{3}) ([a-z_]+): (.*)$", re.DOTALL)


def rejection_from_text(text: str) -> BackendRejected:
    """A BackendRejected back from its str() (as kept in the dead letters)."""
    match = _REJECTION_TEXT.match(text)
    if match is None:
        return BackendRejected(409, "conflict", text)
    return BackendRejected(int(match.group(1)), match.group(2), match.group(3))


def permanent(error: BackendRejected) -> bool:
    """True when sending the same thing again cannot succeed (client errors, except 429)."""
    return 400 <= error.status < 500 and error.status != 429


@dataclass(frozen=True, slots=True)
class CategoryPlace:
    """Where a category's windows are; printed on tickets."""

    area: str
    floor: int


def format_ticket_number(prefix: str, number: int, digits: int) -> str:
    return f"{prefix}{number:0{digits}d}"


def follow_url(public_base_url: str, public_token: Any) -> str | None:
    """The phone page that follows a ticket (its QR code); None without a token."""
    if not isinstance(public_token, str) or not public_token:
        return None
    return public_base_url.rstrip("/") + TICKET_PAGE_PATH + quote(public_token, safe="")


def ticket_from_backend(
    data: dict[str, Any], *, public_base_url: str, degraded: bool = False
) -> TicketIssued:
    ahead = data.get("ahead") or 0
    return TicketIssued(
        ticket_id=f"t-{data['id']}",
        number=data["number"],
        category=data["category"],
        category_name=data.get("category_name") or data["category"],
        ahead=ahead,
        estimated_wait_minutes=data.get("estimated_wait_minutes") or 0,
        issued_at=data["issued_at"],
        window_area=data.get("area") or UNKNOWN_AREA,
        floor=int(data["floor"]) if data.get("floor") is not None else 1,
        follow_url=follow_url(public_base_url, data.get("public_token")),
        degraded=degraded,
    )


def offline_ticket(
    *,
    request_id: str,
    number: str,
    category: str,
    category_name: str,
    ahead: int,
    estimated_wait_minutes: int,
    issued_at: datetime,
    place: CategoryPlace | None,
) -> TicketIssued:
    return TicketIssued(
        ticket_id=f"t-offline-{request_id}",
        number=number,
        category=category,
        category_name=category_name,
        ahead=ahead,
        estimated_wait_minutes=estimated_wait_minutes,
        issued_at=issued_at,
        window_area=place.area if place and place.area else UNKNOWN_AREA,
        floor=place.floor if place else 1,
        follow_url=None,
        degraded=True,
    )


def catalog_item(matter: dict[str, Any]) -> CatalogItem:
    category = matter.get("queue_category")
    return CatalogItem(
        matter_code=matter["code"],
        name=matter["name"],
        department=matter.get("department_name") or matter.get("department") or "-",
        type=str(matter.get("type") or "-"),
        promised_days=matter.get("promised_days"),
        category=_category_prefix(category),
        aliases=[str(alias) for alias in matter.get("aliases") or []],
    )


def _category_prefix(value: Any) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(r"[A-Z]{1,2}", value) else None


def matter_detail(matter: dict[str, Any], place: CategoryPlace | None) -> MatterDetail:
    """GET /catalog/matters/<code> (the matter's current spec) -> MatterDetail."""
    category = _category_prefix(matter.get("queue_category"))
    return MatterDetail(
        matter_code=matter["code"],
        name=matter["name"],
        department=matter["department"],
        department_name=matter.get("department_name") or matter["department"],
        type=str(matter.get("type") or "-"),
        promised_days=int(matter.get("promised_days") or 0),
        statutory_days=matter.get("statutory_days"),
        materials=[
            MaterialEntry(
                name=item["name"],
                form=item.get("form") or "原件",
                count=item.get("count") or 1,
                electronic_allowed=bool(item.get("electronic_allowed")),
                note=item.get("note") or "",
            )
            for item in matter.get("materials") or []
        ],
        conditions=matter.get("conditions") or "",
        legal_basis=matter.get("legal_basis") or "",
        fee=matter.get("fee") or "不收费",
        steps=[str(step) for step in matter.get("steps") or []],
        online=bool(matter.get("online")),
        category=category,
        windows=[str(window) for window in matter.get("windows") or []],
        window_area=place.area if place and place.area else None,
        floor=place.floor if place else None,
    )


def supplement_items(view: dict[str, Any]) -> list[str] | None:
    """The materials a case waits for (None: it waits for none)."""
    if view.get("suspended") != _SUPPLEMENT_KIND:
        return None
    text = str(view.get("next_step") or "")
    if not text.startswith(_SUPPLEMENT_PREFIX):
        return []  # "请按告知补正材料": the written notice lists them
    items = _SUPPLEMENT_SEPARATORS.split(text[len(_SUPPLEMENT_PREFIX) :])
    return [item.strip()[:200] for item in items if item.strip()][:50]


def case_status(view: dict[str, Any], zone: ZoneInfo) -> CaseStatus:
    timeline = view.get("timeline") or []
    steps = [CaseStep(name=item["step"], at=item["at"]) for item in timeline if item.get("step")]
    due_on = view.get("due_on")
    promised_by = (
        datetime.combine(date.fromisoformat(due_on), PROMISED_TIME_OF_DAY, zone) if due_on else None
    )
    return CaseStatus(
        receipt_number=view["receipt_number"],
        matter_name=(view.get("matter") or {}).get("name") or "-",
        status=view["state"],
        status_name=view.get("step") or view["state"],
        accepted_at=steps[0].at if steps else None,
        promised_by=promised_by,
        steps=steps,
        next_action=str(view["next_step"])[:2000] if view.get("next_step") else None,
        supplement=supplement_items(view),
        # Only sent when true, so a kiosk from before the field sees no change.
        promised_provisional=True if promised_by and view.get("due_provisional") else None,
    )


def rating_channel(device_type: DeviceType) -> str:
    return "kiosk" if device_type is DeviceType.KIOSK else "evaluator"


def rating_body(
    rating: SubmitRating,
    device_type: DeviceType,
    backend: BackendClient,
    rate_request_ticket: Any,
) -> dict[str, Any]:
    """Backend body for a contract rating; resolves which ticket it rates.

    The backend identifies tickets by its own id: taken from the rate-now
    request the rating answers, from a `t-<id>` ticket id, or by looking the
    ticket number up (today's ticket). Raises BackendRejected(not_found) when
    nothing identifies a ticket or case.
    """
    body: dict[str, Any] = {
        "rating_id": rating.rating_id,
        "level": rating.level,
        "window": rating.window,  # None for a case rated by receipt: the backend knows it
        "channel": rating_channel(device_type),
        "reasons": list(rating.reasons),
        "note": rating.note or "",
        "dimensions": dict(rating.dimensions),
        "rated_at": rating.rated_at.isoformat(),
    }
    if rating.request_id is not None:
        # The backend checks the invitation's validity (docs/hub.md, offline grace).
        body["request_id"] = rating.request_id
    if rating.case_receipt is not None:
        body["receipt_number"] = rating.case_receipt
        return body
    ticket_id: int | None = None
    if rating.request_id is not None:
        ticket_id = rate_request_ticket(rating.request_id)
    if ticket_id is None and rating.ticket_id is not None:
        match = _BACKEND_TICKET_ID.match(rating.ticket_id)
        ticket_id = int(match.group(1)) if match else None
    if ticket_id is None and rating.ticket_number is not None:
        ticket_id = int(backend.ticket(rating.ticket_number).body["id"])
    if ticket_id is None:
        raise BackendRejected(404, "not_found", "the rating names no ticket the hub can find")
    body["ticket_id"] = ticket_id
    return body
