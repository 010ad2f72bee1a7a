"""China working-day calendar and the deadlines (办理时限) counted on it.

Where the rules come from
-------------------------
* 行政许可法 Art. 82: permit time limits are counted in working days; statutory
  holidays are not counted.  A working day is whatever the State Council's annual
  holiday notice says, so 调休 Saturdays and Sundays *are* working days.
* 民法典 Art. 201: the day on which a period starts (the acceptance day, 受理日)
  is not counted; counting begins the next day.
* 民法典 Art. 203: a last day that falls on a holiday moves to the next working
  day.  Counting only working days already guarantees this for a positive number
  of days; for 即办 (zero days) it is applied explicitly.
* 行政许可法 Art. 45: time needed for hearings, tenders, auctions, inspection,
  testing, quarantine, appraisal and expert review (and, in hall practice, site
  surveys) is not counted.  Hall practice treats a request for missing
  materials (补正) the same way: the clock stops and restarts the day after the
  materials arrive.

Where the calendar comes from
-----------------------------
1. The administrator's override table (date -> is working day).  It wins over
   everything, so the hall can enter next year's State Council notice before a
   new ``chinese_calendar`` release ships, or close for a local reason.
2. ``chinese_calendar`` for the years it knows (2004-2026 in release 1.11.0).
3. For any other year: Monday-Friday working, weekends off.  Such a day is
   *provisional*: the real holiday notice may still move it, unless the
   administrator has entered that year's notice and marked the year
   *confirmed* (``confirmed_years``): then a day the notice does not mention
   follows the Monday-Friday rule for certain.  One warning is
   logged per unknown year, never an exception, because a case list must keep
   working on 1 January even when the package has not been upgraded yet.

The counting rule for suspensions (暂停计时), precisely
-------------------------------------------------------
A suspension covers the calendar days ``start .. end``, both included:

* ``start`` is the day the clock stopped (补正告知 issued, hearing opened...).
  Working days strictly after acceptance and strictly before ``start`` count.
* ``end`` is the day the clock's reason ended (materials arrived, expert report
  received).  Like the acceptance day it is not counted (Art. 201 applied to the
  restart); counting resumes on the day after ``end``.
* A suspension with no ``end`` is still open: no due date can be given yet.
* Suspensions that overlap or touch on a shared day are merged first.

Worked example (2026 calendar): accepted Monday 2026-03-02 with 20 working
days.  Without interruption the days counted are 3-6, 9-13, 16-20, 23-27 and
30 March, so the case would be due Monday 2026-03-30 (20th working day).  Now a
补正 notice goes out on Thursday 2026-03-05 and the materials arrive on
Wednesday 2026-03-11:

* counted before the suspension: Tue 3, Wed 4 March -> 2 days used, 18 left;
* not counted: Thu 5 .. Wed 11 March (the notice day, the waiting days, the
  arrival day);
* counted again from Thu 12 March: 12, 13, 16-20, 23-27, 30, 31 March and
  1-3 April are 17 days; 4-6 April is the 清明 holiday; the 18th day is
  Tuesday 2026-04-07, the new due date.

Thread safety: a :class:`WorkCalendar` is immutable after construction apart
from its internal cache; share one per override-table version and build a new
one when an administrator edits the table.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

__all__ = [
    "MAX_WORKING_DAYS",
    "DayStatus",
    "Deadline",
    "Suspension",
    "SuspensionKind",
    "WorkCalendar",
]

_ONE_DAY = timedelta(days=1)

# No time limit in the catalog exceeds a year (catalog promised_days <= 365);
# a much larger number is a data error and would otherwise walk the calendar
# towards date.max.
MAX_WORKING_DAYS = 1000

# Cached day lookups: about 22 years of dates, far more than a case list touches.
_DAY_CACHE_SIZE = 8192


class SuspensionKind(enum.StrEnum):
    """Why the clock stopped.  Each value is a reason the law or hall practice
    allows to be left out of the time limit."""

    SUPPLEMENT = "补正"  # missing materials requested; hall practice
    HEARING = "听证"  # 行政许可法 Art. 45
    TENDER = "招标"  # Art. 45
    AUCTION = "拍卖"  # Art. 45
    INSPECTION = "检验"  # Art. 45
    TESTING = "检测"  # Art. 45
    INSPECTION_TESTING = "检验检测"  # Art. 45, as halls usually record it
    QUARANTINE = "检疫"  # Art. 45
    APPRAISAL = "鉴定"  # Art. 45
    EXPERT_REVIEW = "专家评审"  # Art. 45
    EXPERT_ARGUMENTATION = "专家论证"  # Art. 45, as halls usually record it
    SITE_SURVEY = "踏勘"  # site inspection; excluded in hall practice


@dataclass(frozen=True, slots=True)
class DayStatus:
    """Whether a date is a working day, and whether that answer may still change."""

    working: bool
    # True when the year is not covered by chinese_calendar, not confirmed by
    # the administrator and no override decides the date: the answer is the
    # plain Monday-Friday guess.
    provisional: bool

    def __bool__(self) -> bool:
        # So that ``if calendar.is_workday(day):`` means what it reads as,
        # instead of being always true for a non-empty dataclass.
        return self.working


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed due date (截止日期)."""

    # None only while a suspension is still open (suspended is then True).
    due: date | None
    # True when any day examined came from the weekend-only fallback.
    provisional: bool
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class Suspension:
    """A period during which the clock does not run; see the module docstring
    for which days are counted."""

    start: date
    end: date | None
    kind: str

    def __post_init__(self) -> None:
        _require_date(self.start, "suspension start")
        if self.end is not None:
            _require_date(self.end, "suspension end")
            if self.end < self.start:
                raise ValueError(f"suspension ends ({self.end}) before it starts ({self.start})")
        allowed = {kind.value for kind in SuspensionKind}
        if self.kind not in allowed:
            raise ValueError(
                f"unknown suspension kind {self.kind!r}; expected one of {sorted(allowed)}"
            )


@dataclass(frozen=True, slots=True)
class _MergedSuspension:
    start: date
    end: date | None  # None = still open


class WorkCalendar:
    """The hall's working-day calendar.  See the module docstring for sources."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        logger: logging.Logger | None = None,
        confirmed_years: Iterable[int] = (),
    ) -> None:
        # A private copy: the answers cached below must not change behind our back
        # if the caller later edits the mapping it passed in.
        self._overrides: dict[date, bool] = {}
        for day, working in (overrides or {}).items():
            _require_date(day, "override date")
            if not isinstance(working, bool):
                raise ValueError(
                    f"override for {day} must be True (working) or False (off), got {working!r}"
                )
            self._overrides[day] = working
        self._confirmed_years = frozenset(int(year) for year in confirmed_years)
        self._logger = logger or logging.getLogger(__name__)
        self._warned_years: set[int] = set()
        self._warned_years_lock = threading.Lock()
        # Per-instance cache so each calendar (and its overrides) has its own.
        self._cached_status = functools.lru_cache(maxsize=_DAY_CACHE_SIZE)(self._compute_status)

    # ------------------------------------------------------------------ days

    def is_workday(self, day: date) -> DayStatus:
        """Whether ``day`` is a working day; truthy when it is."""
        _require_date(day, "day")
        return self._cached_status(day)

    def next_workday(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        _require_date(day, "day")
        return self._next_workday(day)[0]

    def previous_workday(self, day: date) -> date:
        """The last working day strictly before ``day``."""
        _require_date(day, "day")
        current = day
        while True:
            current = _step(current, -1)
            if self._cached_status(current).working:
                return current

    # ------------------------------------------------------------- deadlines

    def add_working_days(self, start: date, days: int) -> Deadline:
        """Due date ``days`` working days after acceptance on ``start``.

        ``start`` itself is not counted (民法典 Art. 201).  ``days == 0`` is 即办:
        due on ``start`` if that is a working day, else on the next working day
        (Art. 203).
        """
        _require_date(start, "start")
        _require_day_count(days)
        due, provisional = self._add(start, days)
        return Deadline(due=due, provisional=provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``; negative (counting ``(end, start]``)
        when ``end`` is before ``start``."""
        _require_date(start, "start")
        _require_date(end, "end")
        if end < start:
            return -self.working_days_between(end, start)
        return self._count(start, end + _ONE_DAY)[0]

    def deadline_with_suspensions(
        self, accepted: date, days: int, suspensions: Sequence[Suspension]
    ) -> Deadline:
        """Due date with the clock stopped during ``suspensions`` (Art. 45, 补正).

        Returns ``Deadline(due=None, suspended=True)`` when an open suspension
        started before the time limit ran out.
        """
        _require_date(accepted, "accepted")
        _require_day_count(days)
        merged = _merge_suspensions(accepted, suspensions)

        # ``anchor`` plays the role of the acceptance day: not counted itself.
        anchor = accepted
        left = days
        provisional = False
        for suspension in merged:
            if left == 0:
                # 即办 (or exactly used up): due on the anchor if it is a working
                # day, otherwise the next one, unless the clock stopped first.
                candidate, examined_provisional = self._same_or_next_workday(anchor)
                provisional |= examined_provisional
                if candidate < suspension.start:
                    return Deadline(due=candidate, provisional=provisional)
            else:
                counted, examined_provisional = self._count(anchor, suspension.start)
                provisional |= examined_provisional
                if counted >= left:
                    due, examined_provisional = self._add(anchor, left)
                    return Deadline(due=due, provisional=provisional | examined_provisional)
                left -= counted
            if suspension.end is None:
                return Deadline(due=None, provisional=provisional, suspended=True)
            # Days inside the suspension are skipped without being counted; they
            # do not affect the result, so they do not make it provisional.
            anchor = suspension.end
        due, examined_provisional = self._add(anchor, left)
        return Deadline(due=due, provisional=provisional | examined_provisional)

    def elapsed_working_days(
        self, accepted: date, today: date, suspensions: Sequence[Suspension]
    ) -> int:
        """Working days used so far: in ``(accepted, today]`` and outside every
        suspension.  Equals the time limit on the due date."""
        _require_date(accepted, "accepted")
        _require_date(today, "today")
        if today < accepted:
            raise ValueError(f"today ({today}) is before the acceptance day ({accepted})")
        merged = _merge_suspensions(accepted, suspensions)
        stop_before = today + _ONE_DAY
        anchor = accepted
        used = 0
        for suspension in merged:
            if suspension.start >= stop_before:
                break
            used += self._count(anchor, suspension.start)[0]
            if suspension.end is None or suspension.end >= today:
                return used
            anchor = suspension.end
        return used + self._count(anchor, stop_before)[0]

    def remaining_working_days(self, deadline_due: date, today: date) -> int:
        """Working days left until ``deadline_due``.

        0 on the due day itself (预警: the last working day), -1 on the first
        working day after it (黄牌), and so on.  On a non-working day the count
        does not move, so a Saturday after a Friday due date still gives 0:
        compare ``today > deadline_due`` to know whether the date has passed.
        """
        return self.working_days_between(today, deadline_due)

    # -------------------------------------------------------------- internals

    def _compute_status(self, day: date) -> DayStatus:
        override = self._overrides.get(day)
        if override is not None:
            return DayStatus(working=override, provisional=False)
        try:
            return DayStatus(working=chinese_calendar.is_workday(day), provisional=False)
        except NotImplementedError:
            # The package has no holiday data for this year (not yet released,
            # or before 2004).  A confirmed year's notice is all in the
            # overrides, so the weekday rule is certain; otherwise it is a
            # guess, and the answer says so.
            if day.year in self._confirmed_years:
                return DayStatus(working=day.weekday() < 5, provisional=False)
            self._warn_unknown_year(day.year)
            return DayStatus(working=day.weekday() < 5, provisional=True)

    def _warn_unknown_year(self, year: int) -> None:
        with self._warned_years_lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        self._logger.warning(
            "No official holiday data for %d: treating Monday-Friday as working days. "
            "Enter the State Council holiday notice as calendar overrides or upgrade "
            "chinesecalendar; deadlines in %d are marked provisional.",
            year,
            year,
        )

    def _next_workday(self, day: date) -> tuple[date, bool]:
        provisional = False
        current = day
        while True:
            current = _step(current, 1)
            status = self._cached_status(current)
            provisional |= status.provisional
            if status.working:
                return current, provisional

    def _same_or_next_workday(self, day: date) -> tuple[date, bool]:
        status = self._cached_status(day)
        if status.working:
            return day, status.provisional
        following, provisional = self._next_workday(day)
        return following, provisional | status.provisional

    def _add(self, start: date, days: int) -> tuple[date, bool]:
        if days == 0:
            return self._same_or_next_workday(start)
        provisional = False
        current = start
        for _ in range(days):
            current, examined_provisional = self._next_workday(current)
            provisional |= examined_provisional
        return current, provisional

    def _count(self, after: date, before: date) -> tuple[int, bool]:
        """Working days strictly between ``after`` and ``before``."""
        counted = 0
        provisional = False
        current = after + _ONE_DAY
        while current < before:
            status = self._cached_status(current)
            provisional |= status.provisional
            counted += status.working
            current += _ONE_DAY
        return counted, provisional


def _merge_suspensions(
    accepted: date, suspensions: Iterable[Suspension]
) -> list[_MergedSuspension]:
    """Sort and merge suspensions that overlap or share a day."""
    ordered = sorted(suspensions, key=lambda suspension: suspension.start)
    merged: list[_MergedSuspension] = []
    for suspension in ordered:
        if not isinstance(suspension, Suspension):
            raise ValueError(f"expected a Suspension, got {suspension!r}")
        if suspension.start < accepted:
            raise ValueError(
                f"{suspension.kind} suspension starts ({suspension.start}) before the "
                f"acceptance day ({accepted})"
            )
        if merged:
            last = merged[-1]
            if last.end is None:
                continue  # an open suspension already covers everything after it
            if suspension.start <= last.end:
                if suspension.end is None or suspension.end > last.end:
                    merged[-1] = _MergedSuspension(last.start, suspension.end)
                continue
        merged.append(_MergedSuspension(suspension.start, suspension.end))
    return merged


def _require_date(value: object, what: str) -> None:
    # datetime is a subclass of date; accepting it would split the cache and
    # hide a time-zone decision (a UTC timestamp can be the next day in China).
    if isinstance(value, _dt.datetime) or not isinstance(value, date):
        raise ValueError(f"{what} must be a datetime.date (local China date), got {value!r}")


def _require_day_count(days: object) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"days must be a whole number of working days, got {days!r}")
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    if days > MAX_WORKING_DAYS:
        raise ValueError(f"days must be at most {MAX_WORKING_DAYS}, got {days}")


def _step(day: date, direction: int) -> date:
    try:
        return day + timedelta(days=direction)
    except OverflowError:
        raise ValueError(f"no working day found before the calendar ends at {day}") from None
