"""All tables; importing this module registers every model on Base.metadata."""

from backend.models import report_schedule as report_schedule  # scheduled performance reports
from backend.models import rollup as rollup  # daily performance roll-ups (绩效日汇总)
from backend.models import sms as sms  # ticket contacts and the SMS outbox
from backend.models import supervision as supervision  # registers the 电子监察 tables
from backend.models.auth import ApiToken, AuditEntry, Device
from backend.models.base import Base, utcnow
from backend.models.cases import (
    ApplicantKind,
    Case,
    CaseEvent,
    CaseParticipant,
    CaseState,
    CaseSuspension,
)
from backend.models.catalog import Matter, MatterVersion
from backend.models.delegation import Delegation
from backend.models.events import Counter, HallEvent
from backend.models.hub import OfflineAction
from backend.models.org import (
    BadRatingReason,
    CalendarYear,
    Department,
    Floor,
    Hall,
    HallKind,
    Notice,
    Role,
    Staff,
    StaffPost,
    Window,
    WindowCategory,
    WindowDepartment,
    WindowState,
    WorkdayOverride,
)
from backend.models.queue import (
    OPEN_TICKET_STATES,
    Appointment,
    AppointmentState,
    CategoryDepartment,
    Channel,
    DailySequence,
    QueueCategory,
    Standing,
    Ticket,
    TicketBlock,
    TicketState,
)
from backend.models.ratings import (
    AppealState,
    Rating,
    RatingAppeal,
    RatingChannel,
    RatingLevel,
    RatingRequest,
    RatingRequestState,
    Rectification,
    RectificationState,
)

__all__ = [
    "OPEN_TICKET_STATES",
    "ApiToken",
    "AppealState",
    "ApplicantKind",
    "Appointment",
    "AppointmentState",
    "AuditEntry",
    "BadRatingReason",
    "Base",
    "CalendarYear",
    "Case",
    "CaseEvent",
    "CaseParticipant",
    "CaseState",
    "CaseSuspension",
    "CategoryDepartment",
    "Channel",
    "Counter",
    "DailySequence",
    "Delegation",
    "Department",
    "Device",
    "Floor",
    "Hall",
    "HallEvent",
    "HallKind",
    "Matter",
    "MatterVersion",
    "Notice",
    "OfflineAction",
    "QueueCategory",
    "Rating",
    "RatingAppeal",
    "RatingChannel",
    "RatingLevel",
    "RatingRequest",
    "RatingRequestState",
    "Rectification",
    "RectificationState",
    "Role",
    "Staff",
    "StaffPost",
    "Standing",
    "Ticket",
    "TicketBlock",
    "TicketState",
    "Window",
    "WindowCategory",
    "WindowDepartment",
    "WindowState",
    "WorkdayOverride",
    "utcnow",
]
