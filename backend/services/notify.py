"""Alert channels: e-mail over SMTP, SMS through a gateway, and in-page.

Plan 3.1.1.2 asks for alerts "自动通过邮件、短信等方式通知" the responsible
people; 3.1.1.5 asks for a log of what was sent. Each channel takes one
:class:`OutgoingMessage` and either returns or raises :class:`DeliveryError`;
the dispatcher in backend.services.supervision records the outcome on the
delivery row (status, attempts, last error), which is that log.

* :class:`SmtpEmailChannel` speaks real SMTP with smtplib (STARTTLS and login
  when configured); a message may carry :class:`Attachment` files (the
  scheduled reports of backend.services.report_schedule).
* :class:`SmsChannel` hands the text to an :class:`SmsGateway`. The default
  :class:`LoggingSmsGateway` only logs, and never logs a full phone number:
  a phone number is personal data even when it is a work mobile.
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

from backend.privacy import mask_phone

log = logging.getLogger(__name__)

EMAIL = "email"
SMS = "sms"
IN_PAGE = "in_page"
CHANNEL_NAMES = (EMAIL, SMS, IN_PAGE)


class DeliveryError(Exception):
    """The channel could not deliver; the message may be retried."""


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


class SmsGateway(Protocol):
    """An SMS provider. Returns the provider's message id."""

    def send_sms(self, phone: str, text: str) -> str: ...


class LoggingSmsGateway:
    """The default gateway until a provider is contracted: logs a masked line."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def send_sms(self, phone: str, text: str) -> str:
        message_id = uuid.uuid4().hex[:16]
        self._log.info(
            "SMS %s to %s (%d chars): %s", message_id, mask_phone(phone), len(text), text
        )
        return message_id


class SmsChannel:
    name = SMS

    def __init__(self, gateway: SmsGateway | None = None) -> None:
        self._gateway: SmsGateway = gateway or LoggingSmsGateway()

    def send(self, message: OutgoingMessage) -> None:
        digits = "".join(ch for ch in message.address if ch.isdigit())
        if len(digits) < 7:
            raise DeliveryError("no phone number")
        try:
            self._gateway.send_sms(message.address, f"【{message.subject}】{message.body}")
        except DeliveryError:
            raise
        except Exception as error:  # a provider's SDK may raise anything
            raise DeliveryError(f"SMS gateway: {type(error).__name__}") from error


class InPageChannel:
    name = IN_PAGE

    def send(self, message: OutgoingMessage) -> None:
        # The stored alert is the in-page message; nothing to transmit.
        return None


def default_channels(
    smtp: SmtpSettings | None = None, sms_gateway: SmsGateway | None = None
) -> dict[str, Channel]:
    """In-page and SMS always; e-mail only when an SMTP server is configured."""
    channels: dict[str, Channel] = {IN_PAGE: InPageChannel(), SMS: SmsChannel(sms_gateway)}
    if smtp is not None:
        channels[EMAIL] = SmtpEmailChannel(smtp)
    return channels
