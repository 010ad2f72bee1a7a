"""Alert channels: e-mail over SMTP, SMS through a gateway, and in-page.

Plan 3.1.1.2 asks for alerts "自动通过邮件、短信等方式通知" the responsible
people; 3.1.1.5 asks for a log of what was sent. Each channel takes one
:class:`OutgoingMessage` and either returns or raises :class:`DeliveryError`;
the dispatcher in backend.services.supervision records the outcome on the
delivery row (status, attempts, last error), which is that log.

* :class:`SmtpEmailChannel` speaks real SMTP with smtplib (STARTTLS and login
  when configured); a message may carry :class:`Attachment` files (the
  scheduled reports of backend.services.report_schedule).
* :class:`SmsChannel` hands the alert to the SMS gateway of
  backend.services.sms (Alibaba Cloud SMS, its ``alert`` template). Without a
  configured gateway there is no SMS channel: the deliveries are marked
  ``off`` and nothing pretends to have been sent. Logs never show the text or
  a full phone number: a phone number is personal data even when it is a work
  mobile.
* :class:`InPageChannel` sends nothing: the alert row itself is what the pages
  show, so the delivery is complete as soon as it is stored.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol

from backend.errors import BadInput
from backend.privacy import mask_phone
from backend.services.sms import (
    ALERT,
    OFF_NO_TEMPLATE,
    SmsGateway,
    SmsRefused,
    SmsUnavailable,
    mobile_number,
)

log = logging.getLogger(__name__)

EMAIL = "email"
SMS = "sms"
IN_PAGE = "in_page"
CHANNEL_NAMES = (EMAIL, SMS, IN_PAGE)


class DeliveryError(Exception):
    """The channel could not deliver. ``permanent``: retrying cannot help (the
    provider refused it, the address is unusable), so it fails at once."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail (a scheduled report). Other channels ignore it."""

    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


@dataclass(frozen=True)
class OutgoingMessage:
    recipient_name: str
    address: str  # e-mail address, phone number, or "" for in-page
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> None: ...


def mask_email(address: str) -> str:
    """zhang.san@example.gov.cn -> z***@example.gov.cn"""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_address(channel: str, address: str) -> str:
    if not address:
        return ""
    if channel == SMS:
        return mask_phone(address)
    if channel == EMAIL:
        return mask_email(address)
    return address


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "hallkit@localhost"
    sender_name: str = "电子监察 hallkit"
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout_seconds: float = 10.0


class SmtpEmailChannel:
    name = EMAIL

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = formataddr((self._settings.sender_name, self._settings.sender))
        email["To"] = formataddr((message.recipient_name, message.address))
        email["Subject"] = message.subject
        domain = self._settings.sender.partition("@")[2] or "localhost"
        email["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
        email.set_content(message.body, charset="utf-8")
        for attachment in message.attachments:
            if attachment.maintype == "text":
                # As text with its charset, so a mail client shows it inline if it likes.
                email.add_attachment(
                    attachment.content.decode("utf-8"),
                    subtype=attachment.subtype,
                    filename=attachment.filename,
                )
            else:
                email.add_attachment(
                    attachment.content,
                    maintype=attachment.maintype,
                    subtype=attachment.subtype,
                    filename=attachment.filename,
                )
        return email

    def send(self, message: OutgoingMessage) -> None:
        if "@" not in message.address:
            raise DeliveryError("no e-mail address")
        settings = self._settings
        try:
            with smtplib.SMTP(
                settings.host, settings.port, timeout=settings.timeout_seconds
            ) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    smtp.login(settings.username, settings.password)
                smtp.send_message(self.build(message))
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"SMTP {settings.host}:{settings.port}: {error}") from error


class SmsChannel:
    """Alerts by SMS: the subject and text as the ``content`` of the alert template."""

    name = SMS

    def __init__(self, gateway: SmsGateway) -> None:
        self._gateway = gateway

    def send(self, message: OutgoingMessage) -> None:
        try:
            phone = mobile_number(message.address)
        except BadInput as error:
            raise DeliveryError("no mobile number", permanent=True) from error
        template = self._gateway.template_for(ALERT)
        if not template:
            raise DeliveryError(OFF_NO_TEMPLATE, permanent=True)
        content = f"【{message.subject}】{message.body}"[:500]
        try:
            accepted = self._gateway.send(phone, template, {"content": content})
        except SmsRefused as error:
            raise DeliveryError(f"SMS gateway refused: {error}", permanent=True) from error
        except SmsUnavailable as error:
            raise DeliveryError(f"SMS gateway: {error}") from error
        log.info("alert SMS to %s accepted, request %s", mask_phone(phone), accepted.request_id)


class InPageChannel:
    name = IN_PAGE

    def send(self, message: OutgoingMessage) -> None:
        # The stored alert is the in-page message; nothing to transmit.
        return None


def default_channels(
    smtp: SmtpSettings | None = None, sms_gateway: SmsGateway | None = None
) -> dict[str, Channel]:
    """In-page always; SMS only with a gateway and e-mail only with an SMTP server.
    A channel left out is off: its deliveries are recorded as such, not sent."""
    channels: dict[str, Channel] = {IN_PAGE: InPageChannel()}
    if sms_gateway is not None:
        channels[SMS] = SmsChannel(sms_gateway)
    if smtp is not None:
        channels[EMAIL] = SmtpEmailChannel(smtp)
    return channels
