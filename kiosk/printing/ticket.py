"""Queue ticket: what it says and how it is laid out on paper."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from escpos.escpos import Escpos

from kiosk.printing.escpos_text import (
    ALIGN_CENTER,
    ALIGN_LEFT,
    BOLD_OFF,
    BOLD_ON,
    NORMAL_SIZE,
    character_size,
    text_width,
)
from kiosk.printing.layout import TIME_FORMAT, PaperLayout
from kiosk.printing.privacy import contains_personal_identifier
from kiosk.printing.qr import print_qr
from kiosk.printing.settings import QrMode
from kiosk.printing.status import Language

logger = logging.getLogger(__name__)

# 4x4 font A is 48 x 96 dots: a four-character number spans half of 58 mm paper and is
# readable from across the waiting area. Larger sizes look blotchy on cheap print heads.
NUMBER_MAGNIFICATION = 4
# The hall name is printed double size when it fits on one line, else normal size (bold):
# a wrapped double-size name takes more paper than it is worth.
TITLE_MAGNIFICATION = 2

DEFAULT_FOOTER: dict[Language, tuple[str, ...]] = {
    "zh": ("请留意叫号，过号需重新取号", "本票仅限当日有效"),
    "en": (
        "Please listen for your number; a missed number needs a new ticket.",
        "Valid today only.",
    ),
}


@dataclass(frozen=True)
class TicketContent:
    """Everything printed on a queue ticket.

    There is deliberately no field for the visitor's name, ID or phone number: a ticket is
    anonymous. ``issued_at`` is printed as given, so pass the hall's local time.
    """

    hall_name: str
    number: str
    category_name: str
    ahead: int
    estimated_wait_minutes: int | None
    issued_at: datetime
    window_area: str
    follow_url: str
    footer_lines: tuple[str, ...] | None = None
    language: Language = "zh"

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise ValueError("ticket number is empty")
        if self.ahead < 0:
            raise ValueError("people ahead cannot be negative")
        if self.estimated_wait_minutes is not None and self.estimated_wait_minutes < 0:
            raise ValueError("estimated wait cannot be negative")
        if not self.follow_url.isascii():
            raise ValueError("follow_url must be ASCII (percent-encode it)")

    @property
    def footer(self) -> tuple[str, ...]:
        return DEFAULT_FOOTER[self.language] if self.footer_lines is None else self.footer_lines


@dataclass(frozen=True)
class TicketLabels:
    category: str
    ahead: str
    wait: str
    wait_unknown: str
    issued: str
    where: str
    scan: str


LABELS: dict[Language, TicketLabels] = {
    "zh": TicketLabels(
        category="业务类别：{}",
        ahead="您前面还有 {} 人",
        wait="预计等候约 {} 分钟",
        wait_unknown="预计等候时间：暂无法估算",
        issued="取号时间：{}",
        where="办理地点：{}",
        scan="扫码查看排队进度",
    ),
    "en": TicketLabels(
        category="Service: {}",
        ahead="People ahead of you: {}",
        wait="Estimated wait: about {} min",
        wait_unknown="Estimated wait: not available",
        issued="Issued: {}",
        where="Go to: {}",
        scan="Scan to follow your place in the queue",
    ),
}


def fitting_magnification(text: str, columns: int, largest: int) -> int:
    """The largest size up to ``largest`` at which ``text`` fits on one line (at least 1)."""
    width = max(text_width(text), 1)
    return max(1, min(largest, columns // width))


def render_ticket(
    printer: Escpos,
    content: TicketContent,
    qr_mode: QrMode,
    *,
    chars_per_line: int,
    paper_width_mm: int,
    cut: bool = True,
) -> None:
    """Send the complete ticket job to ``printer`` (any escpos printer, Dummy included)."""
    labels = LABELS[content.language]
    layout = PaperLayout.begin(printer, chars_per_line)

    title_size = fitting_magnification(content.hall_name, chars_per_line, TITLE_MAGNIFICATION)
    layout.raw(ALIGN_CENTER + BOLD_ON + character_size(title_size, title_size))
    layout.text(content.hall_name, columns=chars_per_line // title_size)
    layout.raw(NORMAL_SIZE + BOLD_OFF)
    layout.rule()

    number_size = fitting_magnification(content.number, chars_per_line, NUMBER_MAGNIFICATION)
    layout.raw(BOLD_ON + character_size(number_size, number_size))
    layout.text(content.number, columns=chars_per_line // number_size)
    layout.raw(NORMAL_SIZE + BOLD_OFF)
    layout.text(labels.category.format(content.category_name))
    layout.rule()

    layout.raw(ALIGN_LEFT)
    layout.text(labels.ahead.format(content.ahead))
    if content.estimated_wait_minutes is None:
        layout.text(labels.wait_unknown)
    else:
        layout.text(labels.wait.format(content.estimated_wait_minutes))
    layout.text(labels.issued.format(content.issued_at.strftime(TIME_FORMAT)))
    layout.text(labels.where.format(content.window_area))

    layout.raw(ALIGN_CENTER)
    if contains_personal_identifier(content.follow_url):
        # The URL cannot be masked without breaking it; the backend should use opaque tokens.
        logger.warning("follow URL looks like it contains a personal identifier")
    print_qr(printer, content.follow_url, qr_mode, paper_width_mm)
    layout.text(labels.scan)
    layout.rule()
    layout.end(content.footer, cut=cut)
