"""A hall lists, guides and queues only the matters it handles (issue 14, item 21).

The seeded 杏山街道便民服务中心 (BH-XS) has two queue categories: A 社保就业
(社保分局, 劳动人事社会保障局) and B 社会事务 (社管局, 公安, 农业). Its kiosks
used to be sent the centre's whole catalog (194 matters).
"""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import Database
from backend.models import Hall, Ticket
from tests.conftest import Api

SUBCENTRE = "BH-XS"
SUBCENTRE_DEPARTMENTS = {"SB", "LDRS", "SG", "GA", "NY"}


def _codes(api: Api, query: str) -> list[str]:
    status, body = api.get(f"/api/v1/catalog/search?{query}")
    assert status == 200, body
    return [hit["code"] for hit in body["results"]]


def test_a_subcentre_searches_lists_and_guides_only_its_own_matters(api: Api) -> None:
    handled = _codes(api, f"hall={SUBCENTRE}&limit=100")
    assert {code.split("-")[0] for code in handled} == SUBCENTRE_DEPARTMENTS
    assert len(handled) == 52  # of the centre's 194: every matter of its five departments
    # Searching by name at the sub-centre finds nothing of the centre's business line.
    assert _codes(api, f"q=企业设立&hall={SUBCENTRE}") == []
    assert _codes(api, "q=企业设立")[0] == "GS-001"

    status, body = api.get(f"/api/v1/catalog/departments?hall={SUBCENTRE}")
    assert status == 200
    assert {d["code"] for d in body["departments"]} == SUBCENTRE_DEPARTMENTS
    status, body = api.get("/api/v1/catalog/departments")
    assert len(body["departments"]) > len(SUBCENTRE_DEPARTMENTS)

    # Where to go at the sub-centre: its own category and windows, not the centre's.
    social = next(code for code in handled if code.startswith("SB-"))
    status, centre = api.get(f"/api/v1/catalog/matters/{social}")
    assert status == 200 and centre["queue_category"] == "F"
    status, here = api.get(f"/api/v1/catalog/matters/{social}?hall={SUBCENTRE}")
    assert status == 200, here
    assert (here["queue_category"], here["windows"]) == ("A", ["1", "3"])
    status, body = api.get(f"/api/v1/catalog/matters/GS-001?hall={SUBCENTRE}")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = api.get("/api/v1/catalog/matters/GS-001?hall=NOPE")
    assert status == 404


def test_the_centre_still_handles_its_whole_catalog(api: Api) -> None:
    everything = set(_codes(api, "limit=100"))
    assert set(_codes(api, "hall=BH&limit=100")) == everything
    status, detail = api.get("/api/v1/catalog/matters/GS-001?hall=BH")
    assert status == 200 and detail["queue_category"] == "A"


def test_a_ticket_by_matter_takes_the_halls_own_category(
    api: Api, db: Database, device_token: object
) -> None:
    token = device_token("kiosk-xs", "kiosk", SUBCENTRE)  # type: ignore[operator]
    social = next(code for code in _codes(api, f"hall={SUBCENTRE}&limit=100") if "SB-" in code)
    status, ticket = api.post(
        f"/api/v1/halls/{SUBCENTRE}/tickets", token, json={"matter_code": social}
    )
    assert status in (200, 201), ticket
    assert ticket["category"] == "A" and ticket["number"].startswith("A")

    before = _tickets(db, SUBCENTRE)
    status, body = api.post(
        f"/api/v1/halls/{SUBCENTRE}/tickets", token, json={"matter_code": "GS-001"}
    )
    assert status == 404 and body["error"]["code"] == "not_found", body
    assert _tickets(db, SUBCENTRE) == before  # refused: nothing issued


def _tickets(db: Database, hall: str) -> int:
    with db.reading() as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(Ticket)
                .join(Hall, Hall.id == Ticket.hall_id)
                .where(Hall.code == hall)
            ).scalar_one()
        )
