"""What a ticket call says, in characters (for screens), tone-numbered pinyin (for
espeak-ng's ``cmn-latn-pinyin`` voice), clip names (for recorded clips) and English.

Reading rules, as halls announce them:

* Ticket numbers are read character by character: letters by their letter names,
  digits one by one — A001 → "A 零零一", never "A 一".
* Window numbers are read as numbers: 5 → 五, 12 → 十二, 20 → 二十, 101 → 一百零一.
  A named window (综合受理) is read as written.
* A first call: 请A001号到5号窗口办理.
  A recall:     请A001号再次到5号窗口办理 — the same sentence with 再次 ("again"), so
  listeners recognise the number and the recorded-clip set needs one extra word only.
* A name, when a hall calls by name, is masked before it reaches any text: 张三丰 →
  张*丰 on screen, spoken 张某丰; 张三 → 张*. Strings that look like an ID or phone
  number are refused: announcements never speak them.

espeak-ng's ``cmn`` voice mispronounces characters; ``cmn-latn-pinyin`` with tone numbers
is right. In that voice capital letters are spoken by their letter names (A → "ei"), so
ticket letters pass through as capitals.

English: espeak-ng's English voice reads a lone "A" as the article "a", so the letters
of a ticket are followed by a comma: "Number A, 0 0 1, please go to window 5."
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pypinyin import Style, lazy_pinyin

DIGIT_HANZI = "零一二三四五六七八九"
DIGIT_PINYIN = ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
UNIT_PINYIN = {"十": "shi2", "百": "bai3", "千": "qian1"}
MASK = "*"
SPOKEN_MASK = "某"

_TICKET = re.compile(r"^[A-Z]{0,4}[0-9]{1,6}$")
_NUMERIC_WINDOW = re.compile(r"^[0-9]{1,4}$")
# An ID card (15/18 characters) or a phone number has long digit runs; a name never does.
_DIGITS = re.compile(r"[0-9]")


@dataclass(frozen=True)
class CallText:
    """One announcement in every form an engine may need."""

    zh: str  # for screens and logs: 请A001号到5号窗口办理
    pinyin: str  # for espeak-ng cmn-latn-pinyin: qing3 A ling2 ling2 yi1 hao4 …
    en: str  # optional English line; "" when the hall announces Chinese only
    clip_words: tuple[str, ...]  # clip file stems in speaking order: 请 A 0 0 1 号 …

    def without_english(self) -> CallText:
        return replace(self, en="")


@dataclass(frozen=True)
class _Spoken:
    """A piece of the sentence: how it is written, spoken, and which clips speak it."""

    written: str
    pinyin: tuple[str, ...]
    clips: tuple[str, ...]


def mask_name(name: str) -> str:
    """张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜. Refuses anything with digits."""
    cleaned = "".join(name.split())
    if not cleaned:
        raise ValueError("empty name")
    if _DIGITS.search(cleaned):
        raise ValueError(
            "a name must not contain digits: IDs and phone numbers are never announced"
        )
    if len(cleaned) == 1:
        return cleaned
    if len(cleaned) == 2:
        return cleaned[0] + MASK
    return cleaned[0] + MASK * (len(cleaned) - 2) + cleaned[-1]


def number_hanzi(value: int) -> str:
    """0..9999 as read aloud: 5 → 五, 10 → 十, 12 → 十二, 101 → 一百零一, 1010 → 一千零一十."""
    if not 0 <= value <= 9999:
        raise ValueError(f"{value} is outside 0..9999")
    if value == 0:
        return DIGIT_HANZI[0]
    if 10 <= value <= 19:
        # 十二, not 一十二, when ten stands first.
        return "十" + (DIGIT_HANZI[value - 10] if value > 10 else "")
    parts: list[str] = []
    pending_zero = False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = value // unit_value % 10
        if digit == 0:
            pending_zero = bool(parts)
            continue
        if pending_zero:
            parts.append(DIGIT_HANZI[0])
            pending_zero = False
        parts.append(DIGIT_HANZI[digit] + unit)
    return "".join(parts)


def _hanzi_pinyin(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


def _hanzi_clip_words(text: str) -> tuple[str, ...]:
    """Number characters map to the digit clips 0-9 and the unit clips 十 百 千."""
    return tuple(str(DIGIT_HANZI.index(char)) if char in DIGIT_HANZI else char for char in text)


def _word(text: str) -> _Spoken:
    return _Spoken(text, _hanzi_pinyin(text), (text,))


def _ticket(ticket: str) -> _Spoken:
    pinyin = tuple(
        DIGIT_PINYIN[int(char)] if char.isdigit() else char for char in ticket
    )  # letters stay capitals: the pinyin voice speaks their letter names
    return _Spoken(ticket, pinyin, tuple(ticket))


def _number(value: int) -> _Spoken:
    hanzi = number_hanzi(value)
    pinyin: list[str] = []
    for index, char in enumerate(hanzi):
        following = hanzi[index + 1 : index + 2]
        if char == "一" and following in ("百", "千"):
            pinyin.append("yi4")  # tone sandhi: 一百 is yì bǎi
        elif char in DIGIT_HANZI:
            pinyin.append(DIGIT_PINYIN[DIGIT_HANZI.index(char)])
        else:
            pinyin.append(UNIT_PINYIN[char])
    return _Spoken(str(value), tuple(pinyin), _hanzi_clip_words(hanzi))


def _name(masked: str) -> _Spoken:
    spoken = masked.replace(MASK, SPOKEN_MASK)
    return _Spoken(masked, _hanzi_pinyin(spoken), tuple(spoken))


def normalise_ticket(ticket: str) -> str:
    normalised = ticket.strip().upper()
    if not _TICKET.match(normalised):
        raise ValueError(f"ticket {ticket!r} is not letters followed by digits, e.g. A001")
    return normalised


def _window_parts(window: str) -> list[_Spoken]:
    cleaned = window.strip()
    if not cleaned:
        raise ValueError("empty window")
    if _NUMERIC_WINDOW.match(cleaned):
        return [_number(int(cleaned)), _word("号"), _word("窗口")]
    name = cleaned.removesuffix("窗口")
    if re.search(r"[0-9]", name):
        raise ValueError(f"window {window!r}: use a plain number (5) or a name (综合受理)")
    return [_Spoken(name, _hanzi_pinyin(name), _hanzi_clip_words(name)), _word("窗口")]


def _english(ticket: str, window: str, recall: bool) -> str:
    letters = " ".join(char for char in ticket if char.isalpha())
    digits = " ".join(char for char in ticket if char.isdigit())
    number = f"{letters}, {digits}" if letters else digits
    cleaned = window.strip()
    target = (
        f"window {int(cleaned)}"
        if _NUMERIC_WINDOW.match(cleaned)
        else "the window shown on the screen"
    )
    sentence = f"Number {number}, please go to {target}."
    return f"Second call. {sentence}" if recall else sentence


def call_text(
    ticket: str, window: str, *, recall: bool = False, name: str | None = None
) -> CallText:
    """Build the announcement for calling ``ticket`` to ``window``.

    >>> call_text("A001", "5").zh
    '请A001号到5号窗口办理'
    >>> call_text("A001", "12", recall=True).pinyin
    'qing3 A ling2 ling2 yi1 hao4 zai4 ci4 dao4 shi2 er4 hao4 chuang1 kou3 ban4 li3'
    """
    normalised = normalise_ticket(ticket)
    parts: list[_Spoken] = [_word("请"), _ticket(normalised), _word("号")]
    if name is not None:
        parts.append(_name(mask_name(name)))
    if recall:
        parts.append(_word("再次"))
    parts.append(_word("到"))
    parts.extend(_window_parts(window))
    parts.append(_word("办理"))
    return CallText(
        zh="".join(part.written for part in parts),
        pinyin=" ".join(syllable for part in parts for syllable in part.pinyin),
        en=_english(normalised, window, recall),
        clip_words=tuple(word for part in parts for word in part.clips),
    )
