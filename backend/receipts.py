"""受理号 (case receipt numbers) and public link tokens.

A receipt number is printed on the 受理通知书 and typed into the public progress
lookup, so it must be short, all digits, impossible to enumerate by counting up
from one's own number, and robust against typing mistakes:

    YYYYMMDD  +  8 random digits  +  1 check digit   = 17 digits
    20261127     40938175            6

* The date is the acceptance day (China local date), which staff find useful
  when a citizen reads the number out.
* The 8 digits come from the operating system's cryptographic generator
  (``secrets``), so knowing one receipt tells nothing about the others.
* The check digit uses the Damm algorithm.  It catches every single-digit typo
  and every swap of two adjacent digits; ISO 7064 MOD 11-10 and Luhn both miss
  some adjacent swaps (Luhn misses 09 <-> 90), which is why they were not used.
* 10^8 numbers per day: with 1,000 cases a day the chance that two collide is
  about 0.5 %.  This module does not know which numbers exist; the caller
  stores the number under a UNIQUE constraint and, on a violation, draws a new
  number and retries (a handful of attempts is plenty).

Receipt numbers are 17 digits on purpose: 18-digit numbers can look like a
resident ID or an all-digit credit code to the log redaction filter.
"""

from __future__ import annotations

import datetime as _dt
import random
import secrets
from datetime import date

__all__ = [
    "PUBLIC_TOKEN_BYTES",
    "RECEIPT_NUMBER_LENGTH",
    "damm_check_digit",
    "is_well_formed_receipt",
    "new_public_token",
    "new_receipt_number",
    "receipt_date",
]

RECEIPT_NUMBER_LENGTH = 17
_RANDOM_DIGITS = 8

# 256 bits: far above the 128-bit floor for unguessable bearer links.
PUBLIC_TOKEN_BYTES = 32

# The Damm quasigroup of order 10 (weakly totally anti-symmetric), from
# H. Michael Damm, "Total anti-symmetrische Quasigruppen", 2004.
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
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

_system_random = secrets.SystemRandom()


def _damm_interim(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM_TABLE[interim][ord(digit) - 48]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit for a string of ASCII digits."""
    if not _is_ascii_digits(digits):
        raise ValueError(f"expected ASCII digits, got {digits!r}")
    return str(_damm_interim(digits))


def new_receipt_number(today: date, rng: random.Random | None = None) -> str:
    """A fresh 17-digit receipt number for a case accepted on ``today``.

    ``rng`` exists for reproducible tests only; production code must leave it
    out so the operating system's cryptographic generator is used.  The number
    may already exist: see the module docstring for the retry contract.
    """
    if isinstance(today, _dt.datetime) or not isinstance(today, date):
        raise ValueError(f"today must be a datetime.date (local China date), got {today!r}")
    generator = rng if rng is not None else _system_random
    body = f"{today.year:04d}{today.month:02d}{today.day:02d}" + "".join(
        str(generator.randrange(10)) for _ in range(_RANDOM_DIGITS)
    )
    return body + str(_damm_interim(body))


def is_well_formed_receipt(value: object) -> bool:
    """Whether ``value`` could be a receipt number: 17 ASCII digits, a real
    date in front and a correct check digit.  Lets the public lookup reject
    typos before querying the database.  Does not strip whitespace."""
    if not isinstance(value, str) or len(value) != RECEIPT_NUMBER_LENGTH:
        return False
    if not _is_ascii_digits(value):
        return False
    if _parse_date(value[:8]) is None:
        return False
    # Running the check digit through the quasigroup yields 0 exactly when it matches.
    return _damm_interim(value) == 0


def receipt_date(value: str) -> date:
    """The acceptance date encoded in a well-formed receipt number."""
    if not is_well_formed_receipt(value):
        raise ValueError(f"not a well-formed receipt number: {value!r}")
    parsed = _parse_date(value[:8])
    assert parsed is not None  # guaranteed by is_well_formed_receipt
    return parsed


def new_public_token() -> str:
    """An unguessable URL-safe token (256 bits, 43 characters) for the links on
    the phone progress page; store it with the case and look it up exactly."""
    return secrets.token_urlsafe(PUBLIC_TOKEN_BYTES)


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit alone accepts full-width and other Unicode digits.
    return value.isascii() and value.isdigit()


def _parse_date(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None
