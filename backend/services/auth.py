"""Who is calling: device tokens, staff accounts and staff API tokens.

Passwords are hashed with Argon2id. After 5 failed sign-ins an account is
locked for a growing period (1, 2, 4 … up to 60 minutes). Tokens are random,
shown once, and stored only as SHA-256 hashes. Token checks are cached in
process for a few seconds because they sit on the hot path of every call-next.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadInput, NotAuthenticated
from backend.models import ApiToken, Role, Staff, StaffPost, Window
from backend.services.audit import record
from hallbus.localtime import DEFAULT_TIMEZONE, TIME, format_local

MAX_FAILURES = 5
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    kind: str  # "device" or "staff"
    label: str  # "device:kiosk-1" / "staff:BH0101"
    hall_id: int | None
    device_id: str | None = None
    device_type: str | None = None
    staff_id: int | None = None
    department_id: int | None = None
    window_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: Role) -> bool:
        return any(role.value in self.roles for role in roles)

    @property
    def is_hub(self) -> bool:
        return self.kind == "device" and self.device_type == "hub"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise BadInput("密码至少8位 / password must have at least 8 characters")
    return _hasher.hash(password)


def issue_device_token(
    session: Session,
    *,
    hall_id: int,
    device_id: str,
    device_type: str,
    actor: str,
    token: str | None = None,
) -> str:
    token = token or secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            kind="device",
            device_id=device_id,
            device_type=device_type,
            hall_id=hall_id,
        )
    )
    record(session, actor, "token.issue", "device", device_id, {"type": device_type})
    return token


def sign_in(
    session: Session,
    *,
    employee_no: str,
    password: str,
    window_number: str | None,
    hall_id: int | None,
    now: datetime,
    ttl: timedelta,
) -> tuple[str, Staff, Window | None]:
    staff = session.execute(
        select(Staff).where(Staff.employee_no == employee_no).with_for_update()
    ).scalar_one_or_none()
    generic = NotAuthenticated("工号或密码错误 / wrong employee number or password")
    if staff is None or not staff.active or not staff.password_hash:
        _hasher.hash(password)  # spend the same time as a real check
        raise generic
    if staff.locked_until is not None and staff.locked_until > now:
        raise NotAuthenticated(
            f"账号已锁定，请于 {format_local(staff.locked_until, DEFAULT_TIMEZONE, TIME)} 后再试 "
            "/ account locked after repeated failures",
            locked_until=staff.locked_until.isoformat(),
        )
    try:
        _hasher.verify(staff.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILURES:
            minutes = min(60, 2 ** (staff.failed_logins - MAX_FAILURES))
            staff.locked_until = now + timedelta(minutes=minutes)
        record(
            session,
            f"staff:{employee_no}",
            "auth.failed",
            "staff",
            staff.id,
            {"failures": staff.failed_logins},
        )
        raise generic from None
    staff.failed_logins = 0
    staff.locked_until = None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    window: Window | None = None
    if window_number is not None:
        if hall_id is None:
            raise BadInput("签到窗口须指明大厅 / a hall is required to sign in at a window")
        window = session.execute(
            select(Window).where(Window.hall_id == hall_id, Window.number == window_number)
        ).scalar_one_or_none()
        if window is None:
            raise BadInput(f"窗口 {window_number} 不存在 / unknown window")
        posted = session.execute(
            select(StaffPost.id).where(
                StaffPost.staff_id == staff.id, StaffPost.window_id == window.id
            )
        ).first()
        if posted is None and not staff.has_role(Role.ADMINISTRATOR):
            raise NotAuthenticated("您不在该窗口的A/B岗名单中 / not posted at this window")
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            kind="staff",
            staff_id=staff.id,
            hall_id=window.hall_id if window else hall_id,
            window_id=window.id if window else None,
            expires_at=now + ttl,
        )
    )
    record(
        session,
        f"staff:{employee_no}",
        "auth.sign_in",
        "staff",
        staff.id,
        {"window": window.number if window else None},
    )
    return token, staff, window


def revoke(session: Session, token: str) -> None:
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is not None:
        row.revoked = True


class TokenCache:
    """token hash → (principal, cached-until). Bounded; revocation takes effect
    within `ttl` seconds in every worker."""

    def __init__(self, ttl: float, max_entries: int = 4096) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def resolve(self, session_factory: object, token: str, now: datetime) -> Principal:
        digest = hash_token(token)
        cached = self._entries.get(digest)
        monotonic = time.monotonic()
        if cached is not None and cached[1] > monotonic:
            return cached[0]
        with session_factory() as session:  # type: ignore[operator]
            principal = _load_principal(session, digest, now)
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[digest] = (principal, monotonic + self._ttl)
        return principal


def _load_principal(session: Session, digest: str, now: datetime) -> Principal:
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == digest)
    ).scalar_one_or_none()
    if row is None or row.revoked or (row.expires_at is not None and row.expires_at <= now):
        raise NotAuthenticated("令牌无效或已过期 / invalid or expired token")
    if row.kind == "device":
        return Principal(
            kind="device",
            label=f"device:{row.device_id}",
            hall_id=row.hall_id,
            device_id=row.device_id,
            device_type=row.device_type,
        )
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        raise NotAuthenticated("账号已停用 / account disabled")
    return Principal(
        kind="staff",
        label=f"staff:{staff.employee_no}",
        hall_id=row.hall_id,
        staff_id=staff.id,
        department_id=staff.department_id,
        window_id=row.window_id,
        roles=frozenset(staff.roles),
    )
