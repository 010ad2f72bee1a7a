from __future__ import annotations

import logging
import time
from datetime import date, datetime

import chinese_calendar
import pytest

from backend.workdays import (
    MAX_WORKING_DAYS,
    DayStatus,
    Deadline,
    Suspension,
    SuspensionKind,
    WorkCalendar,
)

LOGGER_NAME = "backend.workdays"


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar({})


def supplement(start: date, end: date | None) -> Suspension:
    return Suspension(start=start, end=end, kind=SuspensionKind.SUPPLEMENT)


# ---------------------------------------------------------------- 2026 calendar


def test_spring_festival_2026_facts_match_the_package() -> None:
    # The expectations below rely on these published 2026 arrangements.
    for day in range(15, 24):
        assert not chinese_calendar.is_workday(date(2026, 2, day))
    assert date(2026, 2, 14).weekday() == 5 and chinese_calendar.is_workday(date(2026, 2, 14))
    assert date(2026, 2, 28).weekday() == 5 and chinese_calendar.is_workday(date(2026, 2, 28))


def test_twenty_working_days_across_spring_festival(calendar: WorkCalendar) -> None:
    # Accepted Tue 2026-02-10 (not counted).  Counted:
    #  1 Wed 11, 2 Thu 12, 3 Fri 13, 4 Sat 14 (调休), [15..23 Spring Festival],
    #  5 Tue 24, 6 Wed 25, 7 Thu 26, 8 Fri 27, 9 Sat 28 (调休), [Sun 1 Mar],
    #  10..14 Mon 2 - Fri 6 Mar, 15..19 Mon 9 - Fri 13 Mar, 20 Mon 16 Mar.
    deadline = calendar.add_working_days(date(2026, 2, 10), 20)
    assert deadline == Deadline(due=date(2026, 3, 16), provisional=False)


def test_national_day_2026_facts_match_the_package() -> None:
    for day in range(1, 8):
        assert not chinese_calendar.is_workday(date(2026, 10, day))
    assert chinese_calendar.is_workday(date(2026, 9, 20))  # Sunday, 调休
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # Saturday, 调休


def test_national_day_2026(calendar: WorkCalendar) -> None:
    # Accepted Mon 28 Sep: 1 Tue 29, 2 Wed 30, [1..7 Oct], 3 Thu 8, 4 Fri 9,
    # 5 Sat 10 Oct (调休).
    assert calendar.add_working_days(date(2026, 9, 28), 5).due == date(2026, 10, 10)
    # Accepted Fri 18 Sep: Sat 19 is off, Sun 20 is a 调休 working day.
    assert calendar.add_working_days(date(2026, 9, 18), 1).due == date(2026, 9, 20)
    assert calendar.is_workday(date(2026, 10, 10)) == DayStatus(working=True, provisional=False)


def test_start_day_is_not_counted(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(date(2026, 3, 2), 1).due == date(2026, 3, 3)
    # Accepted on a Saturday: the following Monday is the first day counted.
    assert calendar.add_working_days(date(2026, 3, 7), 1).due == date(2026, 3, 9)


def test_deadline_that_would_land_on_a_holiday_moves_to_next_working_day(
    calendar: WorkCalendar,
) -> None:
    # Accepted Tue 29 Sep with 2 days: 1 Wed 30 Sep, then 1-7 Oct are off, so the
    # second day is Thu 8 Oct, not 1 Oct (民法典 Art. 203).
    assert calendar.add_working_days(date(2026, 9, 29), 2).due == date(2026, 10, 8)


def test_immediate_matter_on_a_holiday_is_due_next_working_day(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(date(2026, 10, 3), 0).due == date(2026, 10, 8)
    assert calendar.add_working_days(date(2026, 3, 4), 0).due == date(2026, 3, 4)
    assert calendar.add_working_days(date(2026, 10, 10), 0).due == date(2026, 10, 10)


def test_next_and_previous_workday(calendar: WorkCalendar) -> None:
    assert calendar.next_workday(date(2026, 2, 14)) == date(2026, 2, 24)
    assert calendar.previous_workday(date(2026, 2, 24)) == date(2026, 2, 14)
    assert calendar.next_workday(date(2026, 3, 2)) == date(2026, 3, 3)
    assert calendar.previous_workday(date(2026, 3, 2)) == date(2026, 2, 28)


def test_day_status_is_truthy_only_on_working_days(calendar: WorkCalendar) -> None:
    assert calendar.is_workday(date(2026, 2, 14))
    assert not calendar.is_workday(date(2026, 2, 16))


def test_working_days_between(calendar: WorkCalendar) -> None:
    assert calendar.working_days_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert calendar.working_days_between(date(2026, 3, 2), date(2026, 3, 9)) == 5
    assert calendar.working_days_between(date(2026, 3, 9), date(2026, 3, 2)) == -5
    assert calendar.working_days_between(date(2026, 2, 10), date(2026, 3, 16)) == 20


# ------------------------------------------------------------ overrides, 2027


def test_unknown_year_falls_back_to_weekends_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    calendar = WorkCalendar({})
    # Mon 28 Dec 2026: 1 Tue 29, 2 Wed 30, 3 Thu 31, then the fallback counts
    # Fri 1 Jan 2027 (4), Mon 4 - Fri 8 Jan (5-9), Mon 11 Jan (10).
    deadline = calendar.add_working_days(date(2026, 12, 28), 10)
    assert deadline == Deadline(due=date(2027, 1, 11), provisional=True)

    for offset in range(0, 300, 3):
        calendar.add_working_days(date(2027, 1, 1).replace(day=1 + offset % 28), offset % 40)
    assert calendar.is_workday(date(2027, 6, 5)) == DayStatus(working=False, provisional=True)
    assert calendar.is_workday(date(2027, 6, 7)) == DayStatus(working=True, provisional=True)

    warnings_2027 = [
        r for r in caplog.records if r.levelno == logging.WARNING and "2027" in r.message
    ]
    assert len(warnings_2027) == 1

    calendar.is_workday(date(2028, 3, 1))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2


def test_known_year_deadline_is_not_provisional(calendar: WorkCalendar) -> None:
    assert not calendar.add_working_days(date(2026, 11, 2), 20).provisional


def test_overrides_decide_unknown_dates_and_make_them_certain() -> None:
    new_year_2027 = date(2027, 1, 1)  # Friday
    make_up_saturday = date(2027, 1, 9)
    calendar = WorkCalendar({new_year_2027: False, make_up_saturday: True})

    assert calendar.is_workday(new_year_2027) == DayStatus(working=False, provisional=False)
    assert calendar.is_workday(make_up_saturday) == DayStatus(working=True, provisional=False)
    # Only the overridden Saturday is examined: certain.
    assert calendar.add_working_days(date(2027, 1, 8), 1) == Deadline(
        due=make_up_saturday, provisional=False
    )
    # Thu 31 Dec 2026 + 1: New Year's Day is off now, Sat 2 and Sun 3 are
    # guesses, so the due date moves to Mon 4 Jan and stays provisional.
    assert calendar.add_working_days(date(2026, 12, 31), 1) == Deadline(
        due=date(2027, 1, 4), provisional=True
    )
    assert WorkCalendar({}).add_working_days(date(2026, 12, 31), 1).due == new_year_2027


def test_override_wins_over_the_package_and_the_input_is_copied() -> None:
    overrides = {date(2026, 3, 3): False}
    calendar = WorkCalendar(overrides)
    overrides[date(2026, 3, 4)] = False  # later edits must not leak in
    assert calendar.add_working_days(date(2026, 3, 2), 1).due == date(2026, 3, 4)


def test_invalid_overrides_are_rejected() -> None:
    with pytest.raises(ValueError, match="True"):
        WorkCalendar({date(2026, 3, 3): 0})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"datetime\.date"):
        WorkCalendar({datetime(2026, 3, 3, 9, 0): True})


# ----------------------------------------------------------------- suspensions


def test_supplement_suspension_in_the_middle_extends_the_deadline(
    calendar: WorkCalendar,
) -> None:
    accepted = date(2026, 3, 2)
    assert calendar.add_working_days(accepted, 20).due == date(2026, 3, 30)
    # 补正 Mon 9 - Fri 13 Mar: 3, 4, 5, 6 Mar count (4 used, 16 left); 9-13 do
    # not; from Mon 16: 16-20 (5), 23-27 (10), 30-31 (12), 1-3 Apr (15),
    # 4-6 Apr 清明, Tue 7 Apr (16).
    pause = [supplement(date(2026, 3, 9), date(2026, 3, 13))]
    deadline = calendar.deadline_with_suspensions(accepted, 20, pause)
    assert deadline == Deadline(due=date(2026, 4, 7), provisional=False, suspended=False)
    assert calendar.elapsed_working_days(accepted, date(2026, 4, 7), pause) == 20
    assert calendar.elapsed_working_days(accepted, date(2026, 3, 11), pause) == 4
    assert calendar.elapsed_working_days(accepted, date(2026, 3, 16), pause) == 5


def test_module_docstring_worked_example(calendar: WorkCalendar) -> None:
    pause = [supplement(date(2026, 3, 5), date(2026, 3, 11))]
    deadline = calendar.deadline_with_suspensions(date(2026, 3, 2), 20, pause)
    assert deadline.due == date(2026, 4, 7)


def test_no_suspensions_matches_plain_deadline(calendar: WorkCalendar) -> None:
    for days in (0, 1, 5, 20):
        plain = calendar.add_working_days(date(2026, 2, 13), days)
        assert calendar.deadline_with_suspensions(date(2026, 2, 13), days, []) == plain


def test_open_suspension_has_no_due_date(calendar: WorkCalendar) -> None:
    pause = [supplement(date(2026, 3, 5), None)]
    deadline = calendar.deadline_with_suspensions(date(2026, 3, 2), 20, pause)
    assert deadline == Deadline(due=None, provisional=False, suspended=True)
    assert calendar.elapsed_working_days(date(2026, 3, 2), date(2026, 5, 1), pause) == 2


def test_open_suspension_after_the_time_ran_out_does_not_help(calendar: WorkCalendar) -> None:
    pause = [supplement(date(2026, 3, 20), None)]
    deadline = calendar.deadline_with_suspensions(date(2026, 3, 2), 5, pause)
    assert deadline == Deadline(due=date(2026, 3, 9), provisional=False, suspended=False)


def test_overlapping_suspensions_are_merged(calendar: WorkCalendar) -> None:
    accepted = date(2026, 3, 2)
    single = [supplement(date(2026, 3, 5), date(2026, 3, 11))]
    overlapping = [
        Suspension(date(2026, 3, 9), date(2026, 3, 11), SuspensionKind.EXPERT_ARGUMENTATION),
        supplement(date(2026, 3, 5), date(2026, 3, 9)),
        Suspension(date(2026, 3, 6), date(2026, 3, 10), SuspensionKind.SITE_SURVEY),
        supplement(date(2026, 3, 6), date(2026, 3, 7)),  # nested
    ]
    expected = calendar.deadline_with_suspensions(accepted, 20, single)
    assert calendar.deadline_with_suspensions(accepted, 20, overlapping) == expected
    assert calendar.elapsed_working_days(accepted, date(2026, 3, 20), overlapping) == (
        calendar.elapsed_working_days(accepted, date(2026, 3, 20), single)
    )


def test_open_suspension_swallows_overlapping_closed_ones(calendar: WorkCalendar) -> None:
    pauses = [
        supplement(date(2026, 3, 5), None),
        Suspension(date(2026, 3, 6), date(2026, 3, 9), SuspensionKind.HEARING),
    ]
    assert calendar.deadline_with_suspensions(date(2026, 3, 2), 20, pauses).suspended


def test_two_separate_suspensions(calendar: WorkCalendar) -> None:
    accepted = date(2026, 3, 2)
    # Counted: 3 Mar (1); pause 4-5; 6 (2); 9 (3); pause 10-12; 13 (4), 16 (5).
    pauses = [
        supplement(date(2026, 3, 4), date(2026, 3, 5)),
        Suspension(date(2026, 3, 10), date(2026, 3, 12), SuspensionKind.INSPECTION_TESTING),
    ]
    assert calendar.deadline_with_suspensions(accepted, 5, pauses).due == date(2026, 3, 16)


def test_immediate_matter_with_same_day_supplement(calendar: WorkCalendar) -> None:
    # 即办 accepted Wed 4 Mar, materials asked for the same day, brought Mon 9:
    # due the day they arrive.
    pause = [supplement(date(2026, 3, 4), date(2026, 3, 9))]
    assert calendar.deadline_with_suspensions(date(2026, 3, 4), 0, pause).due == date(2026, 3, 9)


def test_elapsed_equals_time_limit_on_the_due_date(calendar: WorkCalendar) -> None:
    pauses = [
        supplement(date(2026, 2, 12), date(2026, 2, 25)),
        Suspension(date(2026, 3, 3), date(2026, 3, 4), SuspensionKind.TESTING),
    ]
    for days in range(1, 30):
        deadline = calendar.deadline_with_suspensions(date(2026, 2, 10), days, pauses)
        assert deadline.due is not None
        assert calendar.elapsed_working_days(date(2026, 2, 10), deadline.due, pauses) == days


def test_suspension_validation() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        supplement(date(2026, 3, 9), date(2026, 3, 8))
    with pytest.raises(ValueError, match="unknown suspension kind"):
        Suspension(date(2026, 3, 9), None, "coffee break")
    with pytest.raises(ValueError, match="acceptance day"):
        WorkCalendar({}).deadline_with_suspensions(
            date(2026, 3, 9), 5, [supplement(date(2026, 3, 2), date(2026, 3, 3))]
        )


# ------------------------------------------------------- validation, supervision


@pytest.mark.parametrize("days", [-1, True, 2.5, "20", MAX_WORKING_DAYS + 1])
def test_invalid_day_counts_are_rejected(calendar: WorkCalendar, days: object) -> None:
    with pytest.raises(ValueError, match="days"):
        calendar.add_working_days(date(2026, 3, 2), days)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="days"):
        calendar.deadline_with_suspensions(date(2026, 3, 2), days, [])  # type: ignore[arg-type]


def test_datetimes_are_rejected(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="local China date"):
        calendar.add_working_days(datetime(2026, 3, 2, 23, 30), 1)
    with pytest.raises(ValueError, match="local China date"):
        calendar.is_workday("2026-03-02")  # type: ignore[arg-type]


def test_elapsed_rejects_today_before_acceptance(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="before the acceptance day"):
        calendar.elapsed_working_days(date(2026, 3, 2), date(2026, 3, 1), [])


def test_remaining_working_days(calendar: WorkCalendar) -> None:
    due = date(2026, 3, 6)  # Friday
    assert calendar.remaining_working_days(due, date(2026, 3, 4)) == 2
    assert calendar.remaining_working_days(due, due) == 0  # 预警
    assert calendar.remaining_working_days(due, date(2026, 3, 7)) == 0  # Saturday
    assert calendar.remaining_working_days(due, date(2026, 3, 9)) == -1  # 黄牌
    # Due Wed 30 Sep: the holiday week does not make the case more overdue.
    assert calendar.remaining_working_days(date(2026, 9, 30), date(2026, 10, 7)) == 0
    assert calendar.remaining_working_days(date(2026, 9, 30), date(2026, 10, 8)) == -1


def test_cached_deadline_is_fast(calendar: WorkCalendar) -> None:
    starts = [date(2026, 1, 5).replace(day=day) for day in range(5, 25)]
    for start in starts:
        calendar.add_working_days(start, 20)
    began = time.perf_counter()
    rounds = 50
    for _ in range(rounds):
        for start in starts:
            calendar.add_working_days(start, 20)
    per_call = (time.perf_counter() - began) / (rounds * len(starts))
    assert per_call < 0.0005


def test_a_confirmed_year_is_no_longer_provisional() -> None:
    """Item 13 of issue 14: once the year's notice is entered and confirmed, a
    day it does not mention is a working day (or weekend) for certain."""
    guess = WorkCalendar({date(2027, 1, 1): False})
    confirmed = WorkCalendar({date(2027, 1, 1): False}, confirmed_years=[2027])
    assert guess.is_workday(date(2027, 1, 4)).provisional
    assert confirmed.is_workday(date(2027, 1, 4)) == DayStatus(working=True, provisional=False)
    assert confirmed.is_workday(date(2027, 1, 9)) == DayStatus(working=False, provisional=False)
    assert confirmed.is_workday(date(2028, 1, 4)).provisional
    deadline = confirmed.add_working_days(date(2026, 12, 7), 20)
    assert (deadline.due, deadline.provisional) == (date(2027, 1, 5), False)
