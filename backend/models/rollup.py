"""Daily performance roll-ups (绩效日汇总): per-day aggregates of tickets, decided
cases and ratings, so a year of 绩效 reads a few thousand rows instead of a
million. Written only by backend.services.rollup (delete + insert per day);
read by backend.services.performance. Design and error bounds:
docs/supervision.md "Daily roll-ups".

Core tables rather than ORM classes: the rows are never loaded as objects, and
the 2 × 61 histogram columns are generated, not spelled out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Table,
    text,
)

from backend.models.base import Base, UTCDateTime

# Waiting and service times are counted in one-minute buckets [0, 1), [1, 2) …
# [59, 60) minutes plus one overflow bucket (≥ 60 min, bounded by the stored
# maximum). p90 from these has an error below one bucket (60 s) under 60 min.
BUCKET_SECONDS = 60
HISTOGRAM_BUCKETS = 61  # 60 one-minute buckets + overflow
WAIT_COLUMNS = tuple(f"w{index:02d}" for index in range(HISTOGRAM_BUCKETS))
SERVICE_COLUMNS = tuple(f"s{index:02d}" for index in range(HISTOGRAM_BUCKETS))


def _count(name: str) -> Column[int]:
    return Column(name, Integer, nullable=False, server_default="0")


def _day_keys(*dimensions: str) -> list[Column[Any]]:
    """The key every roll-up row starts with: its own id, the hall-local day,
    the hall, then the breakdown columns (department / window / staff)."""
    references = {
        "department_id": "departments.id",
        "window_id": "windows.id",
        "staff_id": "staff.id",
    }
    return [
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("day", Date, nullable=False),
        Column("hall_id", ForeignKey("halls.id"), nullable=False),
        *(Column(name, ForeignKey(references[name]), nullable=True) for name in dimensions),
    ]


# Tickets by service day, window and the clerk who called them. The department
# is not stored: it is the clerk's current department, joined at read time
# exactly as the raw query does.
ticket_days = Table(
    "perf_ticket_days",
    Base.metadata,
    *_day_keys("window_id", "staff_id"),
    _count("issued"),
    _count("served"),
    _count("wait_count"),
    Column("wait_sum", Float, nullable=False, server_default="0"),
    Column("wait_max", Float, nullable=True),
    _count("service_count"),
    Column("service_sum", Float, nullable=False, server_default="0"),
    Column("service_max", Float, nullable=True),
    *(_count(name) for name in WAIT_COLUMNS),
    *(_count(name) for name in SERVICE_COLUMNS),
    Index("ix_perf_ticket_days_day", "day", "hall_id"),
)

# Decided cases (办结/发证/不予许可) by hall-local day of completed_at.
case_days = Table(
    "perf_case_days",
    Base.metadata,
    *_day_keys("department_id", "window_id", "staff_id"),  # staff: the handler
    _count("completed"),
    _count("on_time"),
    Index("ix_perf_case_days_day", "day", "hall_id"),
)

# Ratings by hall-local day of rated_at. Levels count valid (not voided)
# ratings only; the 整改 columns follow the two documented definitions
# (performance: ``rectifications``/``rectified``; 好差评 report: bad ratings
# ``bad_called_back``/``bad_rectified``).
rating_days = Table(
    "perf_rating_days",
    Base.metadata,
    *_day_keys("department_id", "window_id", "staff_id"),
    *(_count(f"level{level}") for level in range(1, 6)),
    _count("voided"),
    _count("rectifications"),
    _count("rectified"),
    _count("bad_called_back"),
    _count("bad_rectified"),
    Index("ix_perf_rating_days_day", "day", "hall_id"),
)

# The heat map: tickets by service day, clerk, ISO weekday and hour of issue
# (hall-local), with the waiting sum of the called ones.
heat_days = Table(
    "perf_heat_days",
    Base.metadata,
    *_day_keys("staff_id"),
    Column("weekday", SmallInteger, nullable=False),
    Column("hour", SmallInteger, nullable=False),
    _count("tickets"),
    _count("wait_count"),
    Column("wait_sum", Float, nullable=False, server_default="0"),
    Index("ix_perf_heat_days_day", "day", "hall_id"),
)

# Which days are rolled up and when. A day without a row here is read from the
# raw tables, so the pages are right before the first backfill too.
rollup_days = Table(
    "perf_rollup_days",
    Base.metadata,
    Column("day", Date, primary_key=True),
    Column("refreshed_at", UTCDateTime(), nullable=False),
)

# One row (id 1): up to when late changes to old days (a rating voided on
# appeal, a 整改 called back or rectified) have been folded into the roll-ups.
rollup_state = Table(
    "perf_rollup_state",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("changes_checked_at", UTCDateTime(), nullable=True),
)


def _declare_query_indexes() -> None:
    """Finding ratings voided since the last refresh must not scan every rating."""
    from backend.models.ratings import Rating

    voided = text("voided_at IS NOT NULL")
    Index("ix_ratings_voided_at", Rating.voided_at, sqlite_where=voided, postgresql_where=voided)


_declare_query_indexes()
