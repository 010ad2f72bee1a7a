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


# The demo hall's 19 categories (backend/seed/demo_hall.yaml), then more of the kind a
# district hall has, for layouts with 40.
HALL_CATEGORY_NAMES = (
    ("A", "企业开办"), ("B", "涉税办理"), ("C", "质量技术监督"), ("D", "劳动人事"),
    ("E", "食品药品"), ("F", "社会保险"), ("G", "招商代办"), ("Y", "财政收费"),
    ("Z", "咨询服务"), ("H", "立项审批"), ("J", "国土规划"), ("K", "住房建设"),
    ("L", "环保消防"), ("M", "公安服务"), ("N", "市政市容"), ("P", "社会事务"),
    ("Q", "农业海渔"), ("R", "交通运输"), ("S", "综合事务"), ("T", "医保服务"),
    ("U", "公积金"), ("V", "出入境"), ("W", "车驾管"), ("X", "不动产登记"),
    ("AA", "户籍办理"), ("AB", "婚姻登记"), ("AC", "民政救助"), ("AD", "残联服务"),
    ("AE", "退役军人"), ("AF", "教育服务"), ("AG", "文化旅游"), ("AH", "卫生健康"),
    ("AJ", "水务服务"), ("AK", "电力报装"), ("AL", "燃气报装"), ("AM", "通信报装"),
    ("AN", "法律援助"), ("AP", "公证服务"), ("AQ", "知识产权"), ("GC", "绿色通道"),
)  # fmt: skip
# The demo hall's six notices, as the hub sends them ("title：body").
HALL_NOTICES = (
    "办公时间：本中心工作日办公时间为上午8:30至下午17:00，取号截止时间为16:30（公安服务类16:00），"
    "法定节假日及调休以国务院办公厅通知为准，调休上班日正常对外办公。",
    "午间不间断服务：中心实行午间不间断服务（11:30-13:00），各窗口安排AB岗轮换值守，"
    "午间可正常取号办理，请办事群众合理安排时间。",
    "预约办理：可通过中心门户网站、电话或一楼自助取号机凭居民身份证预约，预约须提前1个工作日，"
    "可预约5个工作日内时段，每人每天限约1次；如需取消，请于预约时段开始前2小时办理。"
    "预约群众凭身份证在预约时段前后30分钟内到自助取号机签到取号。",
    "办事提醒：办理业务请携带本人有效身份证件原件；委托他人办理的，须同时提供授权委托书及受托人"
    "身份证件。申请材料不齐全的，窗口将一次性告知需补正的全部内容。涉及收费的事项，"
    "请到一楼12号财政（银行）集中收费窗口缴纳。",
    "绿色通道：老年人、残疾人、孕妇、现役军人及重大项目、急事急办事项可走绿色通道优先办理，"
    "请到一楼咨询台（18号窗口）或向大厅引导员说明情况。",
    "服务评价：办理完毕后，请在窗口评价器或扫描窗口二维码对本次服务作出评价（非常满意、满意、"
    "基本满意、不满意、非常不满意）。对差评，中心将在1个工作日内回访核实，15个工作日内整改反馈。"
    "也可拨打12345政务服务便民热线反映。",
)


def busy_hall(seq: int, categories: int, *, now: datetime) -> tuple[ConfigPush, HallCallList]:
    """A hall with `categories` queue categories (≤ 40) and the demo hall's notices."""
    names = HALL_CATEGORY_NAMES[:categories]
    config = config_push(seq).model_copy(
        update={"categories": [CategoryInfo(prefix=p, name=n) for p, n in names]}
    )
    waiting = [
        CategoryWaiting(
            prefix=prefix,
            name=name,
            waiting=(index * 7) % 31,
            estimated_wait_minutes=((index * 7) % 31) * (2 + index % 4),
        )
        for index, (prefix, name) in enumerate(names)
    ]
    calls = call_list(seq, now=now).model_copy(
        update={"waiting": waiting, "notices": list(HALL_NOTICES)}
    )
    return config, calls
