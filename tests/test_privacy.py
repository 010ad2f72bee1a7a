from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

from backend.privacy import (
    IdentityProtector,
    ProtectedId,
    RedactingFilter,
    install_log_redaction,
    is_valid_credit_code,
    is_valid_resident_id,
    mask_id_number,
    mask_name,
    mask_phone,
    redact_text,
    validate_credit_code,
    validate_resident_id,
)

# The check characters below are computed here, independently of the module
# under test, straight from the standards.


def resident_id(first17: str) -> str:
    """Complete a resident ID with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def credit_code(first17: str) -> str:
    """Complete a 统一社会信用代码 with its GB 32100 check character."""
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(charset.index(ch) * weight for ch, weight in zip(first17, weights, strict=True))
    return first17 + charset[(31 - total % 31) % 31]


ID_WITH_X = resident_id("11010519491231002")  # the GB 11643 sample, check X
ID_WITH_DIGIT = resident_id("32010619900307123")
CREDIT_CODE = credit_code("91320106MA1XYW7Q0")
SECRET = "x" * 8 + "-a-random-configuration-secret-for-tests"


def test_synthetic_examples_have_the_expected_shape() -> None:
    assert ID_WITH_X == "11010519491231002X"
    assert ID_WITH_DIGIT[-1].isdigit()


# ------------------------------------------------------------- resident IDs


def test_valid_resident_ids_are_normalised() -> None:
    assert validate_resident_id(ID_WITH_X) == ID_WITH_X
    assert validate_resident_id(ID_WITH_X.lower()) == ID_WITH_X
    assert validate_resident_id(" 110105 19491231 002x\n") == ID_WITH_X
    assert validate_resident_id("１１０１０５１９４９１２３１００２Ｘ") == ID_WITH_X  # full-width
    assert validate_resident_id(ID_WITH_DIGIT) == ID_WITH_DIGIT
    assert is_valid_resident_id(ID_WITH_DIGIT)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "18"),
        ("1101051949123100211", "18"),
        ("11010519491231A02X", "17"),
        ("11010519491231002Y", "末位"),
        (resident_id("99010519491231002"), "地区"),
        (resident_id("11010519490231002"), "出生日期"),  # 31 February
        (resident_id("11010530000101002"), "出生日期"),  # born in 3000
        ("110105194912310021", "校验"),
    ],
)
def test_invalid_resident_ids_explain_why(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        validate_resident_id(value)
    assert " / " in str(raised.value)  # Chinese / English
    assert not is_valid_resident_id(value)


def test_every_single_digit_change_breaks_the_check() -> None:
    for position in range(17):
        for digit in "0123456789":
            if digit != ID_WITH_DIGIT[position]:
                changed = ID_WITH_DIGIT[:position] + digit + ID_WITH_DIGIT[position + 1 :]
                assert not is_valid_resident_id(changed)


# ------------------------------------------------------------- credit codes


def test_credit_codes() -> None:
    assert validate_credit_code(CREDIT_CODE) == CREDIT_CODE
    assert validate_credit_code(CREDIT_CODE.lower()) == CREDIT_CODE
    assert is_valid_credit_code("914403001922038216")  # a published all-digit code
    wrong_check = CREDIT_CODE[:17] + ("0" if CREDIT_CODE[17] != "0" else "1")
    with pytest.raises(ValueError, match="校验码"):
        validate_credit_code(wrong_check)
    with pytest.raises(ValueError, match="I、O、Z、S、V"):
        validate_credit_code("91320106MA1XYZ7QO" + "0")
    with pytest.raises(ValueError, match="3-8"):
        validate_credit_code(credit_code("9132A106MA1XYW7Q0"))
    with pytest.raises(ValueError, match="18"):
        validate_credit_code("9132")


# -------------------------------------------------------------------- masks


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张*丰"),
        ("欧阳娜娜", "欧**娜"),
        ("阿依古丽·买买提", "阿******提"),
        ("John Smith", "J***"),
        (" 李四 ", "李*"),
        ("王", "*"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_id_number() -> None:
    assert mask_id_number("110105194912341234") == "110***********1234"
    assert mask_id_number(CREDIT_CODE) == CREDIT_CODE[:3] + "*" * 11 + CREDIT_CODE[-4:]
    assert mask_id_number("1234567") == "*******"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 13812345678", "+86 138****5678"),
        ("010-12345678", "010-****5678"),
        ("075587654321", "0755-****4321"),
        ("12345", "*2345"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


# --------------------------------------------------------------- encryption


def test_protect_and_reveal_round_trip() -> None:
    protector = IdentityProtector.from_secret(SECRET)
    protected = protector.protect(ID_WITH_X.lower())
    assert isinstance(protected, ProtectedId)
    assert ID_WITH_X not in protected.ciphertext
    assert protector.reveal(protected.ciphertext) == ID_WITH_X
    assert protected.last4 == "002X"
    assert protected.masked == "110***********002X"
    assert protected.lookup_hash == protector.lookup_hash(ID_WITH_X)
    assert len(protected.lookup_hash) == 64
    # Random nonces: the same number never encrypts to the same text twice.
    assert protector.protect(ID_WITH_X).ciphertext != protected.ciphertext


def test_lookup_hash_is_stable_per_key_and_normalised() -> None:
    first = IdentityProtector.from_secret(SECRET)
    second = IdentityProtector.from_secret(SECRET)
    other = IdentityProtector.from_secret(SECRET + "-other")
    assert first.lookup_hash(ID_WITH_X) == second.lookup_hash(" 110105 19491231002x")
    assert first.lookup_hash(ID_WITH_X) != other.lookup_hash(ID_WITH_X)
    assert first.lookup_hash(ID_WITH_X) != first.lookup_hash(ID_WITH_DIGIT)


def test_other_certificate_types_can_be_protected() -> None:
    protector = IdentityProtector(bytes(range(32)))
    passport = protector.protect("e1234 5678")
    assert protector.reveal(passport.ciphertext) == "E12345678"


def test_tampered_or_foreign_ciphertext_is_rejected() -> None:
    protector = IdentityProtector.from_secret(SECRET)
    ciphertext = protector.protect(ID_WITH_X).ciphertext
    blob = bytearray(base64.urlsafe_b64decode(ciphertext))
    blob[-1] ^= 0x01
    with pytest.raises(ValueError, match="tampered"):
        protector.reveal(base64.urlsafe_b64encode(bytes(blob)).decode())
    with pytest.raises(ValueError, match="another key"):
        IdentityProtector.from_secret(SECRET + "-other").reveal(ciphertext)
    with pytest.raises(ValueError, match="format"):
        protector.reveal(base64.urlsafe_b64encode(b"\x02" + bytes(blob[1:])).decode())
    with pytest.raises(ValueError, match="format"):
        protector.reveal("AAAA")
    with pytest.raises(ValueError, match="base64"):
        protector.reveal("not base64!")


def test_weak_keys_and_bad_numbers_are_rejected() -> None:
    with pytest.raises(ValueError, match="32"):
        IdentityProtector(b"short")
    with pytest.raises(ValueError, match="32"):
        IdentityProtector.from_secret("password")
    with pytest.raises(ValueError, match="5-32"):
        IdentityProtector.from_secret(SECRET).protect("12")


# ------------------------------------------------------------ log redaction


def test_redact_text_masks_numbers_and_leaves_others_alone() -> None:
    text = (
        f"申请人身份证{ID_WITH_X}，手机13812345678，企业{CREDIT_CODE}；"
        "票号A001，受理号2026112712345678，金额138.00，长号138123456789"
    )
    redacted = redact_text(text)
    assert ID_WITH_X not in redacted and "110***********002X" in redacted
    assert "手机138****5678" in redacted
    assert CREDIT_CODE not in redacted
    assert CREDIT_CODE.lower() not in redact_text(f"企业{CREDIT_CODE.lower()}")
    for untouched in ("A001", "2026112712345678", "138.00", "138123456789"):
        assert untouched in redacted


def test_redact_text_handles_phone_variants() -> None:
    assert redact_text("tel +8613812345678") == "tel +86138****5678"
    assert redact_text("call 138-1234-5678") == "call 138-****-5678"
    assert redact_text("call 138 1234 5678.") == "call 138 **** 5678."


def test_eighteen_digit_numbers_that_fail_the_checks_are_left_alone() -> None:
    # Not a valid resident ID (checksum) and not a valid credit code.
    number = "110105194912310021"
    assert not is_valid_resident_id(number) and not is_valid_credit_code(number)
    assert redact_text(f"order {number}") == f"order {number}"


@pytest.fixture
def redacting_logger(caplog: pytest.LogCaptureFixture) -> Iterator[logging.Logger]:
    caplog.set_level(logging.INFO)
    installed = install_log_redaction()
    assert installed in caplog.handler.filters
    yield logging.getLogger("hallkit.test.privacy")
    for handler in logging.getLogger().handlers:
        handler.removeFilter(installed)


def test_log_records_are_redacted_through_a_real_logger(
    redacting_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    redacting_logger.info(
        "case accepted for %s, phone %s, ticket %s", ID_WITH_X, "13812345678", "A001"
    )
    redacting_logger.warning(f"lookup by {ID_WITH_DIGIT}")
    try:
        raise ValueError(f"bad applicant {ID_WITH_X}")
    except ValueError:
        redacting_logger.exception("failed")

    text = caplog.text
    assert ID_WITH_X not in text and ID_WITH_DIGIT not in text and "13812345678" not in text
    assert "110***********002X" in text and "138****5678" in text and "A001" in text
    assert caplog.records[0].getMessage() == (
        "case accepted for 110***********002X, phone 138****5678, ticket A001"
    )


def test_install_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("hallkit.test.idempotent")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        first = install_log_redaction(logger)
        second = install_log_redaction(logger)
        assert first is second
        assert [f for f in handler.filters if isinstance(f, RedactingFilter)] == [first]
    finally:
        logger.removeHandler(handler)


def test_filter_never_drops_records_with_broken_format_strings() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    assert RedactingFilter().filter(record) is True
