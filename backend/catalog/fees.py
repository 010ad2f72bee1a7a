"""What the catalog's 收费标准 allows a case to be charged, for the 收费异常 check
(plan 3.1.1.2 "违规收费"; docs/supervision.md "收费异常").

The catalog states fees in words ("工本费每证20元", "住宅类每件80元，非住宅类
每件550元", "通行证每证60元；签注每件15元"). What a case may be charged is read
from those words:

* a free matter (MatterSpec.is_free: 不收费 / 免费) may be charged nothing;
* a standard that names amounts in 元 allows any sum of those amounts, each
  taken any number of times (one permit and one endorsement: 60 + 15; two
  permits: 2 × 60; a first certificate plus one more: 80 + 10) -- and nothing
  else, so a charge for a free matter, an amount the standard never names or
  a sum it cannot make is a finding;
* a standard without amounts ("按……标准收取", "收取工本费", "首次申领不收费；
  换领、补领收取工本费") cannot be checked: no finding either way.

Amounts are in fen (分), integers, so that 0.1 + 0.2 is never 0.30000000000000004.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from math import gcd

from backend.catalog.spec import MatterSpec

# "80元", "550 元", "12.5元", "1,200元"; not "万元" or "元/平方米" (a rate by
# area: the charge depends on a measure the case does not record).
_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d{1,2})?)\s*元(?!\s*/)")
_WAN_OR_RATE = re.compile(r"\d\s*万元|元\s*/|[‰%％]")
# The largest fee recorded against one case: 10 million yuan.
MAX_FEE_FEN = 1_000_000_000


class FeeFormatError(ValueError):
    """A charged amount that is not a number of yuan with at most two decimals."""


def parse_yuan(text: str) -> int:
    """'80', '80.5', '80.50', '1,200' (yuan) -> fen; refuses anything else."""
    cleaned = text.strip().replace(",", "").removesuffix("元").strip()
    if not re.fullmatch(r"\d{1,8}(?:\.\d{1,2})?", cleaned):
        raise FeeFormatError("金额须为元，最多两位小数 / the amount must be yuan, two decimals")
    try:
        fen = int(Decimal(cleaned) * 100)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only digits
        raise FeeFormatError(str(error)) from error
    if fen > MAX_FEE_FEN:
        raise FeeFormatError("金额过大 / the amount is too large")
    return fen


def format_fen(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass(frozen=True)
class FeeStandard:
    """The amounts a matter's 收费标准 names, read as described above."""

    text: str
    free: bool
    amounts_fen: tuple[int, ...]

    @property
    def checkable(self) -> bool:
        return self.free or bool(self.amounts_fen)

    def allows(self, charged_fen: int) -> bool | None:
        """Whether the standard allows this charge; None when it cannot say."""
        if self.free:
            return charged_fen == 0
        if not self.amounts_fen:
            return None
        if charged_fen == 0:  # waived or not yet charged: never a 违规收费
            return True
        return _is_sum_of(charged_fen, self.amounts_fen)


def fee_standard(spec: MatterSpec) -> FeeStandard:
    text = spec.fee.strip()
    if spec.is_free:
        return FeeStandard(text, free=True, amounts_fen=())
    if _WAN_OR_RATE.search(text):
        return FeeStandard(text, free=False, amounts_fen=())
    amounts = sorted({parse_yuan(match) for match in _AMOUNT.findall(text)} - {0})
    return FeeStandard(text, free=False, amounts_fen=tuple(amounts))


def _is_sum_of(total: int, parts: tuple[int, ...]) -> bool:
    """Whether ``total`` is a sum of ``parts`` with repetition. Over the parts'
    common divisor the units are coprime, and every multiple from
    (smallest − 1)·(largest − 1) on is such a sum (the Frobenius bound), so the
    table below never grows past that."""
    step = 0
    for part in parts:
        step = gcd(step, part)
    if total % step:
        return False
    target = total // step
    units = sorted(part // step for part in parts)
    if target >= (units[0] - 1) * (units[-1] - 1):
        return True
    reachable = bytearray(target + 1)
    reachable[0] = 1
    for value in range(1, target + 1):
        reachable[value] = any(unit <= value and reachable[value - unit] for unit in units)
    return bool(reachable[target])
