"""The daily cap (每日限号) counts tickets issued, not numbers reserved for the hub.

The hub keeps a block of numbers per category for offline issuing
(docs/hub.md). Those numbers are not tickets until the hub reports them back,
so a block of 50 must not eat 50 of a category's daily cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from backend.db import Database
from backend.errors import QueueUnavailable
from backend.models import Hall, QueueCategory, Ticket
from backend.services import queue

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in the hall
BLOCK = 50


def hall_id(db: Database) -> int:
    with db.reading() as session:
        return session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one()


def cap_category_c(db: Database, cap: int) -> None:
    with db.writing() as session:
        session.execute(
            update(QueueCategory)
            .where(QueueCategory.prefix == "C", QueueCategory.hall_id == hall_id(db))
            .values(daily_cap=cap, number_start=1, number_end=999)
        )


def reserve(db: Database, size: int = BLOCK) -> tuple[int, int]:
    with db.writing() as session:
        block = queue.reserve_block(
            session, hall_id=hall_id(db), category_prefix="C", size=size, now=T0, actor="hub"
        )
        return block.first_number, block.last_number


def issue_online(db: Database) -> str:
    with db.writing() as session:
        view = queue.issue_ticket(
            session, hall_id=hall_id(db), category_prefix="C", now=T0, actor="kiosk"
        )
        return view.number


def import_offline(db: Database, number: int) -> str:
    with db.writing() as session:
        view = queue.import_offline_ticket(
            session,
            hall_id=hall_id(db),
            category_prefix="C",
            number=number,
            issued_at=T0 + timedelta(seconds=number),
            client_request_id=f"offline-{number}",
            device_id="kiosk-1",
            priority_kind=None,
            actor="hub",
        )
        return view.number


def tickets_of_c(db: Database) -> int:
    with db.reading() as session:
        return int(
            session.execute(
                select(func.count(Ticket.id)).where(Ticket.display.like("C%"))
            ).scalar_one()
        )


def issue_until_refused(db: Database, limit: int) -> list[str]:
    numbers = []
    for _ in range(limit):
        try:
            numbers.append(issue_online(db))
        except QueueUnavailable:
            break
    return numbers


def test_a_block_of_50_leaves_a_cap_of_53_to_online_tickets(db: Database) -> None:
    cap_category_c(db, 53)
    assert reserve(db) == (1, BLOCK)
    numbers = issue_until_refused(db, 60)
    assert len(numbers) == 53
    assert numbers[0] == "C051" and numbers[-1] == "C103"
    assert tickets_of_c(db) == 53


def test_a_cap_of_50_still_issues_online_beside_a_block_of_50(db: Database) -> None:
    cap_category_c(db, 50)
    reserve(db)
    numbers = issue_until_refused(db, 60)
    assert len(numbers) == 50 and numbers[0] == "C051"


def test_offline_tickets_reported_back_count_and_are_kept_past_the_cap(db: Database) -> None:
    cap_category_c(db, 3)
    first, _last = reserve(db, 10)
    assert [import_offline(db, first), import_offline(db, first + 1)] == ["C001", "C002"]
    assert issue_online(db) == "C011"  # the third ticket of the day
    with pytest.raises(QueueUnavailable):
        issue_online(db)  # the cap counted the two offline tickets
    # A person already holds this printed number: it is stored, never dropped.
    assert import_offline(db, first + 2) == "C003"
    assert tickets_of_c(db) == 4
    with pytest.raises(QueueUnavailable):
        issue_online(db)


def test_reserving_blocks_is_not_refused_by_the_cap(db: Database) -> None:
    cap_category_c(db, 5)
    reserve(db, 50)
    reserve(db, 50)  # a top-up: numbers, not capacity
    assert issue_online(db) == "C101"
