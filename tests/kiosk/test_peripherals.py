"""ID card reader line protocol (over a real pty pair), scanner input, texts and .kv keys."""

from __future__ import annotations

import os
import queue
import re
import tty
from pathlib import Path

from kiosk.i18n import all_keys, has_text, table, text
from kiosk.identity import id_number_valid, receipt_from_scan, receipt_valid
from kiosk.peripherals import SerialLineReader, WedgeBuffer, parse_id_card_line
from tests.kiosk.fakehub import LOOKUP_KEY, RECEIPT_FINISHED

ID_NUMBER = "11010519491231002X"
KV_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "ui" / "kv"


def test_id_card_line_protocol() -> None:
    read = parse_id_card_line(f"IDCARD,{ID_NUMBER},张三\r\n".encode(), LOOKUP_KEY)
    assert read is not None and len(read.lookup_hash) == 64
    assert "张三" not in repr(read) and ID_NUMBER not in repr(read)
    assert parse_id_card_line(b"READY\r\n", LOOKUP_KEY) is None
    assert parse_id_card_line(b"IDCARD,110105194912310021\r\n", LOOKUP_KEY) is None  # checksum
    assert id_number_valid(ID_NUMBER.lower())


def test_serial_reader_over_a_pty_pair() -> None:
    controller, device = os.openpty()
    tty.setraw(device)
    lines: queue.Queue[bytes] = queue.Queue()

    def on_line(line: bytes) -> None:
        lines.put(line)

    reader = SerialLineReader(os.ttyname(device), 115200, on_line, name="test-reader")
    reader.start()
    try:
        assert reader.opened.wait(5)
        os.write(controller, f"READY\r\nIDCARD,{ID_NUMBER}\r\n".encode())
        received = [lines.get(timeout=5), lines.get(timeout=5)]
    finally:
        reader.stop()
        os.close(controller)
        os.close(device)
    assert received == [b"READY", f"IDCARD,{ID_NUMBER}".encode()]


def test_wedge_buffer_and_receipt_scan() -> None:
    wedge = WedgeBuffer(gap_s=0.3)
    for index, char in enumerate("x"):
        wedge.feed(char, 0.0 + index)
    for index, char in enumerate(RECEIPT_FINISHED):
        wedge.feed(char, 5.0 + index * 0.001)  # a scanner types fast; the stray "x" is dropped
    code = wedge.enter()
    assert code == RECEIPT_FINISHED
    assert receipt_from_scan(f"https://x.gov.cn/r/{code}") == RECEIPT_FINISHED
    assert receipt_valid(RECEIPT_FINISHED)
    assert not receipt_valid(RECEIPT_FINISHED[:-1] + str((int(RECEIPT_FINISHED[-1]) + 1) % 10))


def test_every_text_has_both_languages_and_kv_uses_known_keys() -> None:
    assert all(text(key, "en") and text(key, "zh") for key in all_keys())
    assert table("zh").keys() == table("en").keys()
    used = set()
    for path in KV_DIR.glob("*.kv"):
        used |= set(re.findall(r"app\.t\['([^']+)'\]", path.read_text(encoding="utf-8")))
        assert ".get(" not in path.read_text(encoding="utf-8"), (
            f"{path.name}: kv does not rebind on dict.get(); use app.state['key']"
        )
    assert used and all(has_text(key) for key in used), sorted(k for k in used if not has_text(k))
