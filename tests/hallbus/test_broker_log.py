"""Mosquitto logs every connection; the broker must keep serving however much
it has logged (its log once went to a pipe nobody read, and at 64 KiB the
broker's only thread blocked: every client timed out)."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from hallbus.broker.mosquitto import start_mosquitto
from hallbus.ports import free_loopback_port
from hallbus.topics import DeviceRef, DeviceType

PIPE_BUFFER = 64 * 1024


def _connect_packet(client_id: str, username: str, password: str) -> bytes:
    def field(text: str) -> bytes:
        data = text.encode()
        return struct.pack("!H", len(data)) + data

    variable = field("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 30)
    payload = field(client_id) + field(username) + field(password)
    body = variable + payload
    return bytes([0x10, len(body)]) + body


def _connack_code(host: str, port: int, packet: bytes) -> int:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(packet)
        reply = sock.recv(4)
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    assert reply[:2] == b"\x20\x02", reply
    return reply[3]


def test_broker_keeps_serving_after_logging_more_than_a_pipe_holds(tmp_path: Path) -> None:
    device = DeviceRef("bh", DeviceType.KIOSK, "kiosk-1")
    port = free_loopback_port()
    with start_mosquitto(tmp_path / "mosquitto", [device], {"kiosk-1": "secret-1"}, port) as broker:
        packet = _connect_packet("kiosk-1", "kiosk-1", "secret-1")
        connections = 0
        # Raw MQTT connects (each logs a few lines) until the log is well past
        # what a pipe buffer holds; a blocked broker would stop answering here.
        while broker.log_path.stat().st_size < 2 * PIPE_BUFFER:
            assert _connack_code("127.0.0.1", port, packet) == 0
            connections += 1
            assert connections < 20_000, "the broker logs nothing about connections"
        assert _connack_code("127.0.0.1", port, packet) == 0
    assert "kiosk-1" in broker.log_path.read_text(encoding="utf-8", errors="replace")
