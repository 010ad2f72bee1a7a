"""Kiosk printing: exact ESC/POS bytes, GB18030 text, QR modes, privacy and printer status."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import serial
from escpos.printer import Dummy, Serial
from pydantic import ValidationError

from kiosk.printing import (
    ChecklistContent,
    MaterialItem,
    PrinterHealth,
    PrinterSettings,
    TicketContent,
    TicketPrinter,
    check_printer_status,
    mask_personal_identifiers,
    open_printer,
    render_checklist,
    render_ticket,
)
from kiosk.printing.escpos_text import encode_text, text_width, wrap_text
from kiosk.printing.printer import paper_profile
from kiosk.printing.qr import print_qr

ESC, GS, FS = b"\x1b", b"\x1d", b"\x1c"
FOLLOW_URL = "https://hall.example.cn/q/t/7Q2K9XMB"


def gb(text: str) -> bytes:
    """One printed line as the printer must receive it."""
    return text.encode("gb18030") + b"\n"


def ticket(**changes: object) -> TicketContent:
    fields: dict[str, object] = {
        "hall_name": "滨海新区政务服务中心",
        "number": "A001",
        "category_name": "工商注册",
        "ahead": 3,
        "estimated_wait_minutes": 15,
        "issued_at": datetime(2024, 5, 20, 9, 30),
        "window_area": "一楼 A区 1–6号窗口",
        "follow_url": FOLLOW_URL,
    }
    fields.update(changes)
    return TicketContent(**fields)  # type: ignore[arg-type]


def dummy(paper_width_mm: int = 80) -> Dummy:
    settings = PrinterSettings(kind="dummy", paper_width_mm=paper_width_mm)  # type: ignore[arg-type]
    return Dummy(profile=paper_profile(settings))


def ticket_bytes(
    content: TicketContent, qr_mode: str = "native", paper_width_mm: int = 80
) -> bytes:
    printer = dummy(paper_width_mm)
    columns = 48 if paper_width_mm == 80 else 32
    render_ticket(
        printer,
        content,
        qr_mode,  # type: ignore[arg-type]
        chars_per_line=columns,
        paper_width_mm=paper_width_mm,
    )
    output: bytes = printer.output
    return output


# --- exact bytes -------------------------------------------------------------------------------


def native_qr(url: str, module_dots: int) -> bytes:
    """GS ( k sequence: model 2, module size, error correction M, store data, print."""
    data = url.encode("ascii")
    return (
        GS + b"(k\x04\x00" + b"1A" + b"2\x00"
        + GS + b"(k\x03\x00" + b"1C" + bytes([module_dots])
        + GS + b"(k\x03\x00" + b"1E" + b"1"
        + GS + b"(k" + (len(data) + 3).to_bytes(2, "little") + b"1P0" + data
        + GS + b"(k\x03\x00" + b"1Q0"
    )  # fmt: skip


def test_ticket_exact_bytes_on_80mm_with_native_qr() -> None:
    rule = b"-" * 48 + b"\n"
    expected = (
        ESC + b"@"  # initialise: no mode left over from an earlier job
        + FS + b"&"  # Chinese (double-byte) mode on, once, before any text
        + ESC + b"a\x01" + ESC + b"E\x01" + GS + b"!\x11"  # centred, bold, double size
        + gb("滨海新区政务服务中心")
        + GS + b"!\x00" + ESC + b"E\x00"
        + rule
        + ESC + b"E\x01" + GS + b"!\x33"  # 4x4 ticket number
        + gb("A001")
        + GS + b"!\x00" + ESC + b"E\x00"
        + gb("业务类别：工商注册")
        + rule
        + ESC + b"a\x00"
        + gb("您前面还有 3 人")
        + gb("预计等候约 15 分钟")
        + gb("取号时间：2024-05-20 09:30")
        + gb("办理地点：一楼 A区 1–6号窗口")
        + ESC + b"a\x01"
        + native_qr(FOLLOW_URL, module_dots=6) + b"\n"
        + gb("扫码查看排队进度")
        + rule
        + gb("请留意叫号，过号需重新取号")
        + gb("本票仅限当日有效")
        + ESC + b"d\x06"  # feed past the cutter
        + GS + b"V\x01"  # partial cut: the ticket hangs until taken
    )  # fmt: skip
    assert ticket_bytes(ticket()) == expected


def test_long_hall_name_on_58mm_prints_normal_size_instead_of_wrapping() -> None:
    output = ticket_bytes(ticket(), paper_width_mm=58)
    # 20 cells do not fit 32 columns at double width, so GS ! 0x00 is used and no wrap happens.
    assert ESC + b"E\x01" + GS + b"!\x00" + gb("滨海新区政务服务中心") in output
    assert b"-" * 32 + b"\n" in output and b"-" * 33 not in output
    assert native_qr(FOLLOW_URL, module_dots=5) in output


def test_english_ticket_uses_english_labels_and_default_footer() -> None:
    output = ticket_bytes(ticket(language="en", ahead=0, estimated_wait_minutes=None))
    assert gb("People ahead of you: 0") in output
    assert gb("Estimated wait: not available") in output
    assert gb("Go to: 一楼 A区 1–6号窗口") in output
    assert gb("Valid today only.") in output
    assert "您前面".encode("gb18030") not in output


# --- GB18030 on every line ---------------------------------------------------------------------


def test_punctuation_only_line_is_gb18030_never_question_marks() -> None:
    output = ticket_bytes(ticket(footer_lines=("：，。", "（）《》、")))
    assert bytes.fromhex("a3ba a3ac a1a3") + b"\n" in output
    assert bytes.fromhex("a3a8 a3a9 a1b6 a1b7 a1a2") + b"\n" in output
    assert b"???" not in output
    assert b"?" not in output


def test_chinese_mode_is_entered_before_the_first_chinese_text() -> None:
    output = ticket_bytes(ticket())
    first_double_byte = next(i for i, byte in enumerate(output) if byte >= 0x81)
    assert output.index(FS + b"&") < first_double_byte
    assert output.count(FS + b"&") == 1
    # python-escpos's code-page switching (ESC t) never appears: we encode ourselves.
    assert ESC + b"t" not in output


def test_encoding_covers_ascii_emoji_and_reports_only_broken_surrogates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert encode_text("A-1") == b"A-1"
    assert encode_text("😀") == bytes.fromhex("9439fc36")  # 4-byte GB18030, no loss
    assert encode_text("号\ud800") == "号".encode("gb18030") + b"?"
    assert "cannot be encoded" in caplog.text


def test_control_characters_in_data_cannot_inject_printer_commands() -> None:
    output = ticket_bytes(ticket(category_name="工商\x1bd\x09注册\x1dV\x00"))
    assert gb("业务类别：工商d注册V") in output
    assert output.count(GS + b"V") == 1  # only the real cut


def test_wrapping_counts_double_byte_characters_as_two_cells() -> None:
    assert text_width("A区：1") == 6
    assert wrap_text("一二三四五六七八九十", 8) == ["一二三四", "五六七八", "九十"]
    assert wrap_text("1. 营业执照 business licence", 16, continuation_indent="   ") == [
        "1. 营业执照",
        "   business",
        "   licence",
    ]
    assert all(text_width(line) <= 8 for line in wrap_text("Ａ、Ｂ和C-D，以及E", 8))


# --- QR modes ----------------------------------------------------------------------------------


def qr_part(mode: str) -> bytes:
    printer = dummy(58)
    print_qr(printer, FOLLOW_URL, mode, 58)  # type: ignore[arg-type]
    output: bytes = printer.output
    return output


def test_native_qr_is_small_and_image_qr_is_large() -> None:
    native, image = qr_part("native"), qr_part("image")
    assert len(native) < 400
    assert native == native_qr(FOLLOW_URL, module_dots=5) + b"\n"
    assert image.startswith(GS + b"v0\x00")  # raster bit image, no ESC t or text
    assert len(image) > 10 * len(native)


def test_image_qr_ticket_has_no_native_qr_commands() -> None:
    output = ticket_bytes(ticket(), qr_mode="image")
    assert GS + b"(k" not in output
    assert GS + b"v0" in output
    assert len(output) > len(ticket_bytes(ticket())) + 2000


# --- privacy -----------------------------------------------------------------------------------


def test_phone_and_id_numbers_in_footer_are_masked_on_the_ticket() -> None:
    footer = ("如有疑问请联系13812345678", "身份证110101199003071234", "电话 +86 139-1234-5678")
    text = ticket_bytes(ticket(footer_lines=footer)).decode("gb18030", errors="replace")
    assert not re.search(r"\d{11}", text)
    assert not re.search(r"\d{17}[\dXx]", text)
    assert "13812345678" not in text and "110101199003071234" not in text
    assert "138****5678" in text
    assert "**************1234" in text
    assert "139****5678" in text


def test_masking_leaves_ordinary_numbers_alone() -> None:
    line = "咨询电话：12345 / 022-66668888，A001 号，2024-05-20"
    assert mask_personal_identifiers(line) == line
    assert mask_personal_identifiers("１３８１２３４５６７８") == "138****5678"


# --- checklist ---------------------------------------------------------------------------------


def test_checklist_lists_every_material_with_counts_days_fee_and_place() -> None:
    materials = (
        MaterialItem("营业执照", original_count=1, copy_count=1),
        MaterialItem("法定代表人身份证", original_count=1, copy_count=2, note="正反面复印在同一页"),
        MaterialItem("房屋租赁合同", copy_count=1),
        MaterialItem("公司章程（修正案）", original_count=1),
    )
    content = ChecklistContent(
        hall_name="滨海新区政务服务中心",
        matter_name="食品经营许可证新办",
        materials=materials,
        promised_days=10,
        fee=Decimal("0"),
        window_area="二楼 B区 12号窗口",
        printed_at=datetime(2024, 5, 20, 9, 31),
    )
    printer = dummy(58)
    render_checklist(printer, content, chars_per_line=32)
    output: bytes = printer.output
    assert output.startswith(ESC + b"@" + FS + b"&")
    for item in materials:
        assert f". {item.name}".encode("gb18030") in output
    assert gb("   原件 1 份，复印件 2 份") in output
    assert gb("   复印件 1 份") in output
    assert gb("   正反面复印在同一页") in output
    assert gb("承诺时限：10 个工作日") in output
    assert gb("收费标准：不收费") in output
    assert gb("办理地点：二楼 B区 12号窗口") in output
    assert b"?" not in output


# --- printer status ----------------------------------------------------------------------------


class AnsweringPrinter(Dummy):  # type: ignore[misc]
    """A bidirectional printer: answers DLE EOT 1 and DLE EOT 4 with the given bytes."""

    def __init__(self, printer_status: bytes, paper_status: bytes) -> None:
        super().__init__()
        self.answers = {b"\x10\x04\x01": printer_status, b"\x10\x04\x04": paper_status}
        self.pending = b""

    def _raw(self, msg: bytes) -> None:
        self.pending = self.answers.get(msg, b"")
        super()._raw(msg)

    def _read(self) -> bytes:
        answer, self.pending = self.pending, b""
        return answer


@pytest.mark.parametrize(
    ("printer_status", "paper_status", "health"),
    [
        (b"\x12", b"\x12", PrinterHealth.OK),
        (b"\x12", b"\x1e", PrinterHealth.PAPER_NEAR_END),
        (b"\x12", b"\x72", PrinterHealth.PAPER_OUT),
        (b"\x1a", b"\x72", PrinterHealth.PAPER_OUT),  # offline because the paper ran out
        (b"\x1a", b"\x12", PrinterHealth.OFFLINE),  # offline for another reason (cover open)
        (b"", b"", PrinterHealth.UNKNOWN),  # silence is not "paper adequate"
        (b"\x12", b"", PrinterHealth.UNKNOWN),
        (b"\x10\x04\x01", b"\x10\x04\x04", PrinterHealth.UNKNOWN),  # echo, not a status byte
    ],
)
def test_status_answers_map_to_health(
    printer_status: bytes, paper_status: bytes, health: PrinterHealth
) -> None:
    assert check_printer_status(AnsweringPrinter(printer_status, paper_status)) is health


def test_silent_printer_is_unknown_although_python_escpos_says_paper_ok() -> None:
    silent = AnsweringPrinter(b"", b"")
    assert silent.paper_status() == 2  # the library's reading of silence
    assert check_printer_status(silent) is PrinterHealth.UNKNOWN


def test_write_only_connections_are_unknown_not_ok(tmp_path: Path) -> None:
    assert check_printer_status(Dummy()) is PrinterHealth.UNKNOWN
    file_settings = PrinterSettings(kind="file", file={"path": str(tmp_path / "out.bin")})  # type: ignore[arg-type]
    assert check_printer_status(open_printer(file_settings)) is PrinterHealth.UNKNOWN


def test_echoing_serial_line_is_unknown() -> None:
    printer = Serial(devfile="loop://")
    printer.device = serial.serial_for_url("loop://", timeout=0.2)
    assert check_printer_status(printer) is PrinterHealth.UNKNOWN
    printer.close()


class FakeSerialPrinter:
    """A printer on the far end of a pty: answers status queries and records what it gets."""

    def __init__(self, printer_status: bytes, paper_status: bytes) -> None:
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self._slave = slave
        self.printer_status, self.paper_status = printer_status, paper_status
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            self.received += chunk
            if chunk.endswith(b"\x10\x04\x01"):
                os.write(self.master, self.printer_status)
            elif chunk.endswith(b"\x10\x04\x04"):
                os.write(self.master, self.paper_status)

    def wait_until_received(self, data: bytes, timeout_s: float = 3.0) -> bool:
        """The reader thread drains the pty asynchronously; wait for it instead of racing."""
        deadline = time.monotonic() + timeout_s
        while data not in self.received:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def serial_printer() -> Iterator[FakeSerialPrinter]:
    fake = FakeSerialPrinter(b"\x12", b"\x72")
    yield fake
    fake.close()


def test_paper_out_on_serial_keeps_the_ticket_and_reports_health(
    serial_printer: FakeSerialPrinter,
) -> None:
    settings = PrinterSettings(kind="serial", serial={"port": serial_printer.port})  # type: ignore[arg-type]
    reported: list[PrinterHealth] = []
    service = TicketPrinter(settings, on_health=reported.append)

    outcome = service.print_ticket(ticket())
    assert not outcome.printed
    assert outcome.health is PrinterHealth.PAPER_OUT
    assert outcome.visitor_message == "打印机缺纸，请凭屏幕上的号码等候叫号"
    assert reported == [PrinterHealth.PAPER_OUT]
    assert b"A001" not in serial_printer.received  # nothing half-printed

    serial_printer.paper_status = b"\x12"  # staff load a new roll
    outcome = service.print_ticket(ticket())
    assert outcome.printed and outcome.health is PrinterHealth.OK
    assert outcome.visitor_message == "请取走您的号票"
    assert reported == [PrinterHealth.PAPER_OUT, PrinterHealth.OK]
    assert serial_printer.wait_until_received(ticket_bytes(ticket()))
    service.close()


def test_unreachable_network_printer_is_offline_and_never_raises() -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = PrinterSettings(kind="network", network={"host": "127.0.0.1", "port": port})  # type: ignore[arg-type]
    reported: list[PrinterHealth] = []
    outcome = TicketPrinter(settings, on_health=reported.append).print_ticket(ticket(language="en"))
    assert not outcome.printed and outcome.health is PrinterHealth.OFFLINE
    assert outcome.visitor_message == (
        "The printer is not working right now: "
        "please note the number on the screen and wait to be called."
    )
    assert reported == [PrinterHealth.OFFLINE]


def test_network_printer_near_end_still_prints() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = bytearray()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)
                if chunk.endswith(b"\x10\x04\x01"):
                    conn.sendall(b"\x12")
                elif chunk.endswith(b"\x10\x04\x04"):
                    conn.sendall(b"\x1e")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings = PrinterSettings(
        kind="network",
        network={"host": "127.0.0.1", "port": server.getsockname()[1]},  # type: ignore[arg-type]
    )
    service = TicketPrinter(settings)
    outcome = service.print_ticket(ticket())
    service.close()
    thread.join(timeout=5)
    server.close()
    assert outcome.printed and outcome.health is PrinterHealth.PAPER_NEAR_END
    assert received.endswith(ticket_bytes(ticket()))


def test_file_printer_writes_the_job_and_hedges_the_message(tmp_path: Path) -> None:
    path = tmp_path / "ticket.bin"
    settings = PrinterSettings(kind="file", file={"path": str(path)})  # type: ignore[arg-type]
    service = TicketPrinter(settings)
    outcome = service.print_ticket(ticket())
    service.close()
    assert outcome.printed and outcome.health is PrinterHealth.UNKNOWN
    assert outcome.visitor_message == "请取走您的号票；如未出纸，请凭屏幕上的号码等候叫号"
    assert path.read_bytes() == ticket_bytes(ticket())


def test_failed_write_is_reported_offline_and_a_broken_listener_is_survived() -> None:
    class BrokenPrinter(AnsweringPrinter):
        def _raw(self, msg: bytes) -> None:
            if len(msg) > 3:  # status queries work, the job write fails
                raise OSError("device disconnected")
            super()._raw(msg)

    def listener(health: PrinterHealth) -> None:
        raise RuntimeError("hub link down")

    service = TicketPrinter(
        PrinterSettings(kind="dummy"),
        on_health=listener,
        printer_factory=lambda _settings: BrokenPrinter(b"\x12", b"\x12"),
    )
    outcome = service.print_ticket(ticket())
    assert not outcome.printed and outcome.health is PrinterHealth.OFFLINE
    assert service.last_health is PrinterHealth.OFFLINE


def test_checklist_on_dummy_printer_prints_with_unknown_health() -> None:
    content = ChecklistContent(
        hall_name="滨海新区政务服务中心",
        matter_name="个体工商户设立登记",
        materials=(MaterialItem("经营场所证明", copy_count=1),),
        promised_days=0,
        fee="按规定收取",
        window_area="一楼 A区",
        printed_at=datetime(2024, 5, 20, 10, 0),
        language="en",
    )
    outcome = TicketPrinter(PrinterSettings(kind="dummy")).print_checklist(content)
    assert outcome.printed and outcome.health is PrinterHealth.UNKNOWN
    assert outcome.visitor_message.startswith("Please take your checklist.")


# --- settings ----------------------------------------------------------------------------------


def test_settings_require_the_section_of_their_kind_and_nothing_else() -> None:
    usb = PrinterSettings.model_validate(
        {"kind": "usb", "usb": {"vendor_id": 0x0416, "product_id": 0x5011}, "paper_width_mm": 58}
    )
    assert usb.chars_per_line == 32 and usb.printable_dots == 384
    assert PrinterSettings(kind="dummy").chars_per_line == 48
    with pytest.raises(ValidationError, match="section is missing"):
        PrinterSettings.model_validate({"kind": "serial"})
    with pytest.raises(ValidationError, match="also given"):
        PrinterSettings.model_validate({"kind": "dummy", "file": {"path": "/tmp/x"}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        PrinterSettings.model_validate({"kind": "dummy", "papr_width_mm": 58})
    with pytest.raises(ValidationError):
        PrinterSettings.model_validate({"kind": "dummy", "paper_width_mm": 76})
