"""The catalog's exchange format: one validated matter (事项) as it is imported,
exported and seeded. The database models are built from this, never the other
way round, so a spreadsheet row, a YAML seed entry and an API body all pass
through the same checks.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)


class MatterType(enum.StrEnum):
    """事项类型 as the catalog lists them."""

    ADMINISTRATIVE_PERMIT = "行政许可"
    NON_PERMIT = "非行政许可"
    PUBLIC_SERVICE = "公共服务"
    CONVENIENCE = "便民服务"


class MaterialForm(enum.StrEnum):
    ORIGINAL = "原件"
    COPY = "复印件"
    ORIGINAL_AND_COPY = "原件及复印件"


# One alias: a short word or phrase; list separators would split it in the
# spreadsheet, so they cannot be part of one.
Alias = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=2, max_length=40, pattern=r"^[^、，,;；\n]+$"
    ),
]

MATTER_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{1,39}$")


class MaterialSpec(BaseModel):
    """申报材料: one document the applicant brings."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    form: MaterialForm = MaterialForm.ORIGINAL
    count: int = Field(default=1, ge=1, le=99)
    electronic_allowed: bool = False
    note: str = Field(default="", max_length=500)


class MatterSpec(BaseModel):
    """One matter of the service catalog (事项目录)."""

    # Spreadsheet cells arrive with stray spaces; stripping here keeps an
    # import → export → import round trip exact.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    code: str = Field(description="事项编码, unique in the catalog")
    name: str = Field(min_length=2, max_length=200, description="事项名称")
    type: MatterType = Field(description="事项类型")
    department: str = Field(min_length=1, max_length=40, description="实施部门 code")
    promised_days: int = Field(ge=0, le=365, description="承诺时限, working days; 0 = 即办")
    statutory_days: int = Field(ge=0, le=365, description="法定时限, working days")
    materials: tuple[MaterialSpec, ...] = ()
    conditions: str = Field(default="", max_length=4000, description="审批条件")
    legal_basis: str = Field(default="", max_length=4000, description="设定依据")
    fee: str = Field(default="不收费", max_length=1000, description="收费标准; 不收费 when free")
    steps: tuple[str, ...] = Field(default=("受理", "审核", "办结"), description="办理流程")
    online: bool = Field(default=False, description="网上可办")
    queue_category: str = Field(min_length=1, max_length=8, description="排队类别 prefix, e.g. A")
    windows: tuple[str, ...] = Field(
        default=(), description="办理窗口 numbers; empty = any window of the category"
    )
    life_events: tuple[str, ...] = Field(
        default=(), description="生活事件 used to browse at the kiosk"
    )
    keywords: tuple[str, ...] = ()
    # Other names people know the matter by: its old names (工商登记 for what
    # is now 企业设立登记) and the everyday words visitors type (社保, 户口).
    # Searched like the name itself, by characters, pinyin and initials.
    aliases: tuple[Alias, ...] = Field(
        default=(), max_length=20, description="别名: old names and everyday words"
    )

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not MATTER_CODE.match(value):
            raise ValueError("事项编码 must be 2-40 letters, digits, '-', '_' or '.'")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases_distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for alias in value:
            if alias in seen:
                raise ValueError(f"别名“{alias}”重复")
            seen.add(alias)
        return value

    @field_validator("fee")
    @classmethod
    def _empty_fee_is_free(cls, value: str) -> str:
        return value or "不收费"

    @field_validator("steps")
    @classmethod
    def _steps_present(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not step.strip() for step in value):
            raise ValueError("办理流程 needs at least one non-empty step")
        return tuple(step.strip() for step in value)

    @model_validator(mode="after")
    def _promise_within_law(self) -> MatterSpec:
        if self.statutory_days and self.promised_days > self.statutory_days:
            raise ValueError(
                f"承诺时限 {self.promised_days} exceeds 法定时限 {self.statutory_days}"
            )
        return self

    @property
    def is_free(self) -> bool:
        return self.fee.strip() in {"", "不收费", "免费", "free"}
