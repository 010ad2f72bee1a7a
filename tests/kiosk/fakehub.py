"""A small fake hub for kiosk tests, benchmarks and screenshots (the real hub is not used).

It answers the kiosk's requests from the demo hall's seed data (backend/seed/*.yaml), using
the backend's pinyin catalog search, and publishes the retained KioskState and ConfigPush.
It runs over any MessageBus: a RecordingBus (synchronous, for view-model tests) or a
hub-credentialed DeviceClient on a real broker. Requests are checked with the contract's own
decoder (hallbus.codec.decode_request), so a body the real hub would refuse is refused here
with the same error code.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from backend.catalog.search import CatalogIndex, SearchEntry
from hallbus.bus import IncomingMessage, MessageBus
from hallbus.codec import decode_request, encode
from hallbus.errors import ContractError, ErrorCode
from hallbus.idlookup import id_lookup_hash
from hallbus.messages import (
    CaseStatus,
    CaseStep,
    CatalogItem,
    CategoryInfo,
    ConfigPush,
    ErrorReply,
    KioskCategory,
    KioskDepartment,
    KioskState,
    MaterialEntry,
    MatterDetail,
    Response,
    TicketIssued,
)
from hallbus.topics import DeviceRef, DeviceType

SEED = Path(__file__).resolve().parents[2] / "backend" / "seed"
HALL_TZ = timezone(timedelta(hours=8))
HALL_NAME = "滨海新区(开发区)公共行政服务中心"
NOW = datetime(2026, 11, 26, 10, 5, tzinfo=HALL_TZ)
PHONE_LAST4 = "5678"
# The hall's ID lookup key in the tests (what `hall export-id-lookup-key` writes).
LOOKUP_KEY = bytes(range(32))
# A syntactically valid resident ID number (checksum correct), used only in tests: it has
# an appointment today, found by the hash of the card, as is the code below.
APPOINTMENT_ID_NUMBER = "11010519491231002X"
APPOINTMENT_CODE = "YY2026"


def damm_digit(digits: str) -> str:
    from hallbus.receipts import damm_check_digit

    return damm_check_digit(digits)


def _receipt(prefix16: str) -> str:
    return prefix16 + damm_digit(prefix16)


# Demo cases (receipt numbers carry a valid Damm check digit, like real ones).
RECEIPT_IN_PROGRESS = _receipt("2026112440938175")
RECEIPT_FINISHED = _receipt("2026112012345678")
RECEIPT_SUPPLEMENT = _receipt("2026112355555555")
RECEIPT_PROVISIONAL = _receipt("2026120766666666")  # due in 2027, counted on weekends only


@cache
def seed() -> tuple[dict[str, Any], dict[str, Any]]:
    hall = yaml.safe_load((SEED / "demo_hall.yaml").read_text(encoding="utf-8"))
    catalog = yaml.safe_load((SEED / "demo_catalog.yaml").read_text(encoding="utf-8"))
    return hall, catalog


@dataclass
class FakeHub:
    bus: MessageBus
    hall_id: str = "bh"
    hub_id: str = "hub-bh"
    degraded: bool = False
    # When tickets are stamped; the real hub sends UTC ("…Z").
    issued_at: datetime = NOW
    # Set to a code to make every request fail with it (e.g. backend_unavailable).
    fail_with: ErrorCode | None = None
    # When False the hub swallows requests (the kiosk times out).
    answering: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    ratings: dict[str, dict[str, Any]] = field(default_factory=dict)
    _numbers: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        hall, catalog = seed()
        self.departments = {d["code"]: d["name"] for d in hall["departments"]}
        self.categories = [c for c in hall["queue_categories"] if c["hall"] == "BH"]
        self.category_by_prefix = {c["prefix"]: c for c in self.categories}
        self.windows = [w for w in hall["windows"] if w["hall"] == "BH"]
        self.life_events: list[str] = hall["life_events"]
        self.notices = [f"{n['title']}：{n['body']}" for n in hall["notices"] if n["hall"] == "BH"]
        self.matters = {m["code"]: m for m in catalog["matters"]}
        entries = [
            SearchEntry(
                matter_id=index,
                code=m["code"],
                name=m["name"],
                department=m["department"],
                department_name=self.departments.get(m["department"], m["department"]),
                type=m["type"],
                keywords=tuple(m.get("keywords", ())),
                aliases=tuple(m.get("aliases", ())),
                life_events=tuple(m.get("life_events", ())),
            )
            for index, m in enumerate(catalog["matters"])
        ]
        self.index = CatalogIndex.build(entries)
        self.waiting = {
            c["prefix"]: (index * 3 + 2) % 11 for index, c in enumerate(self.categories)
        }
        self.appointment_hashes = {id_lookup_hash(APPOINTMENT_ID_NUMBER, LOOKUP_KEY)}

    # ------------------------------------------------------------------ wiring

    def start(self) -> None:
        self.bus.subscribe(f"hall/{self.hall_id}/kiosk/+/req/+", self._on_request)

    def kiosk(self, kiosk_id: str) -> DeviceRef:
        return DeviceRef(self.hall_id, DeviceType.KIOSK, kiosk_id)

    def publish_status(self, online: bool) -> None:
        topic = DeviceRef(self.hall_id, DeviceType.HUB, self.hub_id).status_topic()
        self.bus.publish(topic, b"online" if online else b"offline", retain=True)

    def publish_config(
        self, kiosk_id: str, *, idle_timeout_s: int = 90, timezone: str | None = None
    ) -> None:
        config = ConfigPush(
            seq=next(self._seq),
            hall_name=HALL_NAME,
            notice="今日下午14:00起二楼公安服务窗口暂停办理，敬请谅解",
            categories=[CategoryInfo(prefix=c["prefix"], name=c["name"]) for c in self.categories],
            settings={"idle_timeout_s": idle_timeout_s},
            timezone=timezone,
        )
        self.bus.publish(self.kiosk(kiosk_id).config_topic(), encode(config), retain=True)

    def kiosk_state(self) -> KioskState:
        categories = []
        for c in self.categories:
            waiting = self.waiting[c["prefix"]]
            floor = c["floor"]
            categories.append(
                KioskCategory(
                    prefix=c["prefix"],
                    name=c["name"],
                    enabled=c["prefix"] != "M",  # 公安服务 closed for the afternoon
                    waiting=waiting,
                    estimated_wait_minutes=waiting * 4,
                    priority_allowed=c.get("priority_allowed", False) and c["prefix"] != "Y",
                    floor=floor,
                    window_area=self._area(c["prefix"]),
                    departments=list(c["departments"]),
                )
            )
        used = {m["department"] for m in self.matters.values()}
        departments = [
            KioskDepartment(code=code, name=name)
            for code, name in self.departments.items()
            if code in used
        ]
        return KioskState(
            seq=next(self._seq),
            categories=categories,
            departments=departments,
            life_events=self.life_events,
            notices=self.notices[:2],
            degraded=self.degraded,
        )

    def publish_state(self, kiosk_id: str) -> None:
        self.bus.publish(
            self.kiosk(kiosk_id).state_topic(), encode(self.kiosk_state()), retain=True
        )

    def _area(self, prefix: str) -> str:
        numbers = [
            w["number"]
            for w in self.windows
            if any(cat["prefix"] == prefix for cat in w.get("categories", []))
        ]
        if not numbers:
            return "咨询台"
        return f"{numbers[0]}–{numbers[-1]}号窗口" if len(numbers) > 1 else f"{numbers[0]}号窗口"

    # ---------------------------------------------------------------- requests

    def _on_request(self, message: IncomingMessage) -> None:
        envelope = json.loads(message.payload)
        with self._lock:
            self.requests.append(envelope)
        if not self.answering:
            return
        kind, request_id = envelope["kind"], envelope["id"]
        if self.fail_with is not None:
            self._error(envelope, self.fail_with, "simulated failure")
            return
        try:
            _envelope, typed = decode_request(message.payload, message.topic.rsplit("/", 1)[-1])
        except ContractError as exc:
            self._error(envelope, exc.code, exc.message)
            return
        handler = getattr(self, f"_do_{kind}")
        result = handler(typed.model_dump(mode="json"))
        if isinstance(result, ErrorCode):
            self._error(envelope, result, "refused")
            return
        self.bus.publish(envelope["reply_to"], encode(Response(id=request_id, body=result)))

    def _error(self, envelope: dict[str, Any], code: ErrorCode, message: str) -> None:
        reply = ErrorReply.for_code(envelope["id"], code, message)
        self.bus.publish(envelope["reply_to"], encode(reply))

    def _item(self, matter: dict[str, Any]) -> CatalogItem:
        category = self.category_by_prefix.get(matter["queue_category"])
        return CatalogItem(
            matter_code=matter["code"],
            name=matter["name"],
            department=self.departments.get(matter["department"], matter["department"]),
            type=matter["type"],
            promised_days=matter["promised_days"],
            category=matter["queue_category"],
            window_area=self._area(matter["queue_category"]),
            floor=category["floor"] if category else None,
            aliases=list(matter.get("aliases", ())),
        )

    def _do_catalog_search(self, body: dict[str, Any]) -> dict[str, Any] | ErrorCode:
        hits = self.index.search(
            body.get("query", ""),
            department=body.get("department"),
            life_event=body.get("life_event"),
            limit=body.get("limit", 20),
        )
        items = [self._item(self.matters[hit.code]).model_dump(mode="json") for hit in hits]
        return {"items": items, "total": len(items)}

    def _do_matter_detail(self, body: dict[str, Any]) -> dict[str, Any] | ErrorCode:
        matter = self.matters.get(body["matter_code"])
        if matter is None:
            return ErrorCode.NOT_FOUND
        item = self._item(matter)
        detail = MatterDetail(
            matter_code=matter["code"],
            name=matter["name"],
            department=matter["department"],
            department_name=item.department,
            type=matter["type"],
            promised_days=matter["promised_days"],
            statutory_days=matter.get("statutory_days"),
            materials=[
                MaterialEntry(
                    name=m["name"],
                    form=m.get("form", "原件"),
                    count=m.get("count", 1),
                    electronic_allowed=m.get("electronic_allowed", False),
                    note=m.get("note", ""),
                )
                for m in matter.get("materials", [])
            ],
            conditions=matter.get("conditions", ""),
            legal_basis=matter.get("legal_basis", ""),
            fee=matter.get("fee", "不收费"),
            steps=list(matter.get("steps", [])),
            online=matter.get("online", False),
            category=matter["queue_category"],
            windows=list(matter.get("windows", [])),
            window_area=item.window_area,
            floor=item.floor,
        )
        return detail.model_dump(mode="json")

    def _do_take_ticket(self, body: dict[str, Any]) -> dict[str, Any] | ErrorCode:
        prefix = body.get("category")
        if body.get("matter_code"):
            matter = self.matters.get(body["matter_code"])
            if matter is None:
                return ErrorCode.NOT_FOUND
            prefix = matter["queue_category"]
        elif prefix is None:
            # Check-in: the appointment is found by its code or by the card's lookup hash.
            code, person = body.get("appointment_code"), body.get("id_lookup_hash")
            if code != APPOINTMENT_CODE and person not in self.appointment_hashes:
                return ErrorCode.NOT_FOUND
            prefix = "A"
        category = self.category_by_prefix.get(prefix or "")
        if category is None:
            return ErrorCode.NOT_FOUND
        if prefix == "M":
            return ErrorCode.CONFLICT
        with self._lock:
            counter = self._numbers.setdefault(prefix, itertools.count(1))
            number = next(counter)
        letter = "V" if body.get("priority_kind") else prefix
        ticket_number = f"{letter}{number:03d}"
        ticket_id = f"t-20261126-{ticket_number}"
        waiting = self.waiting[prefix]
        ticket = TicketIssued(
            ticket_id=ticket_id,
            number=ticket_number,
            category=prefix,
            category_name=category["name"],
            ahead=0 if body.get("priority_kind") else waiting,
            estimated_wait_minutes=2 if body.get("priority_kind") else waiting * 4,
            issued_at=self.issued_at,
            window_area=self._area(prefix),
            floor=category["floor"],
            follow_url=f"https://hall.example.gov.cn/q/{ticket_id}",
            degraded=self.degraded,
        )
        return ticket.model_dump(mode="json")

    def _case(self, receipt: str) -> CaseStatus | None:
        day = timedelta(days=1)
        accepted = datetime(2026, 11, 24, 9, 20, tzinfo=HALL_TZ)
        if receipt == RECEIPT_IN_PROGRESS:
            return CaseStatus(
                receipt_number=receipt,
                matter_name="企业设立登记（有限责任公司）",
                status="reviewing",
                status_name="审核中",
                accepted_at=accepted,
                promised_by=datetime(2026, 11, 27, 17, 0, tzinfo=HALL_TZ),
                steps=[
                    CaseStep(name="受理", at=accepted),
                    CaseStep(name="承办", at=accepted + day / 4),
                    CaseStep(name="审核", at=accepted + day),
                ],
            )
        if receipt == RECEIPT_FINISHED:
            start = datetime(2026, 11, 20, 10, 0, tzinfo=HALL_TZ)
            return CaseStatus(
                receipt_number=receipt,
                matter_name="个体工商户设立登记",
                status="completed",
                status_name="已办结",
                accepted_at=start,
                promised_by=start + 3 * day,
                steps=[
                    CaseStep(name="受理", at=start),
                    CaseStep(name="审核", at=start + day),
                    CaseStep(name="办结", at=start + 2 * day),
                ],
            )
        if receipt == RECEIPT_PROVISIONAL:
            start = datetime(2026, 12, 7, 10, 0, tzinfo=HALL_TZ)
            return CaseStatus(
                receipt_number=receipt,
                matter_name="建设工程规划许可",
                status="undertaking",
                status_name="承办中",
                accepted_at=start,
                promised_by=datetime(2027, 1, 4, 17, 0, tzinfo=HALL_TZ),
                steps=[CaseStep(name="受理", at=start)],
                promised_provisional=True,
            )
        if receipt == RECEIPT_SUPPLEMENT:
            start = datetime(2026, 11, 23, 14, 0, tzinfo=HALL_TZ)
            return CaseStatus(
                receipt_number=receipt,
                matter_name="食品经营许可",
                status="accepted",
                status_name="已受理",
                accepted_at=start,
                promised_by=start + 20 * day,
                steps=[
                    CaseStep(name="受理", at=start),
                    CaseStep(name="一次性告知补正", at=start + day),
                ],
                next_action="请补正材料：食品安全管理制度文本、从业人员健康证明",
                supplement=["食品安全管理制度文本", "从业人员健康证明"],
            )
        return None

    def _do_case_lookup(self, body: dict[str, Any]) -> dict[str, Any] | ErrorCode:
        case = self._case(body["receipt_number"])
        if case is None or body["phone_last4"] != PHONE_LAST4:
            return ErrorCode.NOT_FOUND
        return case.model_dump(mode="json")

    def _do_submit_rating(self, body: dict[str, Any]) -> dict[str, Any] | ErrorCode:
        if self._case(body.get("case_receipt") or "") is None:
            return ErrorCode.NOT_FOUND
        with self._lock:
            duplicate = body["rating_id"] in self.ratings
            self.ratings.setdefault(body["rating_id"], body)
        return {"rating_id": body["rating_id"], "duplicate": duplicate}
