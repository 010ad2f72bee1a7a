"""Text messages through a real SMS gateway, and the outbox they wait in.

The gateway is Alibaba Cloud SMS (阿里云短信服务, dysmsapi ``SendSms``, API
version 2017-05-25), called as its RPC-style API documents: the parameters are
sorted, percent-encoded per RFC 3986 (``%20`` for a space, ``~`` left alone),
joined into the canonicalised query string, and signed with signature v1::

    StringToSign = "POST" + "&" + encode("/") + "&" + encode(canonicalised query)
    Signature    = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))

The answer's ``"Code": "OK"`` is the only acceptance; its ``RequestId`` and
``BizId`` are kept on the message. Messages are template-based (the provider
requires approved templates), so what is sent is a template code and its
parameters: for the turn-is-near reminder only the ticket number, the window and
the hall name.

States (:class:`~backend.models.sms.SmsState`), honest about what happened:

* ``off`` -- no gateway configured (or no template for this kind of message):
  the channel is off, nothing was sent, and the message says so;
* ``queued`` -- waiting for its first or next attempt;
* ``sent`` -- the gateway answered ``OK`` (never before);
* ``failed`` -- the gateway refused it (its error code is the reason), or every
  attempt met a timeout / 5xx / throttling answer; attempts wait 30 s, 60 s,
  120 s … apart (``SmsSettings.retry_after_seconds``);
* ``cancelled`` -- a reminder whose ticket was called before it went out.

Logs name the message id, its purpose, the masked number and the outcome; the
text and its parameters are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.config import SmsSettings
from backend.db import Database
from backend.errors import BadInput
from backend.models.sms import SmsMessage, SmsState
from backend.privacy import IdentityProtector, mask_phone, redact_text

log = logging.getLogger(__name__)

TURN_NEAR = "turn_near"
ALERT = "alert"

OFF_NO_GATEWAY = "短信网关未配置，短信通道关闭 / no SMS gateway configured: the SMS channel is off"
OFF_NO_TEMPLATE = "未配置该类短信模板 / no SMS template configured for this kind of message"

# Answers that say "not now" rather than "never": flow control and the
# provider's own trouble. Every other error code is a refusal.
_TRANSIENT_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
        "isp.SYSTEM_ERROR",
        "isp.RAM_PERMISSION_DENY",
    }
)
_ALIYUN_API_VERSION = "2017-05-25"


def mobile_number(value: str, field: str = "phone") -> str:
    """The 11 digits of a mainland mobile number, or BadInput."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) != 11 or not digits.startswith("1"):
        raise BadInput("请填写11位手机号码 / an 11-digit mobile number is required", field=field)
    return digits


# --------------------------------------------------------------------------- the gateway


class SmsRefused(Exception):
    """The gateway answered and refused the message; retrying will not help."""


class SmsUnavailable(Exception):
    """No answer, a 5xx, or throttling: the message may be tried again later."""


@dataclass(frozen=True)
class Accepted:
    request_id: str
    message_id: str


class SmsGateway(Protocol):
    name: str

    def template_for(self, purpose: str) -> str: ...

    def send(self, phone: str, template_code: str, params: Mapping[str, str]) -> Accepted: ...


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the Alibaba Cloud RPC signature requires it."""
    return quote(value, safe="-_.~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params)
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    digest = hmac.new(
        f"{access_key_secret}&".encode(),
        aliyun_string_to_sign(method, params).encode(),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class AliyunSmsGateway:
    """dysmsapi SendSms over HTTPS POST (form-encoded, so the number stays out of URLs)."""

    name = "aliyun"

    def __init__(
        self,
        settings: SmsSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        session: requests.Session | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._http = session or requests.Session()

    def template_for(self, purpose: str) -> str:
        if purpose == TURN_NEAR:
            return self._settings.template_turn_near
        if purpose == ALERT:
            return self._settings.template_alert
        return ""

    def signed_params(
        self, phone: str, template_code: str, params: Mapping[str, str]
    ) -> dict[str, str]:
        settings = self._settings
        values = {
            "AccessKeyId": settings.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone,
            "RegionId": settings.region_id,
            "SignName": settings.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": _ALIYUN_API_VERSION,
        }
        values["Signature"] = aliyun_signature("POST", values, settings.access_key_secret)
        return values

    def send(self, phone: str, template_code: str, params: Mapping[str, str]) -> Accepted:
        body = "&".join(
            f"{percent_encode(key)}={percent_encode(value)}"
            for key, value in self.signed_params(phone, template_code, params).items()
        )
        try:
            response = self._http.post(
                str(self._settings.endpoint),
                data=body.encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                timeout=self._settings.timeout_seconds,
            )
        except requests.Timeout as error:
            raise SmsUnavailable("短信网关超时 / gateway timed out") from error
        except requests.RequestException as error:
            raise SmsUnavailable(
                f"短信网关不可达 / gateway unreachable ({type(error).__name__})"
            ) from error
        if response.status_code >= 500:
            raise SmsUnavailable(f"短信网关 HTTP {response.status_code} / gateway error")
        try:
            answer = response.json()
        except ValueError as error:
            raise SmsUnavailable(f"短信网关应答无法解析 (HTTP {response.status_code})") from error
        code = str(answer.get("Code", "")) if isinstance(answer, dict) else ""
        if code == "OK":
            return Accepted(str(answer.get("RequestId", "")), str(answer.get("BizId", "")))
        # The provider's message is about our request; masked anyway in case it
        # quotes the number back.
        reason = redact_text(
            f"{code or 'HTTP ' + str(response.status_code)}: "
            f"{answer.get('Message', '') if isinstance(answer, dict) else ''}"
        )
        if code in _TRANSIENT_CODES or response.status_code == 429:
            raise SmsUnavailable(reason[:300])
        raise SmsRefused(reason[:300])


def gateway_from_settings(
    settings: SmsSettings | None, clock: Callable[[], datetime] | None = None
) -> SmsGateway | None:
    if settings is None:
        return None
    if clock is None:
        return AliyunSmsGateway(settings)
    return AliyunSmsGateway(settings, clock)


# --------------------------------------------------------------------------- the outbox


def off_reason(gateway: SmsGateway | None, purpose: str) -> str:
    """Why a message of ``purpose`` cannot go out now ("" when it can)."""
    if gateway is None:
        return OFF_NO_GATEWAY
    if not gateway.template_for(purpose):
        return OFF_NO_TEMPLATE
    return ""


def enqueue(
    session: Session,
    *,
    purpose: str,
    hall_id: int,
    ticket_id: int | None,
    phone: str,
    protector: IdentityProtector,
    params: Mapping[str, str],
    gateway: SmsGateway | None,
    now: datetime,
) -> SmsMessage:
    """Store one message: queued when the channel can send it, else off (and why)."""
    reason = off_reason(gateway, purpose)
    message = SmsMessage(
        purpose=purpose,
        hall_id=hall_id,
        ticket_id=ticket_id,
        phone_cipher=protector.seal_text(phone),
        phone_masked=mask_phone(phone),
        params=dict(params),
        state=(SmsState.OFF if reason else SmsState.QUEUED).value,
        attempts=0,
        next_attempt_at=None if reason else now,
        last_error=reason,
        provider_request_id="",
        provider_message_id="",
        created_at=now,
    )
    session.add(message)
    session.flush()
    log.info(
        "SMS %s (%s) to %s: %s",
        message.id,
        purpose,
        message.phone_masked,
        "queued" if not reason else "off, not sent",
    )
    return message


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class _Work:
    message_id: int
    purpose: str
    phone: str
    phone_masked: str
    template_code: str
    params: dict[str, str]


# A claim older than this is a dispatcher that stopped mid-send: whether the
# gateway took the message is unknown, so it is failed rather than sent twice.
CLAIM_TIMEOUT = timedelta(minutes=5)


def dispatch_due(
    database: Database,
    gateway: SmsGateway,
    protector: IdentityProtector,
    now: Callable[[], datetime],
    *,
    max_attempts: int = 4,
    retry_after_seconds: float = 30.0,
    still_wanted: Callable[[Session, SmsMessage], bool] | None = None,
    batch: int = 50,
) -> DispatchReport:
    """Send the queued messages that are due. Claimed in one short transaction
    (SKIP LOCKED on PostgreSQL, so two dispatchers never take the same one), sent
    with no transaction open, and the outcome recorded in a second."""
    report = DispatchReport()
    claimed_at = now()
    work: list[_Work] = []
    with database.reading() as session:
        # Most passes find nothing; only then is a write transaction (on SQLite
        # the database's write lock) worth taking.
        pending = session.execute(
            select(SmsMessage.id)
            .where(
                (
                    (SmsMessage.state == SmsState.QUEUED.value)
                    & (SmsMessage.next_attempt_at <= claimed_at)
                )
                | (
                    (SmsMessage.state == SmsState.SENDING.value)
                    & (SmsMessage.claimed_at < claimed_at - CLAIM_TIMEOUT)
                )
            )
            .limit(1)
        ).first()
    if pending is None:
        return report
    with database.writing() as session:
        stale = session.execute(
            update(SmsMessage)
            .where(
                SmsMessage.state == SmsState.SENDING.value,
                SmsMessage.claimed_at < claimed_at - CLAIM_TIMEOUT,
            )
            .values(
                state=SmsState.FAILED.value,
                claimed_at=None,
                last_error="发送中断，结果未知 / sending was interrupted; outcome unknown",
            )
        )
        report.failed += int(getattr(stale, "rowcount", 0) or 0)
        statement = (
            select(SmsMessage)
            .where(
                SmsMessage.state == SmsState.QUEUED.value,
                SmsMessage.next_attempt_at <= claimed_at,
            )
            .order_by(SmsMessage.next_attempt_at, SmsMessage.id)
            .limit(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        for message in session.execute(statement).scalars():
            if still_wanted is not None and not still_wanted(session, message):
                message.state = SmsState.CANCELLED.value
                message.last_error = "已叫号，不再提醒 / the ticket was already called"
                message.next_attempt_at = None
                report.cancelled += 1
                log.info("SMS %s (%s) cancelled: no longer due", message.id, message.purpose)
                continue
            template = gateway.template_for(message.purpose)
            if not template:
                message.state = SmsState.OFF.value
                message.last_error = OFF_NO_TEMPLATE
                message.next_attempt_at = None
                continue
            message.state = SmsState.SENDING.value
            message.claimed_at = claimed_at
            work.append(
                _Work(
                    message.id,
                    message.purpose,
                    protector.open_text(message.phone_cipher),
                    message.phone_masked,
                    template,
                    {str(k): str(v) for k, v in message.params.items()},
                )
            )
    outcomes: list[tuple[_Work, Accepted | SmsRefused | SmsUnavailable]] = []
    for item in work:
        try:
            outcomes.append((item, gateway.send(item.phone, item.template_code, item.params)))
        except (SmsRefused, SmsUnavailable) as error:
            outcomes.append((item, error))
    if not outcomes:
        return report
    with database.writing() as session:
        finished = now()
        for item, outcome in outcomes:
            stored = session.get(SmsMessage, item.message_id)
            if stored is None:  # pragma: no cover - rows are never deleted
                continue
            message = stored
            message.attempts += 1
            message.claimed_at = None
            if isinstance(outcome, Accepted):
                message.state = SmsState.SENT.value
                message.sent_at = finished
                message.next_attempt_at = None
                message.last_error = ""
                message.provider_request_id = outcome.request_id[:64]
                message.provider_message_id = outcome.message_id[:64]
                report.sent += 1
                log.info(
                    "SMS %s (%s) to %s accepted by %s, request %s",
                    item.message_id,
                    item.purpose,
                    item.phone_masked,
                    gateway.name,
                    outcome.request_id,
                )
                continue
            reason = str(outcome)
            if isinstance(outcome, SmsUnavailable) and message.attempts < max_attempts:
                wait = retry_after_seconds * (2 ** (message.attempts - 1))
                message.state = SmsState.QUEUED.value
                message.next_attempt_at = finished + timedelta(seconds=wait)
                message.last_error = (
                    f"第{message.attempts}次发送失败，将重试 / attempt failed: {reason}"
                )
                report.retrying += 1
                log.warning(
                    "SMS %s (%s) to %s: attempt %d failed (%s); retry in %.0f s",
                    item.message_id,
                    item.purpose,
                    item.phone_masked,
                    message.attempts,
                    reason,
                    wait,
                )
            else:
                message.state = SmsState.FAILED.value
                message.next_attempt_at = None
                message.last_error = (
                    f"网关拒绝 / refused by the gateway: {reason}"
                    if isinstance(outcome, SmsRefused)
                    else f"{message.attempts}次均失败 / gave up after {message.attempts} attempts: "
                    f"{reason}"
                )
                report.failed += 1
                log.warning(
                    "SMS %s (%s) to %s failed: %s",
                    item.message_id,
                    item.purpose,
                    item.phone_masked,
                    message.last_error,
                )
    return report
