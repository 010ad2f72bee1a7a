"""The receipt check digit is shared: what the backend issues, the kiosk accepts."""

from __future__ import annotations

import random
from datetime import date

from backend.receipts import new_receipt_number
from hallbus.receipts import damm_check_digit, damm_valid, is_well_formed_receipt
from kiosk.identity import receipt_from_scan, receipt_valid


def test_the_worked_example() -> None:
    assert damm_check_digit("572") == "4"
    assert damm_valid("5724")
    assert not damm_valid("5723")


def test_backend_receipts_pass_the_kiosk_checks() -> None:
    rng = random.Random(7)
    for _ in range(200):
        receipt = new_receipt_number(date(2026, 11, 27), rng)
        assert is_well_formed_receipt(receipt)
        assert receipt_valid(receipt)
        assert receipt_from_scan(f"https://hall.example/cases?r={receipt}") == receipt
