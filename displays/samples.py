"""Sample hub messages for screenshots, benchmarks and demos (built with the real models).

Names and numbers are invented; the clerk's name appears only on their own window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hallbus.messages import (
    CallEvent,
    CategoryInfo,
    CategoryWaiting,
    ConfigPush,
    HallCallList,
    RecentCall,
    StaffCard,
    WindowDisplayState,
)

HALL_NAME = "滨海新区政务服务中心"
STAFF = StaffCard(name="王芳", employee_no="0107", photo_url="/photos/0107.png", stars=4.8)


def window_state(
    seq: int,
    *,
    now: datetime,
    state: str = "open",
    ticket: str | None = "A001",
    window: str = "3",
    called_seconds_ago: float = 120,
    pause_reason: str | None = None,
    back_in_minutes: int | None = None,
    staff: StaffCard | None = STAFF,
) -> WindowDisplayState:
    return WindowDisplayState(
        seq=seq,
        window=window,
        department_name="市场监督管理局",
        staff=staff,
        state=state,  # type: ignore[arg-type]
        pause_reason=pause_reason,
        expected_back=now + timedelta(minutes=back_in_minutes) if back_in_minutes else None,
        current_ticket=ticket if state == "open" else None,
        called_at=now - timedelta(seconds=called_seconds_ago) if ticket else None,
    )


CALLS = [
    ("A012", "3"),
    ("B005", "7"),
    ("A011", "1"),
    ("C003", "12"),
    ("A010", "2"),
    ("B004", "5"),
    ("GC0002", "9"),
    ("A009", "4"),
    ("B003", "6"),
]


def call_list(seq: int, *, now: datetime, newest_seconds_ago: float = 600) -> HallCallList:
    recent = [
        RecentCall(
            ticket=ticket,
            window=window,
            called_at=now - timedelta(seconds=newest_seconds_ago + 90 * index),
            recall_count=1 if index == 2 else 0,
        )
        for index, (ticket, window) in enumerate(CALLS)
    ]
    return HallCallList(
        seq=seq,
        recent_calls=recent,
        waiting=[
            CategoryWaiting(prefix="A", name="综合受理", waiting=7, estimated_wait_minutes=21),
            CategoryWaiting(prefix="B", name="不动产登记", waiting=12, estimated_wait_minutes=45),
            CategoryWaiting(prefix="C", name="社保医保", waiting=3, estimated_wait_minutes=8),
            CategoryWaiting(
                prefix="GC", name="绿色通道（老年人等）", waiting=0, estimated_wait_minutes=0
            ),
            CategoryWaiting(prefix="D", name="税务综合", waiting=26, estimated_wait_minutes=95),
        ],
    )


def config_push(seq: int) -> ConfigPush:
    return ConfigPush(
        seq=seq,
        hall_name=HALL_NAME,
        notice="3月8日下午14:00后暂停办理不动产登记业务，敬请谅解",
        categories=[
            CategoryInfo(prefix=prefix, name=name)
            for prefix, name in (
                ("A", "综合受理"),
                ("B", "不动产登记"),
                ("C", "社保医保"),
                ("GC", "绿色通道（老年人等）"),
                ("D", "税务综合"),
            )
        ],
        settings={"page_seconds": 15},
    )


def call_event(
    seq: int, ticket: str, window: str, *, now: datetime, recall: bool = False, floor: int = 1
) -> CallEvent:
    return CallEvent(
        seq=seq, ticket=ticket, window=window, floor=floor, recall=recall, called_at=now
    )
