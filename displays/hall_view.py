"""What the hall display shows, computed from HallCallList, CallEvents and ConfigPush.

Pure Python (no Kivy). Privacy: rows carry the ticket number and window only — the
contract has no name field for calls, and :func:`public_caller` masks one (张*三) if a
hall ever calls by name, so a full name can never reach this screen.

Calls come from two topics: the retained HallCallList (authoritative, newest first)
and the live CallEvent broadcast. A CallEvent newer than the list's newest entry is
shown at once, so the display does not wait for the hub's next list; the next list
replaces it.

Layout (decided here, drawn by hall_display.kv):
* ``calls`` in the configured pages → the call list is always visible (nobody may miss
  a call because a page rotated away);
* ``waiting`` / ``guide`` rotate every ``page_seconds`` in the side panel (or fill the
  screen when there is no call list);
* the ``waiting`` table never shrinks its type below ``style.MIN_TEXT_PX``: when the
  categories do not fit, it is split into pages of ``waiting_rows_per_page`` rows
  (measured by the screen from its layout) that turn every ``WAITING_PAGE_SECONDS``,
  marked "1/3"; the waiting page stays up until every one of them was shown;
* ``notices`` → a scrolling ticker along the bottom: the hall's active notices from
  the HallCallList when it carries any, else the configured and bundled ones, cut
  into pieces of at most ``TICKER_PIECE_CHARS`` characters (one texture each: a
  whole day's notices in one line is wider than any GL texture and drew black).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from devices.voice.text import mask_name
from displays import style
from displays.guide import Guide
from displays.link import Link, LinkStatus
from displays.timefmt import clock_text, date_text, date_text_en, minutes_text, time_text
from displays.window_view import hall_mark
from hallbus.localtime import pushed_zone
from hallbus.messages import CallEvent, ConfigPush, HallCallList, RecentCall, serves_floor

DEFAULT_HALL_NAME = "政务服务中心"
ROTATING_PAGES = ("waiting", "guide")
PAGE_TITLES = {"waiting": ("等候情况", "Waiting"), "guide": ("办事指南", "Service guide")}
MAX_CALL_ROWS = 12
# Long enough to read a page of the waiting table twice, short enough that the page
# with one's category comes round within a minute at 40 categories.
WAITING_PAGE_SECONDS = 8
# ≈ 1700 px at the ticker's 42 px: far below the 4096 px every GL driver can texture.
TICKER_PIECE_CHARS = 40
NOTICE_SEPARATOR = "　　◆　　"


def public_caller(ticket: str, name: str | None = None) -> str:
    """Ticket number, plus a masked name when a hall calls by name: A001 张*三."""
    return ticket if not name else f"{ticket} {mask_name(name)}"


def ticker_pieces(notices: Sequence[str]) -> tuple[str, ...]:
    """The notices as the ticker draws them: each cut into pieces of at most
    ``TICKER_PIECE_CHARS`` characters, the separator after each notice, so that the
    pieces side by side read exactly as the notices joined by the separator."""
    pieces: list[str] = []
    for notice in notices:
        text = notice.strip() + NOTICE_SEPARATOR
        pieces.extend(
            text[start : start + TICKER_PIECE_CHARS]
            for start in range(0, len(text), TICKER_PIECE_CHARS)
        )
    return tuple(pieces)


@dataclass(frozen=True, slots=True)
class CallRow:
    ticket: str
    window_text: str  # "3 号窗口"
    time_text: str  # "09:25"
    recall_text: str  # "再次呼叫" for recalls, else ""
    newest: bool


@dataclass(frozen=True, slots=True)
class WaitingRow:
    prefix: str
    name: str
    waiting_text: str  # "7 人"
    estimate_text: str  # "约 21 分钟"
    estimate_text_en: str


@dataclass(frozen=True, slots=True)
class HallView:
    hall_name: str
    date_text: str
    date_text_en: str
    clock_text: str
    show_calls: bool
    calls: tuple[CallRow, ...]
    banner: str  # "请 A001 号到 3 号窗口办理" for the newest call ("" when none)
    banner_en: str
    flash_until: datetime | None
    page: str  # the rotating page shown now: waiting | guide | "" (none configured)
    page_title: str
    page_title_en: str
    waiting: tuple[WaitingRow, ...]  # the rows of the waiting page shown now
    waiting_page_text: str  # "2/3" when the table has more than one page, else ""
    guide_floors: tuple[tuple[str, tuple[str, ...]], ...]  # (title, areas)
    guide_steps: tuple[str, ...]
    guide_steps_en: str
    show_notices: bool
    notice_text: str
    notice_pieces: tuple[str, ...]  # notice_text cut for the ticker, in order
    offline_text: str
    offline_text_en: str
    hall_mark: str = ""  # "" while the backend decides the queue (window_view.hall_mark)

    def flashing(self, now: datetime) -> bool:
        return self.flash_until is not None and now < self.flash_until


def _call_key(call: RecentCall) -> tuple[str, str, datetime]:
    return (call.ticket, call.window, call.called_at)


class HallDisplayViewModel:
    def __init__(
        self,
        pages: Sequence[str],
        *,
        guide: Guide,
        floor: int | None = None,
        page_seconds: int = 15,
        flash_seconds: float = style.FLASH_SECONDS,
    ) -> None:
        self.pages = tuple(pages)
        self.guide = guide
        self.floor = floor
        self.page_seconds = page_seconds
        # Rows of the waiting table that fit the screen at the minimum type size; set by
        # the screen once it is laid out (None: one page with every row).
        self.waiting_rows_per_page: int | None = None
        self.flash = timedelta(seconds=flash_seconds)
        self.call_list: HallCallList | None = None
        self.live_calls: list[RecentCall] = []  # CallEvents not yet in the list
        self.config: ConfigPush | None = None
        self.link = LinkStatus(Link.CONNECTING)
        self._newest_key: tuple[str, str, datetime] | None = None
        self._flash_until: datetime | None = None

    # ------------------------------------------------------------------ inputs

    def apply_call_list(self, call_list: HallCallList, now: datetime) -> None:
        # A display configured for a floor lists that floor's calls and queues only.
        call_list = call_list.model_copy(
            update={
                "recent_calls": [
                    c for c in call_list.recent_calls if serves_floor(self.floor, c.floor)
                ],
                "waiting": [w for w in call_list.waiting if serves_floor(self.floor, w.floor)],
            }
        )
        self.call_list = call_list
        listed = {_call_key(call) for call in call_list.recent_calls}
        newest_listed = call_list.recent_calls[0].called_at if call_list.recent_calls else None
        self.live_calls = [
            call
            for call in self.live_calls
            if _call_key(call) not in listed
            and (newest_listed is None or call.called_at > newest_listed)
        ]
        self._note_newest(now)

    def apply_call_event(self, event: CallEvent, now: datetime) -> None:
        if not serves_floor(self.floor, event.floor):
            return
        call = RecentCall(
            ticket=event.ticket,
            window=event.window,
            called_at=event.called_at,
            recall_count=1 if event.recall else 0,
            floor=event.floor,
        )
        if call.called_at < self._newest_time() or any(
            _call_key(call) == _call_key(other) for other in self._merged()
        ):
            return
        self.live_calls.insert(0, call)
        del self.live_calls[MAX_CALL_ROWS:]
        self._note_newest(now)

    @property
    def zone(self) -> tzinfo:
        """The hall's zone from the hub's ConfigPush (the district's until then)."""
        return pushed_zone(self.config.timezone if self.config else None)

    def apply_config(self, config: ConfigPush) -> None:
        self.config = config
        seconds = config.settings.get("page_seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 3:
            self.page_seconds = int(seconds)

    def apply_link(self, link: LinkStatus) -> None:
        self.link = link

    def set_waiting_capacity(self, rows: int) -> None:
        self.waiting_rows_per_page = max(1, rows)

    # ----------------------------------------------------------------- output

    @property
    def rotating_pages(self) -> tuple[str, ...]:
        return tuple(page for page in self.pages if page in ROTATING_PAGES)

    def page_at(self, now: datetime) -> str:
        return self._position(now)[0]

    def _waiting_page_count(self, rows: int) -> int:
        per_page = self.waiting_rows_per_page
        return 1 if not per_page or rows <= per_page else -(-rows // per_page)

    def _position(self, now: datetime) -> tuple[str, int]:
        """(rotating page shown at ``now``, index of the waiting table's page).

        Each rotating page is up for ``page_seconds``; the waiting page for as long as
        its table needs to show every page for ``WAITING_PAGE_SECONDS``.
        """
        rotating = self.rotating_pages
        if not rotating:
            return "", 0
        waiting_pages = self._waiting_page_count(len(self._waiting_rows()))
        durations = [
            max(self.page_seconds, waiting_pages * WAITING_PAGE_SECONDS)
            if page == "waiting"
            else self.page_seconds
            for page in rotating
        ]
        elapsed = now.timestamp() % sum(durations)
        for page, seconds in zip(rotating, durations, strict=True):
            if elapsed < seconds:
                per_page = seconds / waiting_pages
                return page, min(waiting_pages - 1, int(elapsed // per_page))
            elapsed -= seconds
        return rotating[-1], 0  # floating-point edge of the cycle

    def view(self, now: datetime) -> HallView:
        zone = self.zone
        calls = self._merged()[:MAX_CALL_ROWS]
        rows = tuple(
            CallRow(
                ticket=public_caller(call.ticket),
                window_text=f"{call.window} 号窗口",
                time_text=time_text(call.called_at, zone),
                recall_text="再次呼叫" if call.recall_count else "",
                newest=index == 0,
            )
            for index, call in enumerate(calls)
        )
        banner = banner_en = ""
        if calls:
            newest = calls[0]
            again = "再次" if newest.recall_count else ""
            banner = f"请 {public_caller(newest.ticket)} 号{again}到 {newest.window} 号窗口办理"
            banner_en = f"Number {newest.ticket}, please go to window {newest.window}"
        page = self.page_at(now)
        scheduled, waiting_index = self._position(now)
        if scheduled != page:
            waiting_index = 0  # a page pinned from outside (screenshots) starts at its first
        all_waiting = self._waiting_rows()
        waiting_pages = self._waiting_page_count(len(all_waiting))
        waiting_index = min(waiting_index, waiting_pages - 1)
        per_page = self.waiting_rows_per_page or max(1, len(all_waiting))
        waiting = all_waiting[waiting_index * per_page : (waiting_index + 1) * per_page]
        title, title_en = PAGE_TITLES.get(page, ("", ""))
        notices = self._notices()
        offline, offline_en = self._offline_texts()
        return HallView(
            hall_name=self.config.hall_name if self.config else DEFAULT_HALL_NAME,
            date_text=date_text(now, zone),
            date_text_en=date_text_en(now, zone),
            clock_text=clock_text(now, zone),
            show_calls="calls" in self.pages,
            calls=rows,
            banner=banner,
            banner_en=banner_en,
            flash_until=self._flash_until if self.link.live else None,
            page=page,
            page_title=title,
            page_title_en=title_en,
            waiting=waiting,
            waiting_page_text=f"{waiting_index + 1}/{waiting_pages}" if waiting_pages > 1 else "",
            guide_floors=self._guide_floors(),
            guide_steps=tuple(self.guide.steps),
            guide_steps_en=self.guide.steps_en,
            show_notices="notices" in self.pages,
            notice_text=NOTICE_SEPARATOR.join(notices),
            notice_pieces=ticker_pieces(notices),
            offline_text=offline,
            offline_text_en=offline_en,
            hall_mark=hall_mark(self.call_list.hall_mode if self.call_list else None),
        )

    # ---------------------------------------------------------------- helpers

    def _merged(self) -> list[RecentCall]:
        listed = list(self.call_list.recent_calls) if self.call_list else []
        return self.live_calls + listed

    def _newest_time(self) -> datetime:
        merged = self._merged()
        return merged[0].called_at if merged else datetime.min.replace(tzinfo=UTC)

    def _note_newest(self, now: datetime) -> None:
        merged = self._merged()
        if not merged:
            return
        key = _call_key(merged[0])
        if key == self._newest_key:
            return
        first = self._newest_key is None
        self._newest_key = key
        # After a restart the restored list flashes only if its newest call is fresh.
        if not first or abs(now - merged[0].called_at) < self.flash:
            self._flash_until = now + self.flash

    def _guide_floors(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        floors = self.guide.floors_for(self.floor)
        if "calls" in self.pages and self.floor is not None:
            # Beside the call list there is room for this floor's directory only.
            floors = [floor for floor in floors if floor.floor == self.floor] or floors[:1]
        return tuple((f"{floor.title} {floor.title_en}", tuple(floor.areas)) for floor in floors)

    def _waiting_rows(self) -> tuple[WaitingRow, ...]:
        if self.call_list is None:
            return ()
        enabled = None
        if self.config and self.config.categories:
            enabled = {item.prefix for item in self.config.categories if item.enabled}
        rows = []
        for item in self.call_list.waiting:
            if enabled is not None and item.prefix not in enabled:
                continue
            estimate, estimate_en = minutes_text(item.estimated_wait_minutes)
            rows.append(
                WaitingRow(
                    prefix=item.prefix,
                    name=item.name,
                    waiting_text=f"{item.waiting} 人",
                    estimate_text=estimate,
                    estimate_text_en=estimate_en,
                )
            )
        return tuple(rows)

    def _notices(self) -> list[str]:
        # The hub's live list (the admin's active notices, from the retained
        # HallCallList) replaces the configured and bundled ones while it has any.
        if self.call_list is not None and self.call_list.notices:
            return [notice for notice in self.call_list.notices if notice.strip()]
        notices = []
        if self.config and self.config.notice:
            notices.append(self.config.notice)
        notices.extend(self.guide.notices)
        return [notice for notice in notices if notice.strip()]

    def _offline_texts(self) -> tuple[str, str]:
        if self.link.live:
            return "", ""
        if self.link.link is Link.CONNECTING:
            return "正在连接叫号系统…", "Connecting…"
        since = f" {time_text(self.link.since, self.zone)} 起" if self.link.since else ""
        return (
            f"离线{since}：叫号信息可能不是最新，请留意语音广播或咨询工作人员",
            "OFFLINE — call list may be out of date",
        )
