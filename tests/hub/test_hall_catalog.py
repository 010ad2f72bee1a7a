"""A sub-centre's kiosks are sent what that hall handles, not the centre's catalog.

The hub's catalogue digest (the kiosks' departments, life events and matter →
category map) loaded over HTTP from the real backend, once as the centre's hub
and once as the hub of the seeded 杏山街道便民服务中心 (BH-XS).
"""

from __future__ import annotations

import threading

from hub.backend import BackendClient
from hub.kiosk_state import load_catalog_digest
from tests.hub.conftest import Hall


def _digest_for(hall: Hall, hall_code: str) -> tuple[set[str], dict[str, str]]:
    backend = BackendClient(hall.backend.url, hall.hub_token, hall_code, timeout_s=5)
    try:
        digest = load_catalog_digest(backend, threading.Event())
    finally:
        backend.close()
    return {d.code for d in digest.departments}, digest.matter_categories


def test_a_subcentre_kiosk_lists_the_matters_that_hall_handles(mosquitto_hall: Hall) -> None:
    centre_departments, centre_matters = _digest_for(mosquitto_hall, "BH")
    departments, matters = _digest_for(mosquitto_hall, "BH-XS")

    assert len(centre_matters) == 194
    assert departments == {"SB", "LDRS", "SG", "GA", "NY"} < centre_departments
    assert len(matters) == 52 and set(matters) < set(centre_matters)
    # Each matter in the sub-centre's own categories (A 社保就业, B 社会事务).
    assert set(matters.values()) == {"A", "B"}
    assert {matters[c] for c in matters if c.startswith(("SB-", "LDRS-"))} == {"A"}
    assert {matters[c] for c in matters if c.startswith(("SG-", "GA-", "NY-"))} == {"B"}
    assert centre_matters["GS-001"] == "A" and "GS-001" not in matters
