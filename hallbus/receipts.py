"""受理号 (case receipt number) format and check digit, as backend and devices agree on them.

The backend draws receipt numbers (backend.receipts); kiosks read them from a
keypad or a scanned receipt and reject typos before asking the hub. Both sides
must compute the same check digit, so it is defined once, here:

    YYYYMMDD  +  8 random digits  +  1 check digit   = 17 digits

The check digit uses the Damm algorithm: it catches every single-digit typo and
every swap of two adjacent digits (Luhn and ISO 7064 MOD 11-10 miss some swaps).
"""

from __future__ import annotations

from datetime import date
from typing import Final

__all__ = [
    "RECEIPT_NUMBER_LENGTH",
    "damm_check_digit",
    "damm_interim",
    "damm_valid",
    "is_ascii_digits",
    "is_well_formed_receipt",
    "parse_receipt_date",
    "receipt_date",
]

RECEIPT_NUMBER_LENGTH: Final = 17

# The Damm quasigroup of order 10 (weakly totally anti-symmetric), from
# H. Michael Damm, "Total anti-symmetrische Quasigruppen", 2004.
DAMM_TABLE: Final[tuple[tuple[int, ...], ...]] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_interim(digits: str) -> int:
    """The quasigroup run over `digits`: the check digit of a body, or 0 exactly
    when `digits` ends in its correct check digit. Callers check what is a digit."""
    interim = 0
    for digit in digits:
        interim = DAMM_TABLE[interim][int(digit)]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit for a string of ASCII digits."""
    if not is_ascii_digits(digits):
        raise ValueError(f"expected ASCII digits, got {digits!r}")
    return str(damm_interim(digits))


def damm_valid(digits: str) -> bool:
    """Whether `digits` ends in its correct Damm check digit."""
    return damm_interim(digits) == 0


def is_ascii_digits(value: str) -> bool:
    # str.isdigit alone accepts full-width and other Unicode digits.
    return value.isascii() and value.isdigit()


def parse_receipt_date(yyyymmdd: str) -> date | None:
    """The date of the first eight digits, or None when they name no real day."""
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def is_well_formed_receipt(value: object) -> bool:
    """Whether ``value`` could be a receipt number: 17 ASCII digits, a real
    date in front and a correct check digit.  Lets the public lookup reject
    typos before querying the database.  Does not strip whitespace."""
    if not isinstance(value, str) or len(value) != RECEIPT_NUMBER_LENGTH:
        return False
    if not is_ascii_digits(value):
        return False
    if parse_receipt_date(value[:8]) is None:
        return False
    return damm_valid(value)


def receipt_date(value: str) -> date:
    """The acceptance date encoded in a well-formed receipt number."""
    if not is_well_formed_receipt(value):
        raise ValueError(f"not a well-formed receipt number: {value!r}")
    parsed = parse_receipt_date(value[:8])
    assert parsed is not None  # guaranteed by is_well_formed_receipt
    return parsed
