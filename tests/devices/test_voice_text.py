from __future__ import annotations

import pytest

from devices.voice.text import call_text, mask_name, number_hanzi


def test_first_call_reads_ticket_digits_one_by_one() -> None:
    text = call_text("A001", "5")
    assert text.zh == "请A001号到5号窗口办理"
    assert text.pinyin == "qing3 A ling2 ling2 yi1 hao4 dao4 wu3 hao4 chuang1 kou3 ban4 li3"
    assert text.en == "Number A, 0 0 1, please go to window 5."
    assert text.clip_words == ("请", "A", "0", "0", "1", "号", "到", "5", "号", "窗口", "办理")


def test_windows_are_read_as_numbers() -> None:
    assert "dao4 shi2 er4 hao4" in call_text("B010", "12").pinyin
    assert "dao4 er4 shi2 hao4" in call_text("B010", "20").pinyin
    assert "dao4 yi4 bai3 ling2 yi1 hao4" in call_text("B010", "101").pinyin
    # ...while the ticket B010 is still digit by digit
    assert call_text("B010", "12").pinyin.startswith("qing3 B ling2 yi1 ling2 hao4")
    assert call_text("B010", "12").clip_words[7:9] == ("十", "2")


@pytest.mark.parametrize(
    ("value", "hanzi"),
    [(0, "零"), (5, "五"), (10, "十"), (12, "十二"), (20, "二十"), (101, "一百零一"),
     (110, "一百一十"), (1010, "一千零一十"), (9999, "九千九百九十九")],
)  # fmt: skip
def test_number_hanzi(value: int, hanzi: str) -> None:
    assert number_hanzi(value) == hanzi


def test_recall_wording() -> None:
    text = call_text("a001", "5", recall=True)
    assert text.zh == "请A001号再次到5号窗口办理"
    assert "hao4 zai4 ci4 dao4" in text.pinyin
    assert text.en.startswith("Second call. Number A, 0 0 1")


def test_named_window() -> None:
    text = call_text("C7", "综合受理窗口")
    assert text.zh == "请C7号到综合受理窗口办理"
    assert "zong1 he2 shou4 li3 chuang1 kou3" in text.pinyin
    assert "window shown on the screen" in text.en


def test_names_are_masked_everywhere() -> None:
    text = call_text("A001", "5", name="张三丰")
    assert text.zh == "请A001号张*丰到5号窗口办理"
    assert "zhang1 mou3 feng1" in text.pinyin
    assert "san1" not in text.pinyin and "三" not in text.zh
    assert "张" not in text.en
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"


def test_ids_and_phone_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="never announced"):
        call_text("A001", "5", name="13800138000")
    with pytest.raises(ValueError, match="never announced"):
        mask_name("张三 110101199003071234")
    with pytest.raises(ValueError):
        call_text("A-001", "5")
