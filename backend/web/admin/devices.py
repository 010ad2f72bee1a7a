"""设备: the registry the hub reports (online/offline, last seen, app and config
versions, health), device API tokens, and the hall broker's credentials.

- A device token is shown once on the page answering the POST; only its
  SHA-256 is stored (services.auth.issue_device_token).
- "Broker files" builds, from the registry, a Mosquitto password file and ACL
  for the hall (hallbus.broker). Each device's broker password is created once
  in <var_dir>/secrets/mqtt/<device id> (the layout the device configs'
  `broker.password_file` and the demo use) and reused afterwards, so
  downloading the files again does not lock out devices already installed.
  The archive also carries those passwords, one file per device, for the
  installer to copy to each device.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import render_template, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Regexp

from backend.errors import BadInput, NotFound
from backend.models import ApiToken, Device, Hall, OfflineAction, Window
from backend.services import offline as offline_service
from backend.services.access import Access, Resource
from backend.services.auth import issue_device_token
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    actor,
    all_halls,
    audit,
    done,
    ext,
    invalid,
    now,
    options,
    selected_hall,
)
from backend.web.auth import permission_required
from backend.web.layout import local_datetime
from hallbus.broker.acl import render_acl_file
from hallbus.broker.credentials import ensure_device_passwords
from hallbus.broker.mosquitto import render_password_file
from hallbus.localtime import format_local, hall_zone, local_date
from hallbus.topics import Component, DeviceRef, DeviceType, TopicError

TYPE_LABELS = {
    DeviceType.KIOSK.value: _l("取号机"),
    DeviceType.WINDOW_DISPLAY.value: _l("窗口屏"),
    DeviceType.HALL_DISPLAY.value: _l("大厅屏"),
    DeviceType.EVALUATOR.value: _l("评价器"),
    DeviceType.ANNOUNCER.value: _l("语音播报"),
    DeviceType.LED.value: _l("LED 条屏"),
    DeviceType.HUB.value: _l("集线器"),
}
# A device the hub still lists as online but has not heard from for this long
# is shown as "silent": the hub itself may be down. The hub re-reports its online
# devices every minute (hub.registry.HEARTBEAT_S).
SILENT_AFTER = timedelta(minutes=3)

# The hub reports each peripheral as three flat keys (hub.registry.DeviceRecord.report):
# <component> = state, <component>_detail, <component>_at (UTC).
COMPONENT_LABELS = {
    Component.PRINTER.value: _l("打印机"),
    Component.SCANNER.value: _l("扫码器"),
    Component.ID_READER.value: _l("身份证读卡器"),
    Component.LED.value: _l("LED 条屏"),
    Component.BUTTON_BOX.value: _l("评价按键盒"),
}
HEALTH_STATE_LABELS = {
    "ok": _l("正常"),
    "paper_near_end": _l("纸将用完"),
    "paper_out": _l("缺纸"),
    "fault": _l("故障"),
    "offline": _l("离线"),
    "unknown": _l("状态未知"),
}


@dataclass(frozen=True)
class HealthLine:
    """One peripheral's health as staff read it."""

    component: str  # the key, for tests and styling
    label: str
    state: str
    state_label: str
    detail: str
    at: str  # hall-local "2026-12-07 05:39", "" when not reported

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def health_lines(health: dict[str, Any]) -> list[HealthLine]:
    """The hub's flat health map as one line per peripheral, labelled, times local."""
    lines = []
    for component in sorted(k for k in health if not k.endswith(("_detail", "_at"))):
        state = str(health.get(component) or "unknown")
        at = _parse_instant(health.get(f"{component}_at"))
        lines.append(
            HealthLine(
                component=component,
                label=str(COMPONENT_LABELS.get(component, component)),
                state=state,
                state_label=str(HEALTH_STATE_LABELS.get(state, state)),
                detail=str(health.get(f"{component}_detail") or ""),
                at=local_datetime(at) if at is not None else "",
            )
        )
    return lines


def _parse_instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# -- the hub's mode and the conflicts of its offline work (issue 15) ----------------------
# The hub says which side decides the hall's queue (PUT hub-state) on every change it can
# deliver and every 60 s while online; a report older than this is flagged, because a
# hub that went silent may be deciding alone without being able to say so.
HUB_SILENT_AFTER = timedelta(minutes=3)
# The page lists this many conflicts, newest first; the count is of all of them.
CONFLICTS_SHOWN = 100
HUB_MODE_LABELS = {
    "online": _l("在线：中心决定叫号"),
    "offline": _l("离线：大厅控制器独立叫号"),
    "replaying": _l("补录中：大厅控制器正在补录离线期间的叫号"),
}
ACTION_LABELS = {
    "call": _l("叫下一号"),
    "recall": _l("重呼"),
    "no_show": _l("过号"),
    "start": _l("开始办理"),
    "finish": _l("办结"),
    "pause": _l("暂停"),
    "resume": _l("恢复服务"),
    "invite_rating": _l("邀请评价"),
    "transfer": _l("转移"),
}


@dataclass(frozen=True)
class HubStatus:
    """What the hall's hub last reported about itself, as the device page shows it."""

    reported: bool  # False: the hub never sent PUT hub-state for this hall
    mode: str  # "online" | "offline" | "replaying" (the stored value)
    mode_label: str
    at: str  # hall-local time of the last report, "" when never reported
    silent: bool  # the last report is older than HUB_SILENT_AFTER
    pending: int  # outbox entries the hub still has to replay
    console_url: str


@dataclass(frozen=True)
class ConflictLine:
    """One offline act the centre's record contradicted (first act by its original
    time wins). Ticket number, window and times only: no person is named here."""

    at: str  # hall-local original time of the act
    window: str
    ticket: str
    action: str  # the key, for tests and styling
    action_label: str
    detail: str


def hub_status(hall: Hall, current: datetime) -> HubStatus:
    reported_at = hall.hub_mode_at
    mode = hall.hub_mode or "online"
    return HubStatus(
        reported=reported_at is not None,
        mode=mode,
        mode_label=str(HUB_MODE_LABELS.get(mode, mode)),
        at=format_local(reported_at, hall.timezone) if reported_at is not None else "",
        silent=reported_at is not None and current - _aware(reported_at) > HUB_SILENT_AFTER,
        pending=hall.hub_pending or 0,
        console_url=hall.hub_console_url or "",
    )


def linkable(url: str) -> bool:
    """Only an http(s) address becomes a link (the API accepts no other)."""
    return url.startswith(("http://", "https://"))


def offline_conflicts(db: Session, hall: Hall) -> tuple[list[ConflictLine], int]:
    """The hall's offline acts with outcome conflict, newest (by original time) first,
    at most CONFLICTS_SHOWN of them, and how many there are in all."""
    rows = offline_service.recent_conflicts(db, hall_id=hall.id, limit=CONFLICTS_SHOWN)
    lines = [
        ConflictLine(
            at=format_local(row.at, hall.timezone, "%Y-%m-%d %H:%M:%S"),
            window=row.window_number,
            ticket=row.ticket_display or "",
            action=row.action,
            action_label=str(ACTION_LABELS.get(row.action, row.action)),
            detail=row.detail or "",
        )
        for row in rows
    ]
    total = db.execute(
        select(func.count())
        .select_from(OfflineAction)
        .where(OfflineAction.hall_id == hall.id, OfflineAction.outcome == offline_service.CONFLICT)
    )
    return lines, int(total.scalar_one())


def applied_offline_today(db: Session, hall: Hall, current: datetime) -> int:
    """Offline acts the centre applied whose original time is on the hall's today."""
    zone = hall_zone(hall.timezone)
    day = local_date(current, zone)
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return int(
        db.execute(
            select(func.count())
            .select_from(OfflineAction)
            .where(
                OfflineAction.hall_id == hall.id,
                OfflineAction.offline.is_(True),
                OfflineAction.outcome == offline_service.APPLIED,
                OfflineAction.at >= start,
                OfflineAction.at < end,
            )
        ).scalar_one()
    )


class TokenForm(AdminForm):
    device_id = StringField(
        _l("设备编号"),
        validators=[
            DataRequired(),
            Regexp(r"^[a-z0-9-]{1,32}$", message=_l("1-32 位小写字母、数字和 -")),
        ],
    )
    device_type = SelectField(
        _l("设备类型"), choices=options([(k, v) for k, v in TYPE_LABELS.items()])
    )


def _tokens(db: Session, hall: Hall) -> list[ApiToken]:
    return list(
        db.execute(
            select(ApiToken)
            .where(ApiToken.kind == "device", ApiToken.hall_id == hall.id)
            .order_by(ApiToken.device_id, ApiToken.created_at.desc())
        ).scalars()
    )


def _context(db: Session, hall: Hall, form: TokenForm) -> dict[str, Any]:
    devices = list(
        db.execute(
            select(Device)
            .where(Device.hall_id == hall.id)
            .order_by(Device.device_type, Device.device_id)
        ).scalars()
    )
    windows = {
        w.id: w.number
        for w in db.execute(select(Window).where(Window.hall_id == hall.id)).scalars()
    }
    current = now()
    silent = {
        d.id
        for d in devices
        if d.online and d.last_seen is not None and current - _aware(d.last_seen) > SILENT_AFTER
    }
    conflicts, conflict_total = offline_conflicts(db, hall)
    return {
        "hall": hall,
        "halls": all_halls(db),
        "devices": devices,
        "windows": windows,
        "silent": silent,
        "tokens": _tokens(db, hall),
        "form": form,
        "type_labels": TYPE_LABELS,
        "health": {d.id: health_lines(d.health or {}) for d in devices},
        "online": sum(1 for d in devices if d.online),
        "hub": hub_status(hall, current),
        "linkable": linkable,
        "conflicts": conflicts,
        "conflict_total": conflict_total,
        "applied_today": applied_offline_today(db, hall, current),
    }


def _aware(value: Any) -> Any:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@blueprint.get("/devices")
@permission_required(Resource.DEVICES, Access.READ)
def devices() -> str:
    with ext().db.reading() as db:
        hall = selected_hall(db)
        return render_template(
            "admin/devices/index.html", **_context(db, hall, TokenForm(formdata=None))
        )


@blueprint.post("/devices/tokens")
@permission_required(Resource.DEVICES, Access.WRITE)
def devices_token() -> Any:
    form = TokenForm()
    with ext().db.writing() as db:
        hall = selected_hall(db)
        if not form.validate_on_submit():
            return invalid("admin/devices/index.html", **_context(db, hall, form))
        token = issue_device_token(
            db,
            hall_id=hall.id,
            device_id=form.device_id.data,
            device_type=form.device_type.data,
            actor=actor(),
        )
        device_id, device_type = form.device_id.data, form.device_type.data
    return render_template(
        "admin/devices/token.html",
        hall=hall,
        device_id=device_id,
        device_type=TYPE_LABELS[device_type],
        token=token,
    )


@blueprint.post("/devices/tokens/<int:token_id>/revoke")
@permission_required(Resource.DEVICES, Access.WRITE)
def devices_token_revoke(token_id: int) -> Response:
    with ext().db.writing() as db:
        row = db.get(ApiToken, token_id)
        if row is None or row.kind != "device":
            raise NotFound(_("令牌不存在"))
        hall = db.get(Hall, row.hall_id) if row.hall_id else None
        if not row.revoked:
            row.revoked = True
            audit(db, "token.revoke", "device", row.device_id or "-", {"token_id": row.id})
        code = hall.code if hall else ""
    ext().tokens.clear()
    return done(_("令牌已吊销"), "admin.devices", hall=code)


def registry(db: Session, hall: Hall) -> tuple[list[DeviceRef], list[str]]:
    """The hall's devices for the broker: the registry plus devices that were
    issued a token but have not been reported yet (they need credentials to
    connect at all). Ids the bus cannot carry are listed, not silently dropped."""
    bus_hall = hall.code.lower()
    found: dict[str, str] = {}
    for device_id, device_type in db.execute(
        select(Device.device_id, Device.device_type).where(Device.hall_id == hall.id)
    ).all():
        found[device_id] = device_type
    for token_device, token_type in db.execute(
        select(ApiToken.device_id, ApiToken.device_type).where(
            ApiToken.kind == "device", ApiToken.hall_id == hall.id, ApiToken.revoked.is_(False)
        )
    ).all():
        if token_device:
            found.setdefault(token_device, token_type or "")
    refs: list[DeviceRef] = []
    skipped: list[str] = []
    for device_id, device_type in sorted(found.items()):
        try:
            refs.append(DeviceRef(bus_hall, DeviceType(device_type), device_id))
        except (TopicError, ValueError):
            skipped.append(f"{device_id} ({device_type})")
    return refs, skipped


@blueprint.post("/devices/broker-files")
@permission_required(Resource.DEVICES, Access.WRITE)
def devices_broker_files() -> Response:
    with ext().db.writing() as db:
        hall = selected_hall(db)
        refs, skipped = registry(db, hall)
        if not refs:
            raise BadInput(_("该大厅的设备登记为空，无法生成"))
        passwords = ensure_device_passwords(
            [ref.device_id for ref in refs], ext().settings.var_dir / "secrets" / "mqtt"
        )
        audit(
            db,
            "broker.files",
            "hall",
            hall.code,
            {"devices": [ref.device_id for ref in refs], "skipped": skipped},
        )
        code = hall.code
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("passwd", render_password_file(passwords))
        bundle.writestr("acl", render_acl_file(refs))
        for ref in refs:
            bundle.writestr(f"device-passwords/{ref.device_id}", passwords[ref.device_id] + "\n")
        bundle.writestr(
            "README.txt",
            "\n".join(
                [
                    f"hallkit broker credentials for hall {code} (bus id {code.lower()})",
                    "passwd: Mosquitto 2 password_file; acl: acl_file (one user per device).",
                    "device-passwords/<id>: copy each to its device (broker.password_file),",
                    "then delete this archive. The server keeps them in var/secrets/mqtt.",
                    *(
                        ["Skipped (not a valid bus id or type): " + ", ".join(skipped)]
                        if skipped
                        else []
                    ),
                    "",
                ]
            ),
        )
    archive.seek(0)
    return send_file(
        archive,
        as_attachment=True,
        download_name=f"broker-{code.lower()}.zip",
        mimetype="application/zip",
    )
