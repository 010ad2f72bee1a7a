"""Personal data protection: validating, masking, encrypting identity numbers and
keeping them out of logs.

Why: 个人信息保护法 Art. 28 lists identity-document numbers among sensitive
personal information, which must be protected strictly (Art. 51: encryption,
de-identification); 国办发〔2019〕51号 requires the rater's identity to be kept from
the rated clerk.  So the hall stores ID numbers encrypted, finds them through a
keyed hash, and every display, log line and public announcement shows masked
forms only.

What this module cannot do: recognise names in free text.  Mask names with
:func:`mask_name` where they are put into a message; :func:`redact_text` (the
log filter, and free text the public writes, such as a rating's note) only
catches what has a recognisable shape: ID numbers, credit codes, mobile and
landline numbers, e-mail addresses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "IdentityProtector",
    "ProtectedId",
    "RedactingFilter",
    "credit_code_check_character",
    "install_log_redaction",
    "is_valid_credit_code",
    "is_valid_resident_id",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "normalise_identifier",
    "redact_text",
    "validate_credit_code",
    "validate_resident_id",
]

# --------------------------------------------------------------------- checks

# GB 11643-1999: weight of position i (from the left) is 2^(17-i) mod 11, and
# the check character is indexed by the weighted sum mod 11.
_RESIDENT_ID_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
_RESIDENT_ID_CHECK_CHARS = "10X98765432"

# GB 11643 first digit: the province-level region (11 北京 .. 65 新疆; 71 台湾;
# 81/82/83 are the residence permits of Hong Kong, Macao and Taiwan residents).
_PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65", "71", "81", "82", "83",
    }
)  # fmt: skip

# GB 32100-2015: 31 characters (no I, O, Z, S, V); weight of position i is
# 3^i mod 31; check = (31 - weighted sum mod 31) mod 31.
_CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_VALUES = {character: value for value, character in enumerate(_CREDIT_CODE_CHARS)}
_CREDIT_CODE_WEIGHTS = tuple(pow(3, position, 31) for position in range(17))

_WHITESPACE = re.compile(r"\s+")


def _normalise(value: str) -> str:
    """NFKC turns full-width digits and letters typed with a Chinese input method
    into ASCII; then drop all whitespace (ID cards are often copied in groups)
    and upper-case (a lower-case check ``x`` is common)."""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__} / 需要文本")
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()


def _resident_id_problem(candidate: str, today: date | None = None) -> str | None:
    """Why ``candidate`` (already normalised) is not a resident ID, or None."""
    if len(candidate) != 18:
        return f"居民身份证号码应为18位，实际{len(candidate)}位 / must be 18 characters"
    if not candidate[:17].isdigit() or not candidate[:17].isascii():
        return "居民身份证号码前17位应为数字 / the first 17 characters must be digits"
    if candidate[17] not in "0123456789X":
        return "居民身份证号码末位应为数字或X / the last character must be a digit or X"
    if candidate[:2] not in _PROVINCE_CODES:
        return "居民身份证号码地区码无效 / unknown region code"
    try:
        birthday = date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return "居民身份证号码出生日期无效 / the birth date is not a real date"
    if birthday.year < 1850 or birthday > (today or date.today()):
        return "居民身份证号码出生日期超出范围 / the birth date is out of range"
    weighted = sum(
        int(digit) * weight
        for digit, weight in zip(candidate[:17], _RESIDENT_ID_WEIGHTS, strict=True)
    )
    if _RESIDENT_ID_CHECK_CHARS[weighted % 11] != candidate[17]:
        return "居民身份证号码校验位错误 / the check digit is wrong"
    return None


def validate_resident_id(value: str) -> str:
    """Return the normalised 18-character 居民身份证号 (upper-case X) or raise
    ValueError with the reason in Chinese and English."""
    candidate = _normalise(value)
    problem = _resident_id_problem(candidate)
    if problem is not None:
        raise ValueError(problem)
    return candidate


def is_valid_resident_id(value: str) -> bool:
    """Whether ``value`` is a valid 居民身份证号 after normalisation."""
    try:
        return _resident_id_problem(_normalise(value)) is None
    except ValueError:
        return False


def credit_code_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a 统一社会信用代码."""
    if len(first17) != 17 or any(character not in _CREDIT_CODE_VALUES for character in first17):
        raise ValueError("统一社会信用代码前17位无效 / invalid first 17 characters")
    weighted = sum(
        _CREDIT_CODE_VALUES[character] * weight
        for character, weight in zip(first17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return _CREDIT_CODE_CHARS[(31 - weighted % 31) % 31]


def _credit_code_problem(candidate: str) -> str | None:
    if len(candidate) != 18:
        return f"统一社会信用代码应为18位，实际{len(candidate)}位 / must be 18 characters"
    if any(character not in _CREDIT_CODE_VALUES for character in candidate):
        return (
            "统一社会信用代码含无效字符（不使用I、O、Z、S、V） / "
            "contains a character outside the GB 32100 set (no I, O, Z, S, V)"
        )
    # Positions 3-8 are the administrative division code of the registering office.
    if not candidate[2:8].isdigit():
        return "统一社会信用代码第3-8位应为行政区划码 / positions 3-8 must be digits"
    if credit_code_check_character(candidate[:17]) != candidate[17]:
        return "统一社会信用代码校验码错误 / the check character is wrong"
    return None


def validate_credit_code(value: str) -> str:
    """Return the normalised 18-character 统一社会信用代码 or raise ValueError."""
    candidate = _normalise(value)
    problem = _credit_code_problem(candidate)
    if problem is not None:
        raise ValueError(problem)
    return candidate


def is_valid_credit_code(value: str) -> bool:
    """Whether ``value`` is a valid 统一社会信用代码 after normalisation."""
    try:
        return _credit_code_problem(_normalise(value)) is None
    except ValueError:
        return False


# ---------------------------------------------------------------------- masks

_LATIN_LETTER = re.compile(r"[A-Za-z]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def mask_name(name: str) -> str:
    """Chinese names keep the first character (and the last from three on):
    张三 -> 张*, 张三丰 -> 张*丰, 欧阳娜娜 -> 欧**娜.  Latin names keep the first
    letter: John Smith -> J***.  A one-character name is fully masked."""
    if not isinstance(name, str):
        raise ValueError(f"expected a name as text, got {type(name).__name__}")
    cleaned = name.strip()
    if not cleaned:
        return ""
    if _LATIN_LETTER.search(cleaned) and not _HAN.search(cleaned):
        return cleaned[0] + "***"
    if len(cleaned) == 1:
        return "*"
    if len(cleaned) == 2:
        return cleaned[0] + "*"
    return cleaned[0] + "*" * (len(cleaned) - 2) + cleaned[-1]


def mask_id_number(value: str) -> str:
    """Keep the first 3 and last 4 characters: 110***********1234.  Works for
    resident IDs, credit codes and other certificate numbers; does not validate.
    Numbers of 7 characters or fewer are masked entirely."""
    cleaned = _normalise(value)
    if len(cleaned) <= 7:
        return "*" * len(cleaned)
    return cleaned[:3] + "*" * (len(cleaned) - 7) + cleaned[-4:]


_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")


def _area_code_length(digits: str) -> int:
    """Area codes (长途区号) 010 and 02x are three digits, all others four."""
    return 3 if digits[1] in "12" else 4


def mask_phone(value: str) -> str:
    """Mobile 13812345678 -> 138****5678 (a +86 / 0086 prefix is kept);
    landline 022-23456789 -> 022-****6789 (area code and last 4 kept; the area
    code is read from the number itself, never supplied).  Anything else keeps
    its last 4 digits.  Pass the whole number: a number padded from its last
    digits would show a made-up area code."""
    if not isinstance(value, str):
        raise ValueError(f"expected a phone number as text, got {type(value).__name__}")
    cleaned = unicodedata.normalize("NFKC", value).strip()
    if not cleaned:
        return ""
    prefix = ""
    for country_code in ("+86", "0086"):
        if cleaned.startswith(country_code):
            prefix, cleaned = "+86 ", cleaned[len(country_code) :].lstrip(" -")
            break
    digits = _PHONE_SEPARATORS.sub("", cleaned)
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return prefix + digits[:3] + "****" + digits[-4:]
    if digits.isdigit() and digits.startswith("0") and 10 <= len(digits) <= 12:
        area_length = _area_code_length(digits)
        area, local = digits[:area_length], digits[area_length:]
        return prefix + area + "-" + "*" * (len(local) - 4) + local[-4:]
    if len(digits) <= 4:
        return "*" * len(digits)
    return prefix + "*" * (len(digits) - 4) + digits[-4:]


# ----------------------------------------------------------------- encryption

_ENCRYPTION_INFO = b"hallkit/identity/encryption/v1"
_LOOKUP_INFO = b"hallkit/identity/lookup/v1"
# Binds ciphertexts to their purpose: a blob encrypted for another field cannot
# be passed off as an identity number.
_ASSOCIATED_DATA = b"hallkit/identity-number/v1"
_TEXT_ASSOCIATED_DATA = b"hallkit/personal-text/v1"  # names and other free text
_FORMAT_VERSION = b"\x01"  # leaves room for key rotation later
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MIN_KEY_BYTES = 32

_IDENTIFIER = re.compile(r"^[0-9A-Z]{5,32}$")


def normalise_identifier(value: str) -> str:
    """The canonical form of a certificate number for storage and hashing:
    full-width to ASCII, no whitespace or hyphens, upper-case.  Accepts any
    certificate type (ID card, passport, 港澳通行证); validate the type-specific
    format first with :func:`validate_resident_id` and friends."""
    candidate = _normalise(value).replace("-", "")
    if not _IDENTIFIER.fullmatch(candidate):
        raise ValueError(
            "证件号码应为5-32位字母或数字 / a certificate number is 5-32 letters or digits"
        )
    return candidate


@dataclass(frozen=True, slots=True)
class ProtectedId:
    """What the database stores instead of the clear identity number."""

    ciphertext: str  # URL-safe base64 of version + nonce + AES-256-GCM output
    lookup_hash: str  # HMAC-SHA256 hex of the normalised number, for equality search
    last4: str  # for "尾号1234" prompts
    masked: str  # for display


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class IdentityProtector:
    """Encrypts identity numbers and computes their lookup hashes.

    Two independent sub-keys are derived from the master key with HKDF, so the
    lookup hash (which must be deterministic) never shares a key with the
    encryption (which must not be).
    """

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"the master key must be at least {_MIN_KEY_BYTES} random bytes")
        self._aead = AESGCM(_derive(key, _ENCRYPTION_INFO))
        self._lookup_key = _derive(key, _LOOKUP_INFO)

    @classmethod
    def from_secret(cls, secret: str) -> IdentityProtector:
        """Build from a configuration secret such as ``secrets.token_urlsafe(32)``.

        The secret must already be random: HKDF does not stretch passwords, so a
        memorable phrase would make the lookup hashes guessable.
        """
        if not isinstance(secret, str) or len(secret) < _MIN_KEY_BYTES:
            raise ValueError(
                f"the secret must be at least {_MIN_KEY_BYTES} random characters "
                "(e.g. secrets.token_urlsafe(32))"
            )
        return cls(secret.encode("utf-8"))

    def protect(self, id_number: str) -> ProtectedId:
        """Encrypt ``id_number`` and compute everything stored beside it."""
        normalised = normalise_identifier(id_number)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, normalised.encode("ascii"), _ASSOCIATED_DATA)
        return ProtectedId(
            ciphertext=base64.urlsafe_b64encode(_FORMAT_VERSION + nonce + sealed).decode("ascii"),
            lookup_hash=self._hash(normalised),
            last4=normalised[-4:],
            masked=mask_id_number(normalised),
        )

    def reveal(self, ciphertext: str) -> str:
        """Decrypt a :attr:`ProtectedId.ciphertext`; ValueError when it was
        altered or was made with another key."""
        return self._open(ciphertext, _ASSOCIATED_DATA).decode("ascii")

    def seal_text(self, value: str) -> str:
        """Encrypt personal free text that is not a certificate number (a
        person's name); same format as identity ciphertexts, other purpose."""
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), _TEXT_ASSOCIATED_DATA)
        return base64.urlsafe_b64encode(_FORMAT_VERSION + nonce + sealed).decode("ascii")

    def open_text(self, ciphertext: str) -> str:
        """Decrypt what :meth:`seal_text` produced; ValueError when altered."""
        return self._open(ciphertext, _TEXT_ASSOCIATED_DATA).decode("utf-8")

    def _open(self, ciphertext: str, associated_data: bytes) -> bytes:
        try:
            blob = base64.urlsafe_b64decode(ciphertext.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, AttributeError):
            raise ValueError("ciphertext is not valid base64") from None
        if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[:1] != _FORMAT_VERSION:
            raise ValueError("ciphertext has an unknown format")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, associated_data)
        except InvalidTag:
            raise ValueError("ciphertext was tampered with or made with another key") from None

    def lookup_hash(self, id_number: str) -> str:
        """The value to search the lookup-hash column for."""
        return self._hash(normalise_identifier(id_number))

    def lookup_key(self) -> bytes:
        """The HMAC key of :meth:`lookup_hash`, for hall kiosks that hash a card they
        read themselves (``hall export-id-lookup-key``).  It only makes lookup hashes:
        the encryption key is derived separately and cannot be had from it."""
        return self._lookup_key

    def _hash(self, normalised: str) -> str:
        return hmac.new(self._lookup_key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


# -------------------------------------------------------------- log redaction

# Boundaries use ASCII letters and digits only: Chinese text directly around a
# number ("身份证110...号") is a boundary, but a longer code or digit run is not.
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_CREDIT_CODE_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_MOBILE_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z+])(?P<country>(?:\+|00)?86[ -]?)?"
    r"(?P<head>1[3-9]\d)(?P<sep1>[ -]?)(?P<middle>\d{4})(?P=sep1)(?P<tail>\d{4})(?![0-9A-Za-z])"
)


# A landline with its area code: 022-23456789, (0571)8765432, 02223456789.
# Local numbers never start with 0, and mobiles never with 0 at all; the area
# code length is the same rule as mask_phone's.
_LANDLINE_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?P<open>[(（])?(?P<area>0[12]\d|0[3-9]\d{2})(?(open)[)）])"
    r"[ -]?(?P<local>[1-9]\d{6,7})(?![0-9A-Za-z])"
)
_EMAIL_IN_TEXT = re.compile(
    r"(?<![\w.+-])(?P<user>[A-Za-z0-9][A-Za-z0-9._%+-]*)@"
    r"(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![\w-])",
    re.ASCII,
)


def _mask_landline_match(match: re.Match[str]) -> str:
    return mask_phone(match.group("area") + match.group("local"))


def _mask_email_match(match: re.Match[str]) -> str:
    return f"{match.group('user')[0]}***@{match.group('domain')}"


def _mask_resident_id_match(match: re.Match[str]) -> str:
    found = match.group(0)
    # Only numbers that pass GB 11643 (region, birth date, check digit) are
    # masked, so ordinary 18-digit numbers survive.  Random 18-digit numbers
    # almost never pass (the birth-date rule alone rejects ~98 %).
    if _resident_id_problem(found.upper()) is None:
        return mask_id_number(found)
    return found


def _mask_credit_code_match(match: re.Match[str]) -> str:
    found = match.group(0)
    # All-digit credit codes exist (e.g. 914403001922038216), so about 1 in 31
    # random 18-digit numbers passes GB 32100 and is masked: a false positive
    # hides a number, never leaks one.  Receipt numbers are 17 digits.
    if _credit_code_problem(found.upper()) is None:
        return mask_id_number(found)
    return found


def _mask_mobile_match(match: re.Match[str]) -> str:
    country = match.group("country") or ""
    separator = match.group("sep1")
    return f"{country}{match.group('head')}{separator}****{separator}{match.group('tail')}"


def redact_text(text: str) -> str:
    """Mask resident ID numbers, credit codes, mobile and landline numbers and
    e-mail addresses inside ``text``: the one rule for log lines and for free
    text the public writes (rating notes, callback records).

    Mobile numbers are 11 digits starting 1[3-9] (optionally +86 and 3-4-4
    groups) that are not part of a longer digit run, so a 16-digit receipt
    number or a ticket like A001 is left alone; they keep the first 3 and last
    4 digits.  Landlines need their area code (022-23456789 -> 022-****6789).
    18-character candidates are masked only when they pass the GB 11643 or
    GB 32100 check.  E-mail addresses keep their first letter and the domain.
    """
    text = _RESIDENT_ID_IN_TEXT.sub(_mask_resident_id_match, text)
    text = _CREDIT_CODE_IN_TEXT.sub(_mask_credit_code_match, text)
    text = _MOBILE_IN_TEXT.sub(_mask_mobile_match, text)
    text = _LANDLINE_IN_TEXT.sub(_mask_landline_match, text)
    return _EMAIL_IN_TEXT.sub(_mask_email_match, text)


class RedactingFilter(logging.Filter):
    """Masks personal numbers in a log record before any handler writes it.

    The message is formatted once with its arguments, redacted, and stored back
    with no arguments; exception and stack text is redacted too.  Records are
    never dropped.
    """

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return True
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # The handler's Formatter reuses exc_text when it is set.
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to every handler of ``logger`` (the
    root logger by default) and return it.

    Handler filters are used because logger filters do not see records that
    propagate up from child loggers.  Calling again does not add a second
    filter.  Handlers added later need ``handler.addFilter(returned_filter)``.
    """
    target = logger if logger is not None else logging.getLogger()
    already_installed = [
        item
        for handler in target.handlers
        for item in handler.filters
        if isinstance(item, RedactingFilter)
    ]
    shared = already_installed[0] if already_installed else RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(item, RedactingFilter) for item in handler.filters):
            handler.addFilter(shared)
    return shared
