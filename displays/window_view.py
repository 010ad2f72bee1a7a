"""What the window display shows, computed from the hub's WindowDisplayState.

Pure Python (no Kivy): :class:`WindowDisplayViewModel` takes the latest state and the
link status and produces a :class:`WindowView` — every text and colour on screen. The
Kivy layer copies those fields into widget properties and nothing else.

Rules:
* The clerk's own full name and 工号 are shown on their own window (allowed by the
  privacy rules); citizens are only ever shown as ticket numbers.
* A new call — a different ticket, or the same ticket called again (recall: a new
  ``called_at``) — flashes for ``FLASH_SECONDS``. After a restart the restored state
  flashes only if the call is that recent, so a reboot does not look like a call.
* Offline (device or hub): a red banner says so and the ticket greys out; the last
  known state stays visible (people need the window number) but is marked as not live.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from displays import style
from displays.link import Link, LinkStatus
from displays.style import Rgba
from displays.timefmt import expected_back_text, time_text
from hallbus.localtime import pushed_zone
from hallbus.messages import ConfigPush, StaffCard, WindowDisplayState

FULL_STAR = "★"
EMPTY_STAR = "☆"


@dataclass(frozen=True, slots=True)
class StaffView:
    name: str
    employee_no_text: str  # 工号 0107
    stars_text: str  # ★★★★★ 4.8 ("" when the hub sends no rating)
    photo: str  # a local file or an http(s) URL; "" → initial placeholder
    initial: str  # the first character of the name, drawn when there is no photo


@dataclass(frozen=True, slots=True)
class WindowView:
    mode: str  # waiting | serving | idle | paused | resting | closed
    window_title: str
    window_title_en: str
    department: str
    staff: StaffView | None
    caption: str  # small line above the headline
    caption_en: str
    headline: str  # the ticket, or the state in words
    headline_colour: Rgba
    accent: Rgba  # state colour (bars, badges)
    detail: str  # reason / expected return / hint
    detail_en: str
    flash_until: datetime | None
    offline_text: str  # "" while live
    offline_text_en: str
    zone: tzinfo  # the hall's: the clock shows its wall-clock time
    hall_mark: str = ""  # "" while the backend decides the queue (see hall_mark())

    def flashing(self, now: datetime) -> bool:
        return self.flash_until is not None and now < self.flash_until


def stars_text(stars: float | None) -> str:
    if stars is None:
        return ""
    full = int(stars + 0.5)
    return FULL_STAR * full + EMPTY_STAR * (5 - full) + f" {stars:.1f}"


def resolve_photo(photo_url: str | None, photo_dir: Path | None) -> str:
    """An http(s) URL is loaded as is; a path like /photos/0107.jpg is looked up by file
    name in the device's local photo directory (synced by the installer)."""
    if not photo_url:
        return ""
    if photo_url.startswith(("http://", "https://")):
        return photo_url
    if photo_dir is None:
        return ""
    candidate = photo_dir / Path(photo_url).name
    return str(candidate) if candidate.is_file() else ""


def staff_view(staff: StaffCard | None, photo_dir: Path | None) -> StaffView | None:
    if staff is None:
        return None
    return StaffView(
        name=staff.name,
        employee_no_text=f"工号 {staff.employee_no}",
        stars_text=stars_text(staff.stars),
        photo=resolve_photo(staff.photo_url, photo_dir),
        initial=staff.name[:1],
    )


def hall_mark(mode: str | None) -> str:
    """The small status mark while the hall hub decides the queue (hallbus.messages
    HallModeMark): the backend is away, or the hub is still replaying what it did."""
    if mode == "offline":
        return "离线叫号 Offline"
    if mode == "replaying":
        return "补录中 Syncing"
    return ""


def _offline_texts(link: LinkStatus, zone: tzinfo) -> tuple[str, str]:
    if link.link is Link.LIVE:
        return "", ""
    if link.link is Link.CONNECTING:
        return "正在连接叫号系统…", "Connecting…"
    since = f" {time_text(link.since, zone)} 起" if link.since else ""
    since_en = f" since {time_text(link.since, zone)}" if link.since else ""
    return (
        f"离线{since}：叫号信息可能不是最新，请以现场工作人员为准",
        f"OFFLINE{since_en} — may be out of date",
    )


class WindowDisplayViewModel:
    """Keeps the last accepted state and turns it into a WindowView."""

    def __init__(
        self,
        window: str,
        *,
        photo_dir: Path | None = None,
        flash_seconds: float = style.FLASH_SECONDS,
    ) -> None:
        self.window = window
        self.photo_dir = photo_dir
        self.flash = timedelta(seconds=flash_seconds)
        self.state: WindowDisplayState | None = None
        self.link = LinkStatus(Link.CONNECTING)
        self.config: ConfigPush | None = None
        self._flash_until: datetime | None = None

    def apply_state(self, state: WindowDisplayState, now: datetime) -> None:
        """Take a new state (already seq-checked); start a flash when it is a new call."""
        previous = self.state
        self.state = state
        if state.state != "open" or state.current_ticket is None:
            self._flash_until = None
            return
        if previous is None:
            # Restored from the retained copy after a restart: flash only a fresh call.
            recent = state.called_at is not None and abs(now - state.called_at) < self.flash
            self._flash_until = now + self.flash if recent else None
            return
        new_call = (
            previous.state != "open"
            or state.current_ticket != previous.current_ticket
            or state.called_at != previous.called_at
        )
        if new_call:
            self._flash_until = now + self.flash

    def apply_link(self, link: LinkStatus) -> None:
        self.link = link

    @property
    def zone(self) -> tzinfo:
        """The hall's zone from the hub's ConfigPush (the district's until then)."""
        return pushed_zone(self.config.timezone if self.config else None)

    def apply_config(self, config: ConfigPush) -> None:
        self.config = config

    def view(self, now: datetime) -> WindowView:
        zone = self.zone
        offline, offline_en = _offline_texts(self.link, zone)
        state = self.state
        if state is None:
            return WindowView(
                mode="waiting",
                window_title=f"{self.window} 号窗口",
                window_title_en=f"Window {self.window}",
                department="",
                staff=None,
                caption="",
                caption_en="",
                headline=f"{self.window} 号窗口",
                headline_colour=style.TEXT,
                accent=style.CLOSED,
                detail="正在获取窗口状态…",
                detail_en="Loading window status…",
                flash_until=None,
                offline_text=offline,
                offline_text_en=offline_en,
                zone=zone,
            )
        base = WindowView(
            mode="closed",
            window_title=f"{state.window} 号窗口",
            window_title_en=f"Window {state.window}",
            department=state.department_name,
            staff=staff_view(state.staff, self.photo_dir),
            caption="",
            caption_en="",
            headline="",
            headline_colour=style.TEXT,
            accent=style.CLOSED,
            detail="",
            detail_en="",
            flash_until=None,
            offline_text=offline,
            offline_text_en=offline_en,
            zone=zone,
        )
        base = replace(base, hall_mark=hall_mark(state.hall_mode))
        view = self._state_view(base, state, now)
        if not self.link.live and view.mode == "serving":
            # The ticket may have moved on: grey it so nobody trusts it blindly.
            view = replace(view, headline_colour=style.STALE, flash_until=None)
        return view

    def _state_view(self, base: WindowView, state: WindowDisplayState, now: datetime) -> WindowView:
        if state.state == "open" and state.current_ticket is not None:
            return replace(
                base,
                mode="serving",
                caption="正在办理",
                caption_en="Now serving",
                headline=state.current_ticket,
                headline_colour=style.TICKET,
                accent=style.SERVING,
                # Fixed wording: only the number's texture is redrawn on a new call,
                # which keeps call → pixels short on a software-rendered panel.
                detail="请持此号的市民到本窗口办理",
                detail_en="Please come to this window",
                flash_until=self._flash_until,
            )
        if state.state == "open":
            return replace(
                base,
                mode="idle",
                caption="",
                headline="欢迎办理",
                headline_colour=style.SERVING,
                accent=style.SERVING,
                detail="请留意叫号",
                detail_en="Open — please wait for your number",
            )
        if state.state == "paused":
            reason = f"原因：{state.pause_reason}" if state.pause_reason else ""
            back, back_en = (
                expected_back_text(state.expected_back, now, base.zone)
                if state.expected_back
                else ("", "")
            )
            return replace(
                base,
                mode="paused",
                headline="暂停服务",
                headline_colour=style.PAUSED,
                accent=style.PAUSED,
                detail="　".join(part for part in (reason, back) if part) or "请稍候",
                detail_en=" · ".join(part for part in ("Service paused", back_en) if part),
            )
        if state.state == "resting":
            return replace(
                base,
                mode="resting",
                headline="休息中",
                headline_colour=style.RESTING,
                accent=style.RESTING,
                detail="请稍候，或到其他窗口办理",
                detail_en="On a break — please wait or use another window",
            )
        return replace(
            base,
            mode="closed",
            headline="未开放",
            headline_colour=style.CLOSED,
            accent=style.CLOSED,
            detail="本窗口暂未开放，请到其他窗口办理",
            detail_en="Not open — please use another window",
        )
