"""Every JSON example in docs/protocol.md is a valid payload of the model it is labelled with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from hallbus import messages
from hallbus.codec import decode

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLE = re.compile(r"<!-- model: (\w+) -->\n```json\n(.*?)\n```", re.DOTALL)
EXAMPLES = EXAMPLE.findall(DOC.read_text(encoding="utf-8"))


def test_the_document_has_an_example_for_every_payload() -> None:
    labelled = {name for name, _ in EXAMPLES}
    assert labelled >= {
        "RequestEnvelope",
        "Response",
        "ErrorReply",
        "TakeTicket",
        "TicketIssued",
        "CatalogSearch",
        "CatalogResults",
        "CaseLookup",
        "CaseStatus",
        "SubmitRating",
        "RatingAccepted",
        "WindowDisplayState",
        "HallCallList",
        "CallEvent",
        "RateNow",
        "ConfigPush",
        "MatterDetailRequest",
        "MatterDetail",
        "KioskState",
        "DeviceHealth",
    }


@pytest.mark.parametrize(("model_name", "example"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_validates(model_name: str, example: str) -> None:
    model = getattr(messages, model_name)
    assert issubclass(model, BaseModel)
    decode(model, example.encode("utf-8"))
