"""Device registry as the hub reports it."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from backend.api.framework import DEVICE, STAFF, Reply, operation, principal
from backend.api.v1.common import ext, hall_id, hall_session, now, require_hub, window_id
from backend.api.v1.schemas import DeviceReport
from backend.models import Device
from backend.services.access import Access, Resource

blueprint = Blueprint("devices", __name__, url_prefix="/api/v1/halls/<hall>/devices")


@operation(
    blueprint,
    "/<device_id>",
    "PUT",
    body=DeviceReport,
    auth=DEVICE,
    summary="集线器上报设备状态 / the hub reports a device's state",
)
def report(hall: str, device_id: str, body: DeviceReport) -> Reply:
    who = principal()
    require_hub(who)
    with hall_session(hall, who) as (session, hid):
        device = session.execute(
            select(Device).where(Device.hall_id == hid, Device.device_id == device_id)
        ).scalar_one_or_none()
        if device is None:
            device = Device(hall_id=hid, device_id=device_id, device_type=body.device_type)
            session.add(device)
        device.device_type = body.device_type
        device.online = body.online
        device.last_seen = body.last_seen or now()
        device.app_version = body.app_version
        device.config_version = body.config_version
        device.health = dict(body.health)
        device.window_id = window_id(session, hid, body.window) if body.window else None
    return {"device_id": device_id, "online": body.online}


@operation(
    blueprint,
    "",
    "GET",
    auth=STAFF,
    permission=(Resource.DEVICES, Access.READ),
    summary="设备列表（监察、管理员）/ devices of the hall (supervisors, administrators)",
)
def list_devices(hall: str) -> Reply:
    with ext().db.reading() as session:
        hid = hall_id(session, hall)
        rows = session.execute(
            select(Device).where(Device.hall_id == hid).order_by(Device.device_id)
        ).scalars()
        return {
            "devices": [
                {
                    "device_id": d.device_id,
                    "type": d.device_type,
                    "online": d.online,
                    "last_seen": d.last_seen.isoformat() if d.last_seen else None,
                    "app_version": d.app_version,
                    "config_version": d.config_version,
                    "health": d.health,
                }
                for d in rows
            ]
        }
