"""Keeps personal identifiers off paper.

A ticket or checklist lies around the hall and ends up in bins, so it must never show a full
mobile number or ID-card number. The content models carry no name, phone or ID field at all;
this module is the second line of defence for free text (footers, hall or matter names typed
by staff) that might contain one by mistake.

Identifiers are *masked*, not rejected: refusing the line would stop the ticket from printing,
and a visitor must never lose their ticket because of a configuration slip. Each masking is
logged (without the value) so staff can correct the source text.
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

MASK = "*"

# Full-width digits look like ASCII digits on paper, so they are detected too. The translation
# maps one character to one character, which keeps match positions valid in the original text.
_FULL_WIDTH_TO_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

# 18-character resident ID (17 digits + digit/X) and the older 15-digit form.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# Mainland mobile number, optionally with +86 and separators: 138 1234 5678, 138-1234-5678.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
# Catch-all: no legitimate line on a ticket has 11 or more digits in a row.
_LONG_DIGIT_RUN = re.compile(r"\d{11,}")


def _mask_keep_last4(match: re.Match[str]) -> str:
    found = match.group(0)
    return MASK * (len(found) - 4) + found[-4:]


def _mask_mobile(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))[-11:]
    # The customary Chinese mask, e.g. 138****5678: enough for the owner to recognise.
    return digits[:3] + MASK * 4 + digits[-4:]


def mask_personal_identifiers(text: str) -> str:
    """Return ``text`` with ID-card and phone numbers masked; other text is unchanged."""
    probe = text.translate(_FULL_WIDTH_TO_ASCII)
    masked = probe
    for pattern, replace, kind in (
        (_RESIDENT_ID, _mask_keep_last4, "ID-card number"),
        (_MOBILE, _mask_mobile, "mobile number"),
        (_LONG_DIGIT_RUN, _mask_keep_last4, "long digit run"),
    ):
        masked, count = pattern.subn(replace, masked)
        if count:
            logger.warning("masked %d %s(s) in printed text", count, kind)
    # Return the caller's original characters when nothing was masked (keeps full-width digits).
    return text if masked == probe else masked


def contains_personal_identifier(text: str) -> bool:
    probe = text.translate(_FULL_WIDTH_TO_ASCII)
    return any(p.search(probe) for p in (_RESIDENT_ID, _MOBILE, _LONG_DIGIT_RUN))
