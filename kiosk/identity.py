"""ID card numbers, receipt numbers and phone digits: validated, hashed, never shown.

An ID card number read at the kiosk lives only inside :class:`IdCardRead`: the object keeps
its lookup hash (what travels to the hub, TakeTicket.id_lookup_hash: an HMAC keyed with the
hall's ID lookup key, equal to the backend's lookup hash, see hallbus.idlookup) and forgets
the number. Its ``repr`` shows nothing, so a log line or a traceback cannot leak it either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The receipt check digit is part of the device/backend contract: one definition.
from hallbus.idlookup import id_lookup_hash
from hallbus.receipts import RECEIPT_NUMBER_LENGTH, damm_valid

# GB 11643-1999: weights and check characters of the 18-character resident ID number.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")

RECEIPT_LENGTH = RECEIPT_NUMBER_LENGTH
_RECEIPT_RUN = re.compile(r"(?<!\d)\d{17}(?!\d)")


def id_number_valid(number: str) -> bool:
    number = number.strip().upper()
    if not _ID_SHAPE.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


@dataclass(frozen=True)
class IdCardRead:
    """A card read by the reader: only the lookup hash is kept."""

    lookup_hash: str = field(repr=False)

    @classmethod
    def from_number(cls, number: str, lookup_key: bytes) -> IdCardRead:
        if not id_number_valid(number):
            raise ValueError("not a valid resident ID number")
        return cls(id_lookup_hash(number, lookup_key))

    def __repr__(self) -> str:
        return "IdCardRead(<hidden>)"


def receipt_valid(receipt: str) -> bool:
    return len(receipt) == RECEIPT_LENGTH and receipt.isdigit() and damm_valid(receipt)


def receipt_from_scan(scanned: str) -> str | None:
    """The receipt number in a scanned QR/barcode: the bare number or a URL containing it."""
    for match in _RECEIPT_RUN.finditer(scanned):
        if damm_valid(match.group(0)):
            return match.group(0)
    return None


def phone_last4_valid(digits: str) -> bool:
    return len(digits) == 4 and digits.isdigit()


MOBILE_LENGTH = 11
# The same rule as hallbus.messages.MobileNumber (a mainland mobile for the 到号提醒 SMS).
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def mobile_valid(digits: str) -> bool:
    return _MOBILE.fullmatch(digits) is not None


def mask_mobile(digits: str) -> str:
    """138****8000: enough for the visitor to recognise their number, no more."""
    if len(digits) != MOBILE_LENGTH:
        return dots(len(digits))
    return digits[:3] + "****" + digits[-4:]


def dots(count: int) -> str:
    """What the screen shows instead of typed phone digits (people queue behind the kiosk)."""
    return "●" * count
