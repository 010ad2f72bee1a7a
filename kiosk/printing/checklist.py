"""Material checklist for one matter (办事事项): what to bring, how long, what it costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from escpos.escpos import Escpos

from kiosk.printing.escpos_text import ALIGN_CENTER, ALIGN_LEFT, NORMAL_SIZE, character_size
from kiosk.printing.layout import TIME_FORMAT, PaperLayout
from kiosk.printing.status import Language

TITLE_SIZE = character_size(2, 1)


@dataclass(frozen=True)
class MaterialItem:
    """One required material; counts are sheets/sets of 原件 (original) and 复印件 (copy)."""

    name: str
    original_count: int = 0
    copy_count: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        if self.original_count < 0 or self.copy_count < 0:
            raise ValueError(f"negative count for material {self.name!r}")


@dataclass(frozen=True)
class ChecklistContent:
    """``fee``: a Decimal amount in yuan, free text such as "按面积收取", or None for free.
    ``promised_days`` counts working days; 0 means settled on the spot (即办件)."""

    hall_name: str
    matter_name: str
    materials: tuple[MaterialItem, ...]
    promised_days: int | None
    fee: Decimal | str | None
    window_area: str
    printed_at: datetime
    footer_lines: tuple[str, ...] | None = None
    language: Language = "zh"

    def __post_init__(self) -> None:
        if self.promised_days is not None and self.promised_days < 0:
            raise ValueError("promised days cannot be negative")

    @property
    def footer(self) -> tuple[str, ...]:
        return DEFAULT_FOOTER[self.language] if self.footer_lines is None else self.footer_lines


DEFAULT_FOOTER: dict[Language, tuple[str, ...]] = {
    "zh": ("材料以窗口审核为准",),
    "en": ("The window staff decide whether the materials are complete.",),
}


@dataclass(frozen=True)
class ChecklistLabels:
    title: str
    matter: str
    materials: str
    original: str
    copy: str
    no_paper: str
    count_separator: str
    promised: str
    on_the_spot: str
    fee: str
    fee_amount: str
    free: str
    where: str
    printed: str


LABELS: dict[Language, ChecklistLabels] = {
    "zh": ChecklistLabels(
        title="办事材料清单",
        matter="事项：{}",
        materials="所需材料：",
        original="原件 {} 份",
        copy="复印件 {} 份",
        no_paper="无需纸质材料",
        count_separator="，",
        promised="承诺时限：{} 个工作日",
        on_the_spot="承诺时限：即办（当场办结）",
        fee="收费标准：{}",
        fee_amount="{} 元",
        free="不收费",
        where="办理地点：{}",
        printed="打印时间：{}",
    ),
    "en": ChecklistLabels(
        title="Materials checklist",
        matter="Matter: {}",
        materials="Bring:",
        original="original x{}",
        copy="copy x{}",
        no_paper="no paper needed",
        count_separator=", ",
        promised="Completed within {} working days",
        on_the_spot="Completed on the spot",
        fee="Fee: {}",
        fee_amount="{} yuan",
        free="free of charge",
        where="Where: {}",
        printed="Printed: {}",
    ),
}

ITEM_INDENT = "   "


def describe_counts(item: MaterialItem, labels: ChecklistLabels) -> str:
    parts = []
    if item.original_count:
        parts.append(labels.original.format(item.original_count))
    if item.copy_count:
        parts.append(labels.copy.format(item.copy_count))
    return labels.count_separator.join(parts) if parts else labels.no_paper


def describe_fee(fee: Decimal | str | None, labels: ChecklistLabels) -> str:
    if fee is None or (isinstance(fee, Decimal) and fee == 0):
        return labels.free
    if isinstance(fee, Decimal):
        return labels.fee_amount.format(f"{fee:.2f}")
    return fee


def render_checklist(
    printer: Escpos,
    content: ChecklistContent,
    *,
    chars_per_line: int,
    cut: bool = True,
) -> None:
    """Send the complete checklist job to ``printer``."""
    labels = LABELS[content.language]
    layout = PaperLayout.begin(printer, chars_per_line)

    layout.raw(ALIGN_CENTER + TITLE_SIZE)
    layout.text(labels.title, columns=chars_per_line // 2)
    layout.raw(NORMAL_SIZE)
    layout.text(content.hall_name)
    layout.rule()

    layout.raw(ALIGN_LEFT)
    layout.text(labels.matter.format(content.matter_name), indent=ITEM_INDENT)
    layout.text(labels.materials)
    for position, item in enumerate(content.materials, start=1):
        layout.text(f"{position}. {item.name}", indent=ITEM_INDENT)
        layout.text(ITEM_INDENT + describe_counts(item, labels), indent=ITEM_INDENT)
        if item.note:
            layout.text(ITEM_INDENT + item.note, indent=ITEM_INDENT)
    layout.rule()

    if content.promised_days == 0:
        layout.text(labels.on_the_spot)
    elif content.promised_days is not None:
        layout.text(labels.promised.format(content.promised_days))
    layout.text(labels.fee.format(describe_fee(content.fee, labels)), indent=ITEM_INDENT)
    layout.text(labels.where.format(content.window_area), indent=ITEM_INDENT)
    layout.text(labels.printed.format(content.printed_at.strftime(TIME_FORMAT)))
    layout.rule()
    layout.raw(ALIGN_CENTER)
    layout.end(content.footer, cut=cut)
