"""The ID-card lookup hash a kiosk sends instead of the ID number (TakeTicket.id_lookup_hash).

It is HMAC-SHA256 over the normalised certificate number, keyed with the hall's
lookup key: the key the backend derives from its secret for the lookup hashes it
stores with appointments, tickets and cases (backend.privacy.IdentityProtector),
exported once with `hall export-id-lookup-key --out FILE`. A plain SHA-256 would
not do: ID numbers have so little entropy (region, birth date, sequence) that an
unkeyed hash is reversed by trying them all.

The normalisation must stay byte-for-byte that of backend.privacy.normalise_identifier,
or the kiosk's hash would never match the backend's; tests/kiosk/test_id_lookup.py
checks the two against each other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Final

LOOKUP_KEY_BYTES: Final = 32
_WHITESPACE: Final = re.compile(r"\s+")
_IDENTIFIER: Final = re.compile(r"^[0-9A-Z]{5,32}$")
_KEY_TEXT: Final = re.compile(r"^[0-9a-f]{64}$")


class LookupKeyError(ValueError):
    """The lookup key file does not hold a key in the exported format."""


def normalise_identifier(value: str) -> str:
    """Full-width to ASCII (NFKC), no whitespace or hyphens, upper case; 5-32 of 0-9A-Z."""
    candidate = _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()
    candidate = candidate.replace("-", "")
    if not _IDENTIFIER.fullmatch(candidate):
        # The value is deliberately not part of the message: it is an ID number.
        raise ValueError("a certificate number is 5-32 letters or digits")
    return candidate


def id_lookup_hash(id_number: str, key: bytes) -> str:
    """The hex HMAC the backend stores as the lookup hash of `id_number`."""
    if len(key) != LOOKUP_KEY_BYTES:
        raise LookupKeyError(f"the lookup key must be {LOOKUP_KEY_BYTES} bytes")
    normalised = normalise_identifier(id_number)
    return hmac.new(key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


def format_lookup_key(key: bytes) -> str:
    """The key file's content: 64 lower-case hex digits and a newline."""
    if len(key) != LOOKUP_KEY_BYTES:
        raise LookupKeyError(f"the lookup key must be {LOOKUP_KEY_BYTES} bytes")
    return key.hex() + "\n"


def parse_lookup_key(text: str) -> bytes:
    """The key from a key file's (or environment variable's) content."""
    value = text.strip().lower()
    if not _KEY_TEXT.fullmatch(value):
        raise LookupKeyError(
            "the ID lookup key must be 64 hex digits (written by hall export-id-lookup-key)"
        )
    return bytes.fromhex(value)
