"""The hall hub's side of calling through an outage (docs/hub.md): the offline
snapshot it calls from, the window actions it relays or replays, and the mode
it reports. Hub token only."""

from __future__ import annotations

import logging

from flask import Blueprint

from backend.api.framework import DEVICE, Reply, operation, principal
from backend.api.v1.common import hall_session, now, require_hub
from backend.api.v1.schemas import HubState, WindowActionBody
from backend.services import offline as offline_service

log = logging.getLogger(__name__)

blueprint = Blueprint("hub_sync", __name__, url_prefix="/api/v1/halls/<hall>")


@operation(
    blueprint,
    "/offline-snapshot",
    "GET",
    auth=DEVICE,
    summary="集线器离线叫号快照：等候队列、窗口、叫号规则、可离线签到的工作人员 / the "
    "hub's offline snapshot: waiting queue, windows, call policy, clerks",
)
def offline_snapshot(hall: str) -> Reply:
    who = principal()
    require_hub(who)
    with hall_session(hall, who, write=False) as (session, hid):
        return offline_service.snapshot(session, hall_id=hid, now=now())


@operation(
    blueprint,
    "/window-actions",
    "POST",
    body=WindowActionBody,
    auth=DEVICE,
    summary="集线器转发或补录的窗口操作（幂等；离线冲突按“原始时间先者为准”）/ a window "
    "action relayed or replayed by the hub (idempotent; conflicts: the first act wins)",
)
def window_action(hall: str, body: WindowActionBody) -> Reply:
    who = principal()
    require_hub(who)
    with hall_session(hall, who) as (session, hid):
        return offline_service.apply_window_action(
            session,
            hall_id=hid,
            action=offline_service.WindowAction(
                action_id=body.action_id,
                window=body.window,
                action=body.action,
                ticket=body.ticket,
                target_window=body.target_window,
                reason=body.reason,
                employee_no=body.employee_no,
                at=body.at,
                offline=body.offline,
                rating_request_id=body.rating_request_id,
            ),
            now=now(),
            actor=who.label,
        )


@operation(
    blueprint,
    "/hub-state",
    "PUT",
    body=HubState,
    auth=DEVICE,
    summary="集线器报告模式（在线/离线/补录中）；补录期间窗口操作返回 409 / the hub reports "
    "its mode; while it replays, staff window actions answer 409 hall_replaying",
)
def hub_state(hall: str, body: HubState) -> Reply:
    who = principal()
    require_hub(who)
    with hall_session(hall, who) as (session, hid):
        offline_service.set_hub_state(
            session,
            hall_id=hid,
            mode=body.mode,
            console_url=body.console_url,
            pending=body.pending,
            now=now(),
            actor=who.label,
        )
    return {"ok": True}
