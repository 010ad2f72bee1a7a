"""Every text the evaluator shows, in 简体中文 first and English second.

Kept out of the .kv files so the view-model (and its tests) decide what is said,
and the two languages cannot drift apart screen by screen.
"""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["zh", "en"]

# National 好差评 levels, best first, as printed on the key boxes.
LEVELS: Final[tuple[int, ...]] = (5, 4, 3, 2, 1)
LEVEL_LABELS: Final[dict[Language, dict[int, str]]] = {
    "zh": {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"},
    "en": {
        5: "Very satisfied",
        4: "Satisfied",
        3: "Fairly satisfied",
        2: "Dissatisfied",
        1: "Very dissatisfied",
    },
}
# 差评: the bottom two levels ask for reasons and open a rectification item.
BAD_LEVELS: Final = frozenset({1, 2})

# Used when the hall pushes no list of its own (bad_reasons_source: builtin, or
# the hub has not sent one yet).
BUILTIN_BAD_REASONS: Final[tuple[str, ...]] = (
    "服务态度差",
    "办事效率低",
    "一次告知不到位",
    "多次跑动",
    "等候时间长",
    "办事指南不准确",
)

WINDOW_STATES: Final[dict[Language, dict[str, str]]] = {
    "zh": {"open": "正在办理", "paused": "暂停服务", "resting": "休息中", "closed": "暂未开放"},
    "en": {"open": "Open", "paused": "Paused", "resting": "On a break", "closed": "Closed"},
}

_TEXTS: Final[dict[str, dict[Language, str]]] = {
    "window_title": {"zh": "{window} 号窗口", "en": "Window {window}"},
    "employee_no": {"zh": "工号 {no}", "en": "Staff no. {no}"},
    "no_clerk": {"zh": "本窗口暂无工作人员", "en": "No clerk at this window"},
    "stars": {"zh": "服务星级 {stars}", "en": "Service rating {stars}"},
    "stars_none": {"zh": "服务星级 暂无", "en": "Service rating —"},
    "idle_hint": {
        "zh": "办理完成后，请在本机为我们的服务评价",
        "en": "After your service, please rate us on this device",
    },
    "expected_back": {"zh": "预计 {time} 恢复", "en": "Back at {time}"},
    "ask_title": {"zh": "请您对本次服务进行评价", "en": "Please rate this service"},
    "ask_service": {"zh": "{ticket}号 · {matter}", "en": "No. {ticket} · {matter}"},
    "ask_clerk": {"zh": "服务人员 {name}（工号 {no}）", "en": "Served by {name} (no. {no})"},
    "seconds_left": {"zh": "剩余 {s} 秒", "en": "{s} s left"},
    "dimensions_title": {
        "zh": "请为以下方面打分（可跳过）",
        "en": "Please score these aspects (optional)",
    },
    "dimension_progress": {"zh": "第 {i} 项，共 {n} 项", "en": "{i} of {n}"},
    "skip_submit": {"zh": "跳过，提交评价", "en": "Skip and submit"},
    "reasons_title": {
        "zh": "很抱歉！请选择不满意的原因（可多选）",
        "en": "We are sorry. What went wrong? (choose any)",
    },
    "note_hint": {"zh": "其他意见（选填）", "en": "Other comments (optional)"},
    "submit": {"zh": "提交评价", "en": "Submit"},
    "choose_reason_first": {"zh": "请至少选择一项原因", "en": "Choose at least one reason"},
    "back_to_levels": {"zh": "重新选择", "en": "Choose again"},
    "thanks_title": {"zh": "感谢您的评价！", "en": "Thank you for your rating!"},
    "thanks_bad": {
        "zh": "我们会在 1 个工作日内回访，并认真整改",
        "en": "We will call you back within 1 working day and put things right",
    },
    "thanks_good": {"zh": "欢迎您再次光临", "en": "We look forward to serving you again"},
    "expired_title": {"zh": "本次评价已超时", "en": "This rating request has timed out"},
    "expired_body": {
        "zh": "未记录任何评价。如需评价，请告知窗口工作人员",
        "en": "No rating was recorded. Ask the clerk if you would like to rate",
    },
    "offline_title": {"zh": "评价器暂时离线", "en": "The rating device is offline"},
    "offline_body": {
        "zh": "正在重新连接，请稍候。已提交的评价不会丢失",
        "en": "Reconnecting. Ratings already given are kept safely",
    },
    "offline_banner": {
        "zh": "网络中断：评价已保存在本机，恢复后自动上传",
        "en": "Offline: ratings are kept here and sent when back online",
    },
    "language_toggle": {"zh": "English", "en": "中文"},
    "pending_count": {"zh": "待上传评价 {n} 条", "en": "{n} rating(s) waiting to send"},
}


def text(key: str, language: Language, **values: object) -> str:
    return _TEXTS[key][language].format(**values)


def level_label(level: int, language: Language) -> str:
    return LEVEL_LABELS[language][level]


def window_state_label(state: str, language: Language) -> str:
    return WINDOW_STATES[language].get(state, state)


def star_string(stars: float | None) -> str:
    """'★★★★☆ 4.8' — the rounded number of filled stars, then the exact score."""
    if stars is None:
        return ""
    filled = max(0, min(5, round(stars)))
    return "★" * filled + "☆" * (5 - filled) + f" {stars:.1f}"
