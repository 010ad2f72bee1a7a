from __future__ import annotations

import random
import re
from datetime import date, datetime

import pytest

from backend.receipts import (
    RECEIPT_NUMBER_LENGTH,
    damm_check_digit,
    is_well_formed_receipt,
    new_public_token,
    new_receipt_number,
    receipt_date,
)

TODAY = date(2026, 11, 27)


def sample_receipts(count: int) -> list[str]:
    rng = random.Random(20261127)  # reproducible sample for the error-detection tests
    return [new_receipt_number(TODAY, rng) for _ in range(count)]


def test_format() -> None:
    receipt = new_receipt_number(TODAY)
    assert len(receipt) == RECEIPT_NUMBER_LENGTH == 17
    assert re.fullmatch(r"20261127\d{9}", receipt)
    assert is_well_formed_receipt(receipt)
    assert receipt_date(receipt) == TODAY


def test_known_damm_value() -> None:
    # The worked example of the Damm algorithm: 572 -> check digit 4.
    assert damm_check_digit("572") == "4"
    assert is_well_formed_receipt("20261127" + "00000000" + damm_check_digit("2026112700000000"))


def test_every_single_digit_typo_is_caught() -> None:
    for receipt in sample_receipts(200):
        for position in range(len(receipt)):
            for digit in "0123456789":
                if digit != receipt[position]:
                    typo = receipt[:position] + digit + receipt[position + 1 :]
                    assert not is_well_formed_receipt(typo), (receipt, typo)


def test_every_adjacent_transposition_is_caught() -> None:
    for receipt in sample_receipts(1000):
        for position in range(len(receipt) - 1):
            first, second = receipt[position], receipt[position + 1]
            if first != second:
                swapped = receipt[:position] + second + first + receipt[position + 2 :]
                assert not is_well_formed_receipt(swapped), (receipt, swapped)


def test_ten_thousand_numbers_are_distinct_up_to_the_birthday_bound() -> None:
    # 10,000 draws from 10^8 numbers a day collide 0.5 times on average
    # (n^2 / 2N), so exact distinctness cannot be promised by any short format;
    # that is what the caller's retry on the UNIQUE constraint is for.  More
    # than 5 repeats has a probability below 2e-5 and would mean a broken
    # generator (for example one that ignores most of its randomness).
    receipts = [new_receipt_number(TODAY) for _ in range(10_000)]
    repeats = len(receipts) - len(set(receipts))
    assert repeats <= 5


def test_every_random_position_uses_every_digit() -> None:
    receipts = [new_receipt_number(TODAY) for _ in range(10_000)]
    for position in range(8, 16):
        assert {receipt[position] for receipt in receipts} == set("0123456789")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        None,
        20261127123456780,
        "2026112712345678",  # 16 digits
        "202611271234567890",  # 18 digits
        "2026113112345678" + "0",  # 31 November
        "2026112712345A780",
        "２０２６１１２７１２３４５６７８０",  # full-width digits
        " 2026112712345678",
    ],
)
def test_garbage_is_rejected(value: object) -> None:
    assert not is_well_formed_receipt(value)


def test_receipt_date_rejects_malformed_input() -> None:
    with pytest.raises(ValueError, match="receipt"):
        receipt_date("20261127")


def test_new_receipt_rejects_datetimes() -> None:
    with pytest.raises(ValueError, match="local China date"):
        new_receipt_number(datetime(2026, 11, 27, 8, 30))


def test_public_token_is_long_url_safe_and_unique() -> None:
    tokens = {new_public_token() for _ in range(1000)}
    assert len(tokens) == 1000
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 256 bits
