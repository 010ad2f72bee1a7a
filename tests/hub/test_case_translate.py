"""The hub's translation of a case view into CaseStatus: a provisional due date
reaches the kiosk marked as such (item 4 of issue 14), and only then."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from hallbus.codec import encode
from hub.translate import case_status

ZONE = ZoneInfo("Asia/Shanghai")


def _view(due_on: str, provisional: bool) -> dict[str, object]:
    return {
        "receipt_number": "20261207000000017",
        "matter": {"name": "建设工程规划许可"},
        "state": "accepted",
        "step": "受理",
        "due_on": due_on,
        "due_provisional": provisional,
        "next_step": "已受理，等待承办",
        "timeline": [{"at": "2026-12-07T10:00:00+08:00", "step": "受理", "action": "accept"}],
    }


def test_a_provisional_due_date_is_marked_and_a_final_one_is_unchanged() -> None:
    provisional = case_status(_view("2027-01-04", True), ZONE)
    assert provisional.promised_provisional is True
    assert json.loads(encode(provisional))["promised_provisional"] is True
    final = case_status(_view("2026-12-11", False), ZONE)
    assert final.promised_provisional is None
    # Left out of the JSON, so a kiosk from before the field accepts it.
    assert "promised_provisional" not in json.loads(encode(final))
