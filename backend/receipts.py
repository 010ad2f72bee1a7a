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
  The format and check digit are defined in hallbus.receipts, which the kiosks
  use as well.
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

# The format and the check digit are shared with the hall devices (a kiosk checks
# a typed receipt number before it asks), so they live in the contract package.
from hallbus.receipts import (
    RECEIPT_NUMBER_LENGTH,
    damm_check_digit,
    damm_interim,
    is_well_formed_receipt,
    receipt_date,
)

__all__ = [
    "PUBLIC_TOKEN_BYTES",
    "RECEIPT_NUMBER_LENGTH",
    "damm_check_digit",
    "is_well_formed_receipt",
    "new_public_token",
    "new_receipt_number",
    "receipt_date",
]

_RANDOM_DIGITS = 8

# 256 bits: far above the 128-bit floor for unguessable bearer links.
PUBLIC_TOKEN_BYTES = 32

_system_random = secrets.SystemRandom()


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
    return body + str(damm_interim(body))


def new_public_token() -> str:
    """An unguessable URL-safe token (256 bits, 43 characters) for the links on
    the phone progress page; store it with the case and look it up exactly."""
    return secrets.token_urlsafe(PUBLIC_TOKEN_BYTES)
