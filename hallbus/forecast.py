"""The wait forecast: one rule for every screen and ticket that says "约 N 分钟".

The backend computes it for the ticket it issues (people ahead) and for each
category's queue in the hall status (people waiting); the hub recomputes it with the
same inputs from that status when waiting counts change between snapshots and for
tickets it issues offline. So the kiosk's confirm screen, the printed ticket, the hall
display and the phone page show the same minutes for the same queue.
"""

from __future__ import annotations

import math


def wait_minutes(ahead: int, service_seconds: float, open_windows: int) -> int:
    """People ahead shared over the open windows that serve the category, at its
    average service time (seconds per person), rounded up to whole minutes. At least
    one window is assumed, so a hall before opening still gives a forecast."""
    if ahead <= 0 or service_seconds <= 0:
        return 0
    return math.ceil(ahead * service_seconds / max(1, open_windows) / 60)
