"""A hall's policy (call order, recalls, ratings follow-up), stored as JSON on the hall row.

Call order at a window, applied by `call_next`:

1. Only waiting tickets of today, in a category the window serves, or
   transferred to this very window.
2. Standing: priority tickets (绿色通道: 老年人 / 残疾人 / 军人 / 孕妇) before
   checked-in appointments before ordinary tickets. An appointment counts as an
   appointment only from its slot start; checked in early, it waits as an
   ordinary ticket whose place in line is the slot start.
3. Anti-starvation ratio (optional, `ordinary_per_preferred`): with N set, after
   a priority/appointment ticket the window calls up to N ordinary tickets before
   the next preferred one, when both kinds wait. None = preferred always first.
4. Within equal standing: the window's weight for the category (higher first,
   so a window serves its main categories before its secondary ones), then
   first come first served by the original issue time (kept across transfers),
   then ticket id.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class HallPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ordinary_per_preferred: int | None = Field(default=2, ge=1, le=20)
    recall_limit: int = Field(default=5, ge=0, le=10, description="重呼 at most this many times")
    # What happens to a 过号 ticket: "none" = it ends as no-show (a clerk may still
    # requeue it by hand); "back" = it goes to the back of its queue automatically.
    no_show_requeue: Literal["none", "back"] = "none"
    requeue_limit: int = Field(default=1, ge=0, le=5)
    auto_invite_rating: bool = True
    rating_timeout_seconds: int = Field(default=60, ge=10, le=600)
    # 差评 follow-up: call the applicant back, then rectify, within these working days
    # (defaults follow common provincial practice, e.g. Zhejiang: 1 and 15).
    callback_working_days: int = Field(default=1, ge=1, le=30)
    rectify_working_days: int = Field(default=15, ge=1, le=90)
    # Smoothing of the rolling average service time (exponentially weighted).
    service_time_smoothing: float = Field(default=0.2, gt=0, le=1)

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> HallPolicy:
        return cls.model_validate(value or {})
