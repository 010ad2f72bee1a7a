"""Reading a year's holiday arrangements (节假日安排) for the working-day calendar.

Two sources, one result (:class:`ParsedCalendar`: the days with 休/班 and the
problems found, each with the line it came from):

* :func:`parse_notice` reads the text of the State Council notice
  (e.g. 国务院办公厅关于2027年部分节假日安排的通知) as it is pasted from the
  government website.  Its usual wording, one holiday per item::

      一、元旦：1月1日（周五）至3日（周日）放假调休，共3天。1月4日（周一）上班。
      二、春节：2月6日（农历腊月三十、周六）至12日（周五）放假调休，共7天。
      2月14日（周日）、2月20日（周六）上班。
      七、国庆节：9月30日至10月7日放假调休，共8天。

  A sentence with 放假 declares every day of its range (``M月D日至[M月]D日``,
  or one day) off; a sentence with 上班 declares each date it names a working
  day (调休).  A weekday in brackets (``（周五）``) is checked against the
  date, which catches a notice pasted under the wrong year.  Sentences that
  name no date (the notice's closing paragraph) are left alone; a sentence that
  names a date but neither 放假 nor 上班 is reported, never guessed.
* :func:`parse_table` reads a CSV or YAML file of ``date, 休|班[, note]``.

Nothing here touches the database: the admin calendar page shows the result
as a preview and saves it only when the administrator confirms.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import yaml

__all__ = ["ParsedCalendar", "ParsedDay", "notice_year", "parse_notice", "parse_table"]

MAX_INPUT_CHARS = 50_000
MAX_NOTE_CHARS = 200

_CN_NUMERALS = "一二三四五六七八九十"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# 1月1日（周五）, 2027年1月1日（农历腊月二十八、星期六）
_DATE = re.compile(
    r"(?:(?P<year>\d{4})\s*年\s*)?(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日"
    r"(?:\s*[（(](?P<note>[^）)]*)[）)])?"
)
# The end of a range may leave out the month (至3日) or the year.
_RANGE_END = re.compile(
    r"\s*[至到~－—-]\s*(?:(?P<year>\d{4})\s*年\s*)?(?:(?P<month>\d{1,2})\s*月\s*)?"
    r"(?P<day>\d{1,2})\s*日(?:\s*[（(](?P<note>[^）)]*)[）)])?"
)
_WEEKDAY_IN_NOTE = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])")
_ITEM = re.compile(rf"^\s*[{_CN_NUMERALS}]+\s*[、.．]\s*(?P<name>[^：:]{{1,12}})[：:]")
_NOTICE_YEAR = re.compile(r"(\d{4})\s*年\s*(?:部分)?节假日")

WORKING_WORDS = {"班", "上班", "调休上班", "work", "working", "workday", "1", "true"}
OFF_WORDS = {"休", "休息", "放假", "off", "holiday", "rest", "0", "false"}


@dataclass(frozen=True)
class ParsedDay:
    day: date
    working: bool
    note: str
    line: int  # 1-based line of the input it came from


@dataclass
class ParsedCalendar:
    year: int
    days: list[ParsedDay] = field(default_factory=list)
    # (line, message): shown in the preview; saving is refused while any remain.
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.days)

    def _add(self, day: date, working: bool, note: str, line: int) -> None:
        if day.year != self.year:
            self.problems.append((line, f"{day.isoformat()} 不在 {self.year} 年"))
            return
        for index, existing in enumerate(self.days):
            if existing.day != day:
                continue
            if existing.working != working:
                self.problems.append(
                    (line, f"{day.isoformat()} 同时被写为放假和上班（见第 {existing.line} 行）")
                )
            elif not existing.note and note:
                self.days[index] = ParsedDay(day, working, note, existing.line)
            return
        self.days.append(ParsedDay(day, working, note[:MAX_NOTE_CHARS], line))

    def sorted(self) -> ParsedCalendar:
        self.days.sort(key=lambda item: item.day)
        self.problems.sort()
        return self


def notice_year(text: str) -> int | None:
    """The year a pasted notice is about, from its title, if it has one."""
    found = _NOTICE_YEAR.search(text)
    return int(found.group(1)) if found else None


def _make_date(year: int, month: int, day: int, line: int, result: ParsedCalendar) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        result.problems.append((line, f"{year}年{month}月{day}日 不是有效日期"))
        return None


def _check_weekday(found: date, note: str | None, line: int, result: ParsedCalendar) -> bool:
    weekday = _WEEKDAY_IN_NOTE.search(note or "")
    if weekday is None or _WEEKDAYS[weekday.group(1)] == found.weekday():
        return True
    real = "一二三四五六日"[found.weekday()]
    result.problems.append(
        (
            line,
            f"{found.month}月{found.day}日 在 {found.year} 年是周{real}，"
            f"通知写的是周{weekday.group(1)}：年份是否选对？",
        )
    )
    return False


def _sentence_days(
    sentence: str, year: int, line: int, result: ParsedCalendar
) -> list[tuple[date, date]]:
    """The dates and ranges a sentence names, as (first, last) pairs."""
    spans: list[tuple[date, date]] = []
    position = 0
    while True:
        start = _DATE.search(sentence, position)
        if start is None:
            return spans
        start_year = int(start.group("year") or year)
        first = _make_date(
            start_year, int(start.group("month")), int(start.group("day")), line, result
        )
        position = start.end()
        end = _RANGE_END.match(sentence, position)
        last = first
        if end is not None:
            position = end.end()
            end_month = int(end.group("month") or start.group("month"))
            end_year = int(end.group("year") or start_year)
            if first is not None and not end.group("year") and end_month < first.month:
                end_year += 1  # 12月31日至1月2日: the range runs into the next year
            last = _make_date(end_year, end_month, int(end.group("day")), line, result)
            if last is not None and not _check_weekday(last, end.group("note"), line, result):
                last = None
        if first is not None and not _check_weekday(first, start.group("note"), line, result):
            first = None
        if first is None or last is None:
            continue
        if last < first or (last - first).days > 31:
            result.problems.append(
                (line, f"日期范围 {first.isoformat()} 至 {last.isoformat()} 不合理")
            )
            continue
        spans.append((first, last))


def parse_notice(text: str, year: int) -> ParsedCalendar:
    """The days a pasted State Council notice declares (see the module docstring)."""
    result = ParsedCalendar(year)
    if len(text) > MAX_INPUT_CHARS:
        result.problems.append((0, f"内容过长（最多 {MAX_INPUT_CHARS} 字）"))
        return result
    holiday = ""
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        item = _ITEM.match(line)
        if item is not None:
            holiday = item.group("name").strip()
            line = line[item.end() :]
        for sentence in re.split(r"[。；;]", line):
            # Dates wait for the clause that says what they are: "1月1日至3日
            # 放假，1月4日上班" has both in one sentence.
            waiting: list[tuple[date, date]] = []
            named_a_date = False
            for clause in re.split(r"[，,]", sentence):
                if _DATE.search(clause):
                    named_a_date = True
                    waiting.extend(_sentence_days(clause, year, number, result))
                if "放假" in clause or "休息" in clause:
                    working, note = False, f"{holiday}放假" if holiday else "放假"
                elif "上班" in clause:
                    working, note = True, f"{holiday}调休上班" if holiday else "调休上班"
                else:
                    continue
                for first, last in waiting:
                    day = first
                    while day <= last:
                        result._add(day, working, note, number)
                        day += timedelta(days=1)
                waiting = []
                named_a_date = False
            if named_a_date:
                result.problems.append((number, f"无法判断是放假还是上班：{sentence.strip()[:60]}"))
    if not result.days and not result.problems:
        result.problems.append((0, "没有找到任何放假或上班的日期"))
    return result.sorted()


def _working_word(value: str) -> bool | None:
    word = value.strip().lower()
    if word in WORKING_WORDS:
        return True
    if word in OFF_WORDS:
        return False
    return None


def _table_row(
    result: ParsedCalendar, number: int, day_text: Any, kind_text: Any, note: Any
) -> None:
    if isinstance(day_text, date):
        day: date = day_text
    else:
        try:
            day = date.fromisoformat(str(day_text).strip().replace("/", "-"))
        except ValueError:
            result.problems.append((number, f"日期 {str(day_text)[:20]!r} 格式应为 YYYY-MM-DD"))
            return
    working = _working_word(str(kind_text if kind_text is not None else ""))
    if working is None:
        result.problems.append(
            (number, f"第二列应为「休」或「班」，而不是 {str(kind_text)[:20]!r}")
        )
        return
    result._add(day, working, str(note or "").strip(), number)


def parse_table(content: str, year: int, filename: str = "") -> ParsedCalendar:
    """A CSV (``date,休|班,note``; a header row is allowed) or YAML file (a list
    of ``{date, type, note}`` or a mapping ``date: 休|班``)."""
    result = ParsedCalendar(year)
    if len(content) > MAX_INPUT_CHARS:
        result.problems.append((0, f"内容过长（最多 {MAX_INPUT_CHARS} 字）"))
        return result
    is_yaml = filename.lower().endswith((".yaml", ".yml")) or (
        not filename.lower().endswith(".csv") and ":" in content.split("\n", 1)[0]
    )
    if is_yaml:
        try:
            data = yaml.safe_load(content)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            result.problems.append((mark.line + 1 if mark else 0, "YAML 格式错误"))
            return result
        if isinstance(data, dict):
            for number, (key, value) in enumerate(data.items(), start=1):
                _table_row(result, number, key, value, "")
        elif isinstance(data, list):
            for number, row in enumerate(data, start=1):
                if not isinstance(row, dict):
                    result.problems.append((number, "每一项应包含 date 和 type"))
                    continue
                _table_row(
                    result,
                    number,
                    row.get("date"),
                    row.get("type", row.get("kind")),
                    row.get("note"),
                )
        else:
            result.problems.append((0, "YAML 应为日期列表或「日期: 休/班」映射"))
    else:
        for number, row in enumerate(csv.reader(io.StringIO(content)), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if number == 1 and cells[0].lower() in {"date", "日期"}:
                continue  # header
            if len(cells) < 2:
                result.problems.append((number, "每行应为：日期,休或班[,说明]"))
                continue
            _table_row(result, number, cells[0], cells[1], cells[2] if len(cells) > 2 else "")
    if not result.days and not result.problems:
        result.problems.append((0, "没有找到任何日期"))
    return result.sorted()
