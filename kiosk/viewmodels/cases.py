"""Case lookup and rating a finished case: receipt number + last four phone digits."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from hallbus.errors import ErrorCode
from hallbus.messages import CaseStatus, RatingAccepted
from kiosk.gateway import error_code
from kiosk.identity import RECEIPT_LENGTH, dots, phone_last4_valid, receipt_from_scan, receipt_valid
from kiosk.viewmodels.session import Screen, Session

Field = Literal["receipt", "phone"]

# Statuses after which nothing more happens to the case (backend CaseStatus values).
FINISHED = {"completed", "delivered", "not_accepted", "denied"}
# The same five levels and 差评 reasons as the evaluator (demo seed bad_rating_reasons).
LEVELS = (5, 4, 3, 2, 1)
BAD_LEVELS = {1, 2}
BAD_REASONS = (
    "服务态度差",
    "办事效率低",
    "一次告知不到位",
    "多次跑动",
    "超时办理",
    "窗口无人",
    "其他",
)
SUPPLEMENT_WORDS = ("补正", "补齐", "补充材料")


class ReceiptEntry:
    """The digit keypad's two fields. Phone digits are kept but only ever shown as dots."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.receipt = ""
        self.phone = ""
        self.field: Field = "receipt"
        self.error_key: str | None = None

    def focus(self, field: Field) -> None:
        self.field = field

    def press(self, key: str) -> None:
        self.error_key = None
        if self.field == "receipt":
            if key == "backspace":
                self.receipt = self.receipt[:-1]
            elif key == "clear":
                self.receipt = ""
            elif key.isdigit() and len(self.receipt) < RECEIPT_LENGTH:
                self.receipt += key
                if len(self.receipt) == RECEIPT_LENGTH:
                    self.field = "phone"
        else:
            if key == "backspace":
                if not self.phone:
                    self.field = "receipt"
                self.phone = self.phone[:-1]
            elif key == "clear":
                self.phone = ""
            elif key.isdigit() and len(self.phone) < 4:
                self.phone += key

    def scanned(self, code: str) -> bool:
        receipt = receipt_from_scan(code)
        if receipt is None:
            return False
        self.receipt, self.field, self.error_key = receipt, "phone", None
        return True

    def validate(self) -> bool:
        if not receipt_valid(self.receipt):
            self.error_key, self.field = "case.invalid_receipt", "receipt"
            return False
        if not phone_last4_valid(self.phone):
            self.error_key, self.field = "case.invalid_phone", "phone"
            return False
        return True

    def render(self, prefix: str, session: Session) -> dict[str, Any]:
        # The receipt number is the visitor's own, printed on their notice; shown in groups
        # so it is easy to compare. The phone digits never appear.
        grouped = " ".join(self.receipt[i : i + 4] for i in range(0, len(self.receipt), 4))
        return {
            f"{prefix}_receipt": grouped,
            f"{prefix}_phone": dots(len(self.phone)),
            f"{prefix}_field": self.field,
            f"{prefix}_error": session.t(self.error_key) if self.error_key else "",
        }


def next_step_key(status: CaseStatus) -> str:
    if status.supplement is not None:
        return "case.next.supplement"
    # A hub that fills next_action also fills supplement, so only an older hub's
    # answer leaves the kiosk guessing from the status and step names.
    if status.next_action is None:
        last_step = status.steps[-1].name if status.steps else ""
        if any(word in last_step or word in status.status_name for word in SUPPLEMENT_WORDS):
            return "case.next.supplement"
    return {
        "completed": "case.next.collect",
        "approved": "case.next.collect",
        "delivered": "case.next.delivered",
        "not_accepted": "case.next.refused",
        "denied": "case.next.refused",
        "withdrawn": "case.next.withdrawn",
    }.get(status.status, "case.next.waiting")


def next_step_text(status: CaseStatus, t: Any) -> str:
    text = str(t(next_step_key(status)))
    if status.supplement:
        # The items asked for, as the case's supplement notice names them.
        text += "：" + "、".join(status.supplement)
    return text


class CaseFlow:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.entry = ReceiptEntry()
        self.status: CaseStatus | None = None

    def reset(self) -> None:
        self.entry.reset()
        self.status = None

    def open(self) -> None:
        self.reset()
        self.session.go(Screen.CASE)

    def submit(self) -> None:
        session = self.session
        if not self.entry.validate():
            return
        receipt, phone = self.entry.receipt, self.entry.phone

        def done(status: CaseStatus) -> None:
            self.status = status
            session.go(Screen.CASE_RESULT)

        def failed(error: BaseException) -> None:
            session.alert_key = session.alert_for(error, not_found_key="case.not_found")

        session.run(
            "case.working", lambda: session.gateway.case_lookup(receipt, phone), done, failed
        )

    def render(self) -> dict[str, Any]:
        session = self.session
        t = session.t
        values = self.entry.render("case", session)
        status = self.status
        if status is None:
            values.update(
                case_matter="",
                case_status="",
                case_facts=[],
                case_timeline=[],
                case_next="",
                case_overdue="",
                case_can_rate=False,
            )
            return values
        facts = []
        if status.accepted_at is not None:
            facts.append(
                {
                    "label": t("case.accepted_at"),
                    "value": session.local(status.accepted_at).strftime("%Y-%m-%d %H:%M"),
                }
            )
        if status.promised_by is not None:
            promised = session.local(status.promised_by).strftime("%Y-%m-%d")
            if status.promised_provisional:
                promised = f"{promised} {t('case.promised_provisional')}"
            facts.append({"label": t("case.promised_by"), "value": promised})
        overdue = (
            status.promised_by is not None
            and status.status not in FINISHED | {"withdrawn"}
            and status.promised_by < session.now()
        )
        values.update(
            case_matter=status.matter_name,
            case_status=status.status_name,
            case_facts=facts,
            case_timeline=[
                {
                    "title": step.name,
                    "detail": session.local(step.at).strftime("%m-%d %H:%M"),
                    "last": index == len(status.steps) - 1,
                }
                for index, step in enumerate(status.steps)
            ],
            case_next=next_step_text(status, t),
            case_overdue=t("case.overdue") if overdue else "",
            case_can_rate=status.status in FINISHED,
        )
        return values


class RatingFlow:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.entry = ReceiptEntry()
        self.reset()

    def reset(self) -> None:
        self.entry.reset()
        self.step: Literal["find", "level", "reasons"] = "find"
        self.case: CaseStatus | None = None
        self.level: int | None = None
        self.reasons: list[str] = []
        self.rating_id = uuid.uuid4().hex
        self.accepted: RatingAccepted | None = None

    def open(self) -> None:
        self.reset()
        self.session.go(Screen.RATING)

    def open_for_case(self, status: CaseStatus) -> None:
        """From a case lookup result: the visitor already proved the receipt + phone pair."""
        self.reset()
        self.case = status
        self.entry.receipt = status.receipt_number
        self.step = "level"
        self.session.go(Screen.RATING)

    def find(self) -> None:
        session = self.session
        if not self.entry.validate():
            return
        receipt, phone = self.entry.receipt, self.entry.phone

        def done(status: CaseStatus) -> None:
            if status.status not in FINISHED:
                session.alert_key = "rate.not_finished"
                return
            self.case = status
            self.step = "level"

        def failed(error: BaseException) -> None:
            session.alert_key = session.alert_for(error, not_found_key="case.not_found")

        session.run(
            "case.working", lambda: session.gateway.case_lookup(receipt, phone), done, failed
        )

    def choose_level(self, level: int) -> None:
        if level not in LEVELS or self.case is None:
            return
        self.level = level
        if level in BAD_LEVELS:
            self.step = "reasons"
        else:
            self.reasons = []
            self.submit()

    def toggle_reason(self, reason: str) -> None:
        if reason not in BAD_REASONS:
            return
        if reason in self.reasons:
            self.reasons.remove(reason)
        else:
            self.reasons.append(reason)

    def submit(self) -> None:
        session = self.session
        case, level = self.case, self.level
        if case is None or level is None:
            return
        if level in BAD_LEVELS and not self.reasons:
            session.alert_key = "rate.need_reason"
            return
        reasons = list(self.reasons)
        rating_id = self.rating_id  # the same id on a retry: the hub stores it once

        def work() -> RatingAccepted:
            return session.gateway.submit_rating(
                rating_id=rating_id, case_receipt=case.receipt_number, level=level, reasons=reasons
            )

        def done(accepted: RatingAccepted) -> None:
            self.accepted = accepted
            session.go(Screen.RATING_DONE)

        def failed(error: BaseException) -> None:
            if error_code(error) is ErrorCode.NOT_FOUND:
                session.alert_key = "case.not_found"
            else:
                session.alert_key = session.alert_for(error)

        session.run("rate.working", work, done, failed)

    def render(self) -> dict[str, Any]:
        session = self.session
        t = session.t
        values = self.entry.render("rating", session)
        if self.accepted is None:
            thanks = ""
        elif self.accepted.duplicate:
            thanks = t("rate.duplicate")
        elif self.level in BAD_LEVELS:
            thanks = t("rate.thanks.bad")
        else:
            thanks = t("rate.thanks")
        values.update(
            rating_step=self.step,
            rating_matter=self.case.matter_name if self.case else "",
            rating_levels=[
                {
                    "key": str(level),
                    "title": t(f"rate.level.{level}"),
                    "stars": level,
                    "selected": level == self.level,
                }
                for level in LEVELS
            ],
            rating_reasons=[
                {"key": reason, "title": t(f"reason.{reason}"), "selected": reason in self.reasons}
                for reason in BAD_REASONS
            ],
            rating_thanks=thanks,
        )
        return values
