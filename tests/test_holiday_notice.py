"""The State Council notice parser and the CSV/YAML calendar import."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from backend.holiday_notice import notice_year, parse_notice, parse_table

# The notice for 2026 (国办发明电〔2025〕7号) as pasted from the government site.
NOTICE_2026 = """国务院办公厅关于2026年部分节假日安排的通知
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
三、清明节：4月4日（周六）至6日（周一）放假，共3天。
四、劳动节：5月1日（周五）至5日（周二）放假调休，共5天。5月9日（周六）上班。
五、端午节：6月19日（周五）至21日（周日）放假，共3天。
六、中秋节：9月25日（周五）至27日（周日）放假，共3天。
七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
节假日期间，各地区、各部门要妥善安排好值班和安全、保卫、疫情防控等工作。
"""


def test_the_2026_notice_gives_exactly_the_calendar_package_days() -> None:
    assert notice_year(NOTICE_2026) == 2026
    parsed = parse_notice(NOTICE_2026, 2026)
    assert parsed.ok, parsed.problems
    declared = {item.day: item.working for item in parsed.days}
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert declared.get(day, day.weekday() < 5) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    assert {item.day: item.note for item in parsed.days}[date(2026, 2, 28)] == "春节调休上班"
    assert {item.day: item.note for item in parsed.days}[date(2026, 10, 1)] == "国庆节放假"


def test_a_notice_under_the_wrong_year_is_caught_by_its_weekdays() -> None:
    parsed = parse_notice(NOTICE_2026, 2027)
    assert not parsed.ok
    assert any("年份是否选对" in message for _line, message in parsed.problems)


def test_holiday_and_working_day_in_one_sentence_and_a_range_across_months() -> None:
    parsed = parse_notice("国庆节：9月30日至10月7日放假调休，共8天，10月10日（周日）上班。", 2027)
    assert parsed.ok, parsed.problems
    days = {item.day: item.working for item in parsed.days}
    assert len(days) == 9 and days[date(2027, 9, 30)] is False
    assert days[date(2027, 10, 10)] is True


def test_a_date_without_放假_or_上班_and_a_conflict_are_reported_not_guessed() -> None:
    unclear = parse_notice("一、元旦：1月1日（周五）另行通知。", 2027)
    assert not unclear.ok and "无法判断" in unclear.problems[0][1]
    conflict = parse_notice("1月1日放假。\n1月1日上班。", 2027)
    assert not conflict.ok and "同时被写为放假和上班" in conflict.problems[0][1]
    assert not parse_notice("没有日期的文字", 2027).ok
    assert not parse_notice("2月30日放假。", 2027).ok


def test_csv_and_yaml_tables() -> None:
    table = parse_table("日期,类型,说明\n2027-01-01,休,元旦\n2027/01/09,班\n", 2027, "a.csv")
    assert table.ok
    assert [(d.day, d.working, d.note) for d in table.days] == [
        (date(2027, 1, 1), False, "元旦"),
        (date(2027, 1, 9), True, ""),
    ]
    listed = parse_table("- {date: 2027-01-01, type: 休, note: 元旦}\n", 2027, "a.yaml")
    assert listed.ok and listed.days[0].note == "元旦"
    mapping = parse_table("2027-01-01: 休\n2027-01-09: 班\n", 2027, "a.yml")
    assert mapping.ok and len(mapping.days) == 2
    bad = parse_table("2027-13-01,休\n2027-01-02,maybe\n2026-05-01,休\n", 2027, "a.csv")
    assert [line for line, _message in bad.problems] == [1, 2, 3]
    assert not parse_table("- [unclosed\n", 2027, "a.yaml").ok
