"""差评 rectification and appeal pages (item 16 of issue 14), through the Flask
test client on SQLite and PostgreSQL: the department lead's callback →
rectification → follow-up → close, the rated clerk's appeal, the supervisor's
decision, the workbench lists, and what each decision does to the figures."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.errors import BadInput
from backend.models import (
    AppealState,
    AuditEntry,
    Rating,
    RatingAppeal,
    Rectification,
    RectificationState,
    Role,
    Staff,
)
from backend.services import performance as perf
from backend.services import ratings as rating_service
from tests.backend.test_ratings_api import rate, serve
from tests.conftest import Api, FakeClock, clerk_for_window
from tests.web.helpers import Browser

SUPERVISOR = "BH9003"
TODAY = date(2026, 11, 26)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.fixture
def bad_rating(api: Api, db: Database, device_token: Any) -> dict[str, Any]:
    """A 1★ rating of the clerk at window 1, with its 整改 opened."""
    kiosk = device_token("kiosk-1", "kiosk")
    evaluator = device_token("eval-1", "evaluator")
    ticket, _clerk = serve(api, db, kiosk)
    status, body = rate(
        api, evaluator, ticket["id"], 1, "r-bad", reasons=["态度不好"], note="等太久"
    )
    assert status == 201, body
    with db.reading() as session:
        rating = session.execute(select(Rating).where(Rating.rating_uid == "r-bad")).scalar_one()
        item = session.execute(
            select(Rectification).where(Rectification.rating_id == rating.id)
        ).scalar_one()
        leads = session.execute(select(Staff).where(Staff.department_id == item.department_id))
        lead = next(s for s in leads.scalars() if s.has_role(Role.DEPARTMENT_LEAD))
        return {
            "rating_id": rating.id,
            "item_id": item.id,
            "lead": lead.employee_no,
            "clerk": clerk_for_window(db, "1"),
            "staff_id": rating.staff_id,
            "ticket": ticket["display"] if "display" in ticket else ticket.get("number"),
        }


def refused(response: Any, message: str) -> bool:
    """A refused form: back to the page with the reason as an error message."""
    return (
        response.status_code == 200
        and "flash-error" in text(response)
        and message in text(response)
    )


def _signed_in(browser: Browser, employee_no: str) -> Browser:
    other = Browser(browser.client.application.test_client())
    assert other.sign_in(employee_no).status_code == 302
    return other


def _satisfaction(db: Database, staff_id: int) -> Any:
    with db.reading() as session:
        result = perf.summary(
            session, perf.parse_period("2026-11", TODAY), "clerk", perf.Scope(), TODAY
        )
    rows = {item["id"]: item for item in result["items"]}
    return rows[staff_id]["satisfaction"] if staff_id in rows else None


def test_the_lead_takes_a_bad_rating_through_callback_rectification_and_follow_up(
    browser: Browser, db: Database, bad_rating: dict[str, Any]
) -> None:
    lead = _signed_in(browser, bad_rating["lead"])
    item_id = bad_rating["item_id"]
    workbench = text(lead.get("/workbench"))
    assert f'data-rectification="{item_id}"' in workbench  # listed with its deadline
    listing = text(lead.get("/ratings/rectifications"))
    assert f'data-rectification="{item_id}" data-state="open"' in listing
    assert "data-deadline=" in listing
    page = text(lead.get(f"/ratings/rectifications/{item_id}"))
    assert 'data-form="callback"' in page and "态度不好" in page and "等太久" in page

    # Out of order or empty: refused, nothing changes.
    assert refused(
        lead.post(
            f"/ratings/rectifications/{item_id}/rectified", {"outcome": "x"}, follow_redirects=True
        ),
        "须先回访再整改",
    )
    assert refused(
        lead.post(
            f"/ratings/rectifications/{item_id}/callback", {"note": " "}, follow_redirects=True
        ),
        "请填写回访记录",
    )
    assert (
        lead.post(
            f"/ratings/rectifications/{item_id}/callback", {"note": "电话回访，申请人反映等候久"}
        ).status_code
        == 302
    )
    assert (
        lead.post(
            f"/ratings/rectifications/{item_id}/rectified", {"outcome": "增开午间窗口"}
        ).status_code
        == 302
    )
    # No default level: the follow-up answer must be chosen.
    assert refused(
        lead.post(f"/ratings/rectifications/{item_id}/follow-up", {}, follow_redirects=True),
        "请选择申请人复评的满意程度",
    )
    assert (
        lead.post(f"/ratings/rectifications/{item_id}/follow-up", {"level": "4"}).status_code == 302
    )
    with db.reading() as session:
        item = session.get(Rectification, item_id)
        assert item is not None and item.state is RectificationState.CLOSED
        assert item.follow_up_level == 4 and item.outcome == "增开午间窗口"
    assert f'data-rectification="{item_id}"' not in text(lead.get("/workbench"))

    # The rated clerk cannot open the department's rectification pages.
    clerk = _signed_in(browser, bad_rating["clerk"])
    assert clerk.get(f"/ratings/rectifications/{item_id}").status_code == 403


def test_the_rated_clerk_sees_the_rating_without_the_rater_and_appeals(
    browser: Browser, db: Database, bad_rating: dict[str, Any]
) -> None:
    clerk = _signed_in(browser, bad_rating["clerk"])
    mine = text(clerk.get("/ratings/mine"))
    assert f'data-my-rating="{bad_rating["rating_id"]}"' in mine and "态度不好" in mine
    # Nothing that points at the applicant: no ticket, no device, no time of day.
    assert "eval-1" not in mine and "kiosk-1" not in mine
    if bad_rating["ticket"]:
        assert str(bad_rating["ticket"]) not in mine
    url = f"/ratings/{bad_rating['rating_id']}/appeal"
    assert refused(clerk.post(url, {"reason": "误"}, follow_redirects=True), "申诉须写明理由")
    assert clerk.post(url, {"reason": "办事人误触评价器，监控可查"}).status_code == 302
    assert refused(
        clerk.post(url, {"reason": "再次申诉同一评价"}, follow_redirects=True), "申诉正在复核中"
    )
    # Another clerk cannot appeal someone else's rating.
    other = _signed_in(browser, clerk_for_window(db, "2"))
    assert refused(other.post(url, {"reason": "不是我的评价"}, follow_redirects=True), "评价不存在")
    with db.reading() as session:
        appeals = session.execute(select(RatingAppeal)).scalars().all()
        assert [(a.state, a.filed_by_staff_id) for a in appeals] == [
            (AppealState.PENDING, bad_rating["staff_id"])
        ]
    assert 'data-appeal-state="pending"' in text(clerk.get("/ratings/mine"))


@pytest.mark.parametrize("decision", ["upheld", "rejected"])
def test_the_supervisor_decides_and_the_figures_follow(
    browser: Browser, db: Database, bad_rating: dict[str, Any], decision: str
) -> None:
    staff_id = bad_rating["staff_id"]
    assert _satisfaction(db, staff_id) == 0.0  # one 1★ rating
    clerk = _signed_in(browser, bad_rating["clerk"])
    url = f"/ratings/{bad_rating['rating_id']}/appeal"
    assert clerk.post(url, {"reason": "办事人误触评价器，监控可查"}).status_code == 302
    with db.reading() as session:
        appeal_id = session.execute(select(RatingAppeal.id)).scalar_one()

    supervisor = _signed_in(browser, SUPERVISOR)
    assert f'data-pending-appeal="{appeal_id}"' in text(supervisor.get("/workbench"))
    page = text(supervisor.get("/ratings/appeals"))
    assert f'data-pending-appeal="{appeal_id}"' in page
    decide = f"/ratings/appeals/{appeal_id}/decide"
    assert refused(
        supervisor.post(decide, {"decision": decision, "reason": ""}, follow_redirects=True),
        "复核须写明理由",
    )
    assert refused(
        supervisor.post(decide, {"reason": "监控已核实"}, follow_redirects=True),
        "请选择申诉成立或不成立",
    )
    assert (
        supervisor.post(decide, {"decision": decision, "reason": "调阅监控核实"}).status_code == 302
    )
    assert refused(
        supervisor.post(
            decide, {"decision": decision, "reason": "再次复核"}, follow_redirects=True
        ),
        "该申诉已复核",
    )

    with db.reading() as session:
        rating = session.get(Rating, bad_rating["rating_id"])
        appeal = session.get(RatingAppeal, appeal_id)
        item = session.get(Rectification, bad_rating["item_id"])
        assert rating is not None and appeal is not None and item is not None
        assert appeal.decision_reason == "调阅监控核实" and appeal.decided_at is not None
        audit = session.execute(
            select(AuditEntry.detail).where(AuditEntry.action == "rating.appeal_decide")
        ).scalar_one()
        assert audit["upheld"] is (decision == "upheld")
        if decision == "upheld":
            # Set aside from the figures with the reason; the row stays.
            assert appeal.state is AppealState.UPHELD
            assert rating.voided and rating.void_reason == "申诉成立：调阅监控核实"
            assert item.state is RectificationState.VOIDED
        else:
            assert appeal.state is AppealState.REJECTED
            assert not rating.voided and item.state is RectificationState.OPEN
    assert _satisfaction(db, staff_id) == (None if decision == "upheld" else 0.0)
    decided = text(supervisor.get("/ratings/appeals"))
    assert f'data-decided-appeal="{appeal_id}" data-state="{decision}"' in decided
    mine = text(clerk.get("/ratings/mine"))
    assert f'data-appeal-state="{decision}"' in mine and "调阅监控核实" in mine


def test_a_clerk_cannot_decide_and_nobody_decides_their_own_appeal(
    browser: Browser, db: Database, bad_rating: dict[str, Any], clock: FakeClock
) -> None:
    clerk = _signed_in(browser, bad_rating["clerk"])
    url = f"/ratings/{bad_rating['rating_id']}/appeal"
    assert clerk.post(url, {"reason": "办事人误触评价器，监控可查"}).status_code == 302
    with db.reading() as session:
        appeal_id = session.execute(select(RatingAppeal.id)).scalar_one()
    decide = f"/ratings/appeals/{appeal_id}/decide"
    assert clerk.post(decide, {"decision": "upheld", "reason": "我说成立"}).status_code == 403
    assert clerk.get("/ratings/appeals").status_code == 403
    with db.writing() as session, pytest.raises(Exception, match="自己的申诉"):
        rating_service.decide_appeal(
            session,
            appeal_id=appeal_id,
            upheld=True,
            reason="自己复核自己",
            staff_id=bad_rating["staff_id"],
            now=clock(),
            actor="test",
        )
    with db.writing() as session, pytest.raises(BadInput):
        rating_service.record_follow_up(
            session, rectification_id=bad_rating["item_id"], level=9, actor="test"
        )
