"""The service-guide slice a hall display shows (bundled YAML, editable per hall).

Hall displays may not query the catalogue (the ACL gives them no request topics), so
the guide is a file: the floor directory and the steps of a visit, plus standing
notices that scroll after the hub's own notice.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_GUIDE = Path(__file__).with_name("guide.yaml")


class GuideFloor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    floor: int
    title: str
    title_en: str
    areas: list[str]


class Guide(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    floors: list[GuideFloor] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    steps_en: str = ""
    notices: list[str] = Field(default_factory=list)

    def floors_for(self, floor: int | None) -> list[GuideFloor]:
        """This display's own floor first, then the others."""
        return sorted(self.floors, key=lambda item: (item.floor != floor, item.floor))


def load_guide(path: Path = DEFAULT_GUIDE) -> Guide:
    return Guide.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
