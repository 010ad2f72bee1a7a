"""Asks the printer whether it can print, and says so in plain words.

The real-time status queries ``DLE EOT 1`` (printer) and ``DLE EOT 4`` (roll paper sensor) are
sent and their one-byte answers parsed here rather than through python-escpos's
``paper_status()`` / ``is_online()``: ``paper_status()`` returns 2 ("paper adequate") when the
printer answers nothing, and neither checks that the answer is a status byte at all (a
loop-back cable echoing the query reads as "no paper"). Here, no answer or a malformed answer is
:attr:`PrinterHealth.UNKNOWN` — never OK.

File and dummy printers are write-only, so they are always UNKNOWN: their bytes may go to a
printer that is out of paper and nothing would tell us.
"""

from __future__ import annotations

import enum
import logging
import socket
from typing import Literal

import serial
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError

logger = logging.getLogger(__name__)

DLE = b"\x10"
EOT = b"\x04"
QUERY_PRINTER_STATUS = DLE + EOT + b"\x01"
QUERY_PAPER_STATUS = DLE + EOT + b"\x04"

# Every DLE EOT answer has bit 0 and bit 7 clear and bits 1 and 4 set (0b0xx1xx10).
_STATUS_FIXED_MASK = 0b1001_0011
_STATUS_FIXED_BITS = 0b0001_0010
_PRINTER_OFFLINE_BIT = 0b0000_1000  # DLE EOT 1, bit 3
_PAPER_NEAR_END_BITS = 0b0000_1100  # DLE EOT 4, bits 2-3
_PAPER_OUT_BITS = 0b0110_0000  # DLE EOT 4, bits 5-6

# A printer answers a real-time query within milliseconds; waiting longer only delays the
# visitor when it does not answer at all.
STATUS_READ_TIMEOUT_S = 1.0

Language = Literal["zh", "en"]
DocumentKind = Literal["ticket", "checklist"]


class PrinterHealth(enum.Enum):
    """Printer condition reported to the hub as device health."""

    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    UNKNOWN = "unknown"

    @property
    def can_print(self) -> bool:
        """False only when printing is known to fail; UNKNOWN still tries."""
        return self not in (PrinterHealth.PAPER_OUT, PrinterHealth.OFFLINE)


_STAFF_MESSAGES: dict[PrinterHealth, str] = {
    PrinterHealth.OK: "打印机正常",
    PrinterHealth.PAPER_NEAR_END: "打印纸即将用完，请尽快更换纸卷",
    PrinterHealth.PAPER_OUT: "打印机缺纸，请更换纸卷",
    PrinterHealth.OFFLINE: "打印机离线：请检查电源、数据线和纸仓盖",
    PrinterHealth.UNKNOWN: "无法读取打印机状态（连接为单向或打印机未应答），请人工确认出票",
}

# What the visitor should do instead of taking paper, per document.
_FALLBACK_ADVICE: dict[tuple[DocumentKind, Language], str] = {
    ("ticket", "zh"): "请凭屏幕上的号码等候叫号",
    ("ticket", "en"): "please note the number on the screen and wait to be called",
    ("checklist", "zh"): "请拍下屏幕上的材料清单，或向工作人员索取",
    ("checklist", "en"): "please photograph the list on the screen or ask a member of staff",
}
_FAULT_PHRASES: dict[tuple[PrinterHealth, Language], str] = {
    (PrinterHealth.PAPER_OUT, "zh"): "打印机缺纸",
    (PrinterHealth.PAPER_OUT, "en"): "The printer is out of paper",
    (PrinterHealth.OFFLINE, "zh"): "打印机暂时无法使用",
    (PrinterHealth.OFFLINE, "en"): "The printer is not working right now",
}
_TAKE_IT: dict[tuple[DocumentKind, Language], str] = {
    ("ticket", "zh"): "请取走您的号票",
    ("ticket", "en"): "Please take your ticket",
    ("checklist", "zh"): "请取走材料清单",
    ("checklist", "en"): "Please take your checklist",
}


def staff_message(health: PrinterHealth) -> str:
    return _STAFF_MESSAGES[health]


def visitor_message(
    health: PrinterHealth,
    *,
    printed: bool,
    document: DocumentKind = "ticket",
    language: Language = "zh",
) -> str:
    """What the kiosk screen tells the visitor after a print attempt, in plain words."""
    advice = _FALLBACK_ADVICE[(document, language)]
    if printed:
        take_it = _TAKE_IT[(document, language)]
        if health is PrinterHealth.UNKNOWN:
            # Bytes were sent but nothing confirms paper came out.
            if language == "zh":
                return f"{take_it}；如未出纸，{advice}"
            return f"{take_it}. If nothing came out, {advice}."
        return take_it if language == "zh" else f"{take_it}."
    fault = (
        _FAULT_PHRASES.get((health, language)) or _FAULT_PHRASES[(PrinterHealth.OFFLINE, language)]
    )
    if language == "zh":
        return f"{fault}，{advice}"
    return f"{fault}: {advice}."


def parse_status_byte(answer: bytes) -> int | None:
    """The status byte in ``answer``, or None when there is no valid one.

    The last byte is used: anything before it is stale data from earlier queries.
    """
    if not answer:
        return None
    status = answer[-1]
    if status & _STATUS_FIXED_MASK != _STATUS_FIXED_BITS:
        return None
    return status


def health_from_status(printer_status: int | None, paper_status: int | None) -> PrinterHealth:
    """Map the answers of DLE EOT 1 and DLE EOT 4 (None = no valid answer) to health."""
    if printer_status is None:
        return PrinterHealth.UNKNOWN
    # Most printers go offline *because* the paper ran out; say so, it is what staff must fix.
    if paper_status is not None and paper_status & _PAPER_OUT_BITS:
        return PrinterHealth.PAPER_OUT
    if printer_status & _PRINTER_OFFLINE_BIT:
        return PrinterHealth.OFFLINE
    if paper_status is None:
        return PrinterHealth.UNKNOWN
    if paper_status & _PAPER_NEAR_END_BITS:
        return PrinterHealth.PAPER_NEAR_END
    return PrinterHealth.OK


def connection_can_answer(printer: Escpos) -> bool:
    """True when the connection class can read from the printer (USB, serial, network).

    Checked by whether the class overrides ``Escpos._read``, which the base class leaves
    unimplemented for write-only connections (file, dummy, lp, cups).
    """
    return type(printer)._read is not Escpos._read


def check_printer_status(printer: Escpos) -> PrinterHealth:
    """Query the printer; never raises.

    A failure to open or write to the connection is OFFLINE; an open connection that gives no
    valid answer is UNKNOWN.
    """
    if not connection_can_answer(printer):
        return PrinterHealth.UNKNOWN
    try:
        printer_status = _query(printer, QUERY_PRINTER_STATUS)
        paper_status = _query(printer, QUERY_PAPER_STATUS)
    except (EscposError, OSError, ValueError) as error:
        logger.warning("printer status query failed: %s", error)
        return PrinterHealth.OFFLINE
    return health_from_status(printer_status, paper_status)


def _query(printer: Escpos, query: bytes) -> int | None:
    """Send one real-time query; write errors propagate, read errors mean "no answer"."""
    device = printer.device
    if isinstance(device, serial.SerialBase):
        # Drop stale bytes (a late answer to an earlier query) so they are not read as this one.
        device.reset_input_buffer()
    printer._raw(query)
    try:
        answer = _read_answer(printer, device)
    except (OSError, ValueError, NotImplementedError) as error:
        # socket.timeout and pyusb's USBTimeoutError are OSErrors.
        logger.info("no answer to status query %s: %s", query.hex(), error)
        return None
    status = parse_status_byte(answer)
    if status is None and answer:
        logger.info("ignoring malformed status answer %s", answer.hex())
    return status


def _read_answer(printer: Escpos, device: object) -> bytes:
    """Read the (one-byte) answer without waiting longer than needed.

    python-escpos reads 16 bytes, which on a serial port always waits out the full timeout;
    here a serial read returns as soon as the first byte arrives. Sockets return whatever has
    arrived and USB returns one packet, so for them only the timeout is bounded.
    """
    if isinstance(device, serial.SerialBase):
        previous = device.timeout
        device.timeout = STATUS_READ_TIMEOUT_S
        try:
            answer = bytes(device.read(1))
            if answer and device.in_waiting:
                answer += bytes(device.read(device.in_waiting))
            return answer
        finally:
            device.timeout = previous
    if isinstance(device, socket.socket):
        previous_timeout = device.gettimeout()
        device.settimeout(STATUS_READ_TIMEOUT_S)
        try:
            return bytes(printer._read())
        finally:
            device.settimeout(previous_timeout)
    return bytes(printer._read())
