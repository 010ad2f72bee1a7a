"""Proposed additions to the hall protocol that the kiosk needs (not yet in docs/protocol.md).

They are written like the hallbus payload models (strict, frozen, ``v`` where the payload
stands alone) so the lead can move them into ``hallbus.messages`` unchanged. Only
``kiosk.gateway`` uses them; when they move, only that module's imports change.

1. ``hall/<h>/kiosk/<id>/state`` (retained, hub -> kiosk): :class:`KioskState`. The ACL
   already lets every device read its own ``state`` topic, so this needs no ACL change. It
   carries what the kiosk must show *before* a visitor confirms a ticket (waiting counts, wait
   estimates, which categories allow priority tickets) and the lists to browse the guide by.
2. ``req/matter_detail`` (kiosk -> hub): :class:`MatterDetailRequest` -> :class:`MatterDetail`
   (materials, conditions, fee, legal basis, steps, where to go). Needs a new RequestKind and
   an ACL write rule for kiosks.
3. ``hall/<h>/<type>/<id>/health`` (retained, device -> hub): :class:`DeviceHealth`. Needs a
   new Channel and an ACL write rule per device; the hub subscribes to ``hall/<h>/#`` already.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from hallbus.messages import (
    CategoryPrefix,
    ContractModel,
    LongText,
    Seq,
    ShortText,
    VersionedModel,
)

MATTER_DETAIL_KIND = "matter_detail"
HEALTH_CHANNEL = "health"


class KioskCategory(ContractModel):
    """One queue category as the kiosk offers it."""

    prefix: CategoryPrefix
    name: ShortText
    enabled: bool = True  # False outside issuing hours or when the daily cap is reached
    waiting: Annotated[int, Field(ge=0)] | None = None
    estimated_wait_minutes: Annotated[int, Field(ge=0)] | None = None
    priority_allowed: bool = False  # green-channel tickets may be taken at the kiosk
    floor: Annotated[int, Field(ge=-5, le=99)] | None = None
    window_area: ShortText | None = None
    # Department codes served by this category.
    departments: list[ShortText] = Field(default_factory=list)


class KioskDepartment(ContractModel):
    code: ShortText  # the value CatalogSearch.department filters by
    name: ShortText
    floor: Annotated[int, Field(ge=-5, le=99)] | None = None


class KioskState(VersionedModel):
    seq: Seq
    categories: list[KioskCategory]
    departments: list[KioskDepartment] = Field(default_factory=list)
    life_events: list[ShortText] = Field(default_factory=list)
    notices: list[LongText] = Field(default_factory=list)
    # True while the hub cannot reach the backend: it still issues tickets from its block.
    degraded: bool = False


class MatterDetailRequest(ContractModel):
    matter_code: ShortText


class MaterialEntry(ContractModel):
    name: ShortText
    form: Literal["原件", "复印件", "原件及复印件"] = "原件"
    count: Annotated[int, Field(ge=1, le=99)] = 1
    electronic_allowed: bool = False
    note: LongText = ""


class MatterDetail(ContractModel):
    matter_code: ShortText
    name: ShortText
    department: ShortText
    department_name: ShortText
    type: ShortText
    promised_days: Annotated[int, Field(ge=0)]
    statutory_days: Annotated[int, Field(ge=0)] | None = None
    materials: list[MaterialEntry] = Field(default_factory=list)
    conditions: LongText = ""
    legal_basis: Annotated[str, Field(max_length=4000)] = ""
    fee: Annotated[str, Field(max_length=1000)] = "不收费"
    steps: list[ShortText] = Field(default_factory=list)
    online: bool = False
    category: CategoryPrefix | None = None
    windows: list[ShortText] = Field(default_factory=list)
    window_area: ShortText | None = None
    floor: Annotated[int, Field(ge=-5, le=99)] | None = None


class DeviceHealth(VersionedModel):
    device: ShortText
    printer: Literal["ok", "paper_near_end", "paper_out", "offline", "unknown"]
    # For staff (the hub's dashboard), never shown to visitors.
    detail: LongText = ""
    at: AwareDatetime
