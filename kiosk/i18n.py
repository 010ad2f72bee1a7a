"""Every text the kiosk shows, in Simplified Chinese (default) and English.

Texts live in one table so a translator sees them side by side and a missing English text is
caught by a test rather than by a visitor.
"""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")

_TEXTS: Final[dict[str, tuple[str, str]]] = {
    # home
    "home.take_ticket": ("取号", "Take a ticket"),
    "home.take_ticket.hint": ("排队取号 · 预约签到", "Queue ticket · appointment"),
    "home.guide": ("办事指南", "Service guide"),
    "home.guide.hint": ("要带什么材料、去哪个窗口", "What to bring, where to go"),
    "home.case": ("办件查询", "Case lookup"),
    "home.case.hint": ("查询办理进度", "Check your case progress"),
    "home.rate": ("服务评价", "Rate a service"),
    "home.rate.hint": ("对已办结的事项评价", "Rate a finished case"),
    "home.notices": ("大厅公告", "Notices"),
    "home.no_notice": ("欢迎来到政务服务中心", "Welcome to the government service centre"),
    "lang.toggle": ("English", "中文"),
    "nav.home": ("返回首页", "Home"),
    "nav.back": ("上一步", "Back"),
    # connectivity
    "offline.banner": (
        "网络暂时中断：办事指南仍可浏览（已保存的内容），取号请到咨询台",
        "No connection right now: the service guide still works (saved pages); "
        "for a ticket please ask at the help desk",
    ),
    "degraded.banner": (
        "系统部分服务暂停：可以取号和浏览办事指南，办件查询与评价稍后再试",
        "Some services are paused: tickets and the guide work; try lookups and ratings later",
    ),
    "offline.unavailable": (
        "网络暂时中断，此功能稍后再试，或请到咨询台",
        "No connection right now. Please try again later or ask at the help desk.",
    ),
    # ticket
    "ticket.title": ("取号", "Take a ticket"),
    "ticket.by_department": ("按部门取号", "By department"),
    "ticket.by_matter": ("按事项搜索", "Search a matter"),
    "ticket.priority": ("绿色通道", "Priority channel"),
    "ticket.priority.hint": (
        "老年人、残疾人、军人、孕妇优先办理",
        "For the elderly, disabled, military and pregnant visitors",
    ),
    "ticket.appointment": ("预约签到", "Appointment check-in"),
    "ticket.waiting": ("等候 {waiting} 人", "{waiting} waiting"),
    "ticket.waiting_unknown": ("等候人数暂不可知", "Queue length unknown"),
    "ticket.wait_minutes": ("约 {minutes} 分钟", "about {minutes} min"),
    "ticket.closed": ("暂停取号", "Not issuing now"),
    "ticket.where": ("{floor}楼 {area}", "Floor {floor}, {area}"),
    "ticket.confirm.title": ("请确认", "Please confirm"),
    "ticket.confirm.ahead": ("前面等候：{waiting} 人", "People waiting: {waiting}"),
    "ticket.confirm.wait": ("预计等候：约 {minutes} 分钟", "Estimated wait: about {minutes} min"),
    "ticket.confirm.button": ("确认取号", "Get my ticket"),
    "ticket.phone.offer": ("短信提醒我（可选）", "Remind me by SMS (optional)"),
    "ticket.phone.hint": (
        "快到您时发短信提醒，号码不打印、用后即删",
        "We text you when your turn is near; the number is not printed and is deleted after use",
    ),
    "ticket.phone.title": ("请输入11位手机号", "Type your 11-digit mobile number"),
    "ticket.phone.accept": ("确定", "OK"),
    "ticket.phone.cancel": ("不需要", "No thanks"),
    "ticket.phone.remove": ("删除号码", "Remove number"),
    "ticket.phone.set": ("到号前短信提醒：{phone}", "SMS reminder to: {phone}"),
    "ticket.phone.invalid": (
        "手机号不正确：应为11位，以13～19开头",
        "Not a valid mobile number: 11 digits starting 13–19",
    ),
    "ticket.priority_kind": ("优先类别", "Priority type"),
    "priority.none": ("普通", "Regular"),
    "priority.elderly": ("老年人", "Elderly"),
    "priority.disabled": ("残疾人", "Disabled"),
    "priority.military": ("军人", "Military"),
    "priority.pregnant": ("孕妇", "Pregnant"),
    "priority.not_allowed": ("该类别不提供绿色通道", "No priority channel for this service"),
    "ticket.id_card.read": ("已读取身份证（实名取号）", "ID card read (real-name ticket)"),
    "ticket.id_card.hint": (
        "如需实名取号，请将身份证放在感应区",
        "For a real-name ticket, place your ID card on the reader",
    ),
    "ticket.working": ("正在取号，请稍候…", "Getting your ticket…"),
    "ticket.done.title": ("您的号码", "Your number"),
    "ticket.done.ahead": ("您前面还有 {ahead} 人", "{ahead} people ahead of you"),
    "ticket.done.wait": ("预计等候约 {minutes} 分钟", "Estimated wait about {minutes} min"),
    "ticket.done.where": ("办理地点：{where}", "Go to: {where}"),
    "ticket.done.time": ("取号时间：{time}", "Issued: {time}"),
    "ticket.done.degraded": (
        "系统正在恢复中，号码有效，请留意叫号",
        "The system is recovering; your number is valid, please listen for it",
    ),
    "ticket.done.printing": ("正在打印号票…", "Printing your ticket…"),
    "ticket.done.finish": ("完成", "Done"),
    "appointment.title": ("预约签到", "Appointment check-in"),
    "appointment.prompt": (
        "请输入预约码，或将身份证放在感应区",
        "Type your appointment code, or place your ID card on the reader",
    ),
    "appointment.code": ("预约码", "Appointment code"),
    "appointment.submit": ("签到取号", "Check in"),
    "appointment.id_read": ("已读取身份证，正在签到…", "ID card read, checking in…"),
    # search / keyboard
    "search.prompt": (
        "输入拼音或首字母，如 yyzz 或 yingye",
        "Type pinyin or initials, e.g. yyzz or yingye",
    ),
    "search.empty": ("没有找到相关事项，请换个说法", "Nothing found; try other words"),
    "search.offline_note": (
        "网络中断，显示已保存的内容",
        "Offline: showing saved pages",
    ),
    "search.results": ("找到 {total} 项", "{total} found"),
    "key.backspace": ("退格", "Delete"),
    "key.clear": ("清空", "Clear"),
    "key.space": ("空格", "Space"),
    # guide
    "guide.title": ("办事指南", "Service guide"),
    "guide.by_department": ("按部门", "By department"),
    "guide.by_life_event": ("按生活事件", "By life event"),
    "guide.search": ("搜索", "Search"),
    "guide.pick": ("请选择", "Please choose"),
    "matter.department": ("实施部门", "Department"),
    "matter.type": ("事项类型", "Type"),
    "matter.promised": ("承诺时限", "Promised time"),
    "matter.promised.days": ("{days} 个工作日", "{days} working days"),
    "matter.promised.spot": ("即办（当场办结）", "On the spot"),
    "matter.fee": ("收费标准", "Fee"),
    "matter.where": ("办理地点", "Where"),
    "matter.materials": ("申请材料", "Materials"),
    "matter.conditions": ("办理条件", "Conditions"),
    "matter.legal_basis": ("设定依据", "Legal basis"),
    "matter.steps": ("办理流程", "Steps"),
    "matter.print": ("打印材料清单", "Print the checklist"),
    "matter.ticket": ("为此事项取号", "Ticket for this matter"),
    "matter.detail_missing": (
        "详细材料暂时无法获取，请到咨询台或窗口咨询",
        "Details are not available right now; please ask at the help desk",
    ),
    "matter.material.original": ("原件", "original"),
    "matter.material.copy": ("复印件", "copy"),
    "matter.material.original_and_copy": ("原件及复印件", "original and copy"),
    "matter.count": ("{count} 份", "x{count}"),
    # case lookup
    "case.title": ("办件查询", "Case lookup"),
    "case.receipt": ("受理号（17位数字，见受理通知书）", "Receipt number (17 digits)"),
    "case.phone": ("手机号后4位", "Last 4 digits of your phone"),
    "case.scan_hint": (
        "也可以将受理通知书上的二维码对准扫码口",
        "Or hold the QR code on your receipt to the scanner",
    ),
    "case.submit": ("查询", "Look up"),
    "case.working": ("正在查询…", "Looking up…"),
    "case.invalid_receipt": (
        "受理号应为17位数字，请核对后重新输入",
        "A receipt number has 17 digits; please check it",
    ),
    "case.invalid_phone": ("请输入手机号后4位", "Please type the last 4 digits of your phone"),
    "case.not_found": (
        "没有查到该办件，请核对受理号和手机号后4位",
        "No case found; please check the receipt number and phone digits",
    ),
    "case.status": ("当前状态", "Status"),
    "case.accepted_at": ("受理时间", "Accepted"),
    "case.promised_by": ("承诺办结", "Promised by"),
    "case.promised_provisional": (
        "（暂定，节假日安排公布后可能调整）",
        "(provisional: may move when the holiday schedule is published)",
    ),
    "case.timeline": ("办理进度", "Progress"),
    "case.next": ("下一步", "What to do next"),
    "case.next.waiting": (
        "正在办理中，请耐心等待；办结后将短信通知您",
        "In progress; you will get a text message when it is done",
    ),
    "case.next.collect": (
        "已办结，请携带受理通知书和身份证到窗口领取结果",
        "Finished: bring your receipt and ID card to the window to collect the result",
    ),
    "case.next.delivered": ("已办结并送达，无需再来", "Finished and delivered; nothing to do"),
    "case.next.supplement": (
        "需要补充材料：请按窗口出具的补正通知准备材料后到窗口提交",
        "Materials missing: prepare them as listed in the notice and bring them to the window",
    ),
    "case.next.refused": (
        "未予办理，详情请看书面告知书，或到咨询台咨询",
        "Not granted; see the written notice or ask at the help desk",
    ),
    "case.next.withdrawn": ("已撤回", "Withdrawn"),
    "case.overdue": (
        "已超过承诺时限，可向窗口或监察室反映",
        "Past the promised date; you may report it",
    ),
    "case.rate": ("评价这次服务", "Rate this service"),
    # rating
    "rate.title": ("服务评价", "Rate a service"),
    "rate.prompt": (
        "请输入受理号和手机号后4位，对已办结的事项评价",
        "Type the receipt number and phone digits of a finished case",
    ),
    "rate.find": ("下一步", "Next"),
    "rate.not_finished": (
        "该事项尚未办结，办结后才能评价",
        "This case is not finished yet; you can rate it when it is",
    ),
    "rate.choose": ("您对这次服务满意吗？", "How satisfied are you?"),
    "rate.level.5": ("非常满意", "Very satisfied"),
    "rate.level.4": ("满意", "Satisfied"),
    "rate.level.3": ("基本满意", "Mostly satisfied"),
    "rate.level.2": ("不满意", "Dissatisfied"),
    "rate.level.1": ("非常不满意", "Very dissatisfied"),
    "rate.reasons": ("请选择不满意的原因（可多选）", "Why? (choose one or more)"),
    "rate.submit": ("提交评价", "Submit"),
    "rate.need_reason": ("请至少选择一个原因", "Please choose at least one reason"),
    "rate.working": ("正在提交…", "Submitting…"),
    "rate.thanks": ("感谢您的评价！", "Thank you for your rating!"),
    "rate.thanks.bad": (
        "感谢您的评价，我们将在规定时间内回访并整改",
        "Thank you. We will call you back and put it right",
    ),
    "rate.duplicate": ("您已评价过，感谢！", "You have already rated this case. Thank you!"),
    "reason.服务态度差": ("服务态度差", "Unfriendly service"),
    "reason.办事效率低": ("办事效率低", "Too slow"),
    "reason.一次告知不到位": ("一次告知不到位", "Not told everything at once"),
    "reason.多次跑动": ("多次跑动", "Had to come several times"),
    "reason.超时办理": ("超时办理", "Past the promised time"),
    "reason.窗口无人": ("窗口无人", "Nobody at the window"),
    "reason.其他": ("其他", "Other"),
    # generic errors
    "error.busy": ("请稍候…", "Please wait…"),
    "error.timeout": (
        "系统没有及时响应，请稍后再试",
        "The system did not answer in time; please try again",
    ),
    "error.closed": (
        "该类别现在不能取号（已停止取号或号已取完），请到咨询台",
        "This service is not issuing tickets now; please ask at the help desk",
    ),
    "error.rate_limited": (
        "今天已取过号或操作过于频繁，请到咨询台",
        "You already have a ticket today or tried too often; please ask at the help desk",
    ),
    "error.appointment_not_found": (
        "没有找到今天的预约，请核对预约码或到咨询台",
        "No appointment for today found; check the code or ask at the help desk",
    ),
    "error.generic": (
        "暂时无法办理，请到咨询台",
        "This cannot be done right now; please ask at the help desk",
    ),
    "error.ok": ("知道了", "OK"),
}


def text(key: str, language: Language, **values: object) -> str:
    """The text for ``key`` in ``language`` with ``values`` filled in.

    An unknown key returns the key itself, so a missing text is visible but never crashes a
    visitor's session.
    """
    pair = _TEXTS.get(key)
    if pair is None:
        return key
    template = pair[0] if language == "zh" else pair[1]
    return template.format(**values) if values else template


def has_text(key: str) -> bool:
    return key in _TEXTS


def all_keys() -> list[str]:
    return list(_TEXTS)


def table(language: Language) -> dict[str, str]:
    """All texts in one language (for binding static labels in .kv files)."""
    index = 0 if language == "zh" else 1
    return {key: pair[index] for key, pair in _TEXTS.items()}
