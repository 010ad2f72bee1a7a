"""The production server (granian) that `hall serve` and the demo run."""

from __future__ import annotations

import gc
import http.client
import json
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.config import settings_from_env
from backend.db import Database
from backend.server import (
    WORKER_KILL_TIMEOUT,
    PortInUse,
    _WaitingThreadsAdvice,
    ensure_port_free,
    freeze_startup_objects,
    pin_settings_for_workers,
    server_command,
    stop_server,
    wait_until_serving,
    worker_app,
)
from hallbus.ports import free_loopback_port
from tests.conftest import issue_test_device_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hall_files(tmp_path: Path, sqlite_template: Path) -> Path:
    """A var directory holding a copy of the seeded demo database."""
    var = tmp_path / "var"
    var.mkdir()
    shutil.copyfile(sqlite_template, var / "hall.db")
    return var


def test_freezing_puts_everything_alive_out_of_the_collectors_reach() -> None:
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > before
        assert gc.get_objects(generation=2) == []
    finally:
        gc.unfreeze()


def test_a_worker_builds_the_app_from_the_pinned_settings_and_freezes_it(
    hall_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{hall_files / 'hall.db'}")
    monkeypatch.setenv("HALLKIT_VAR_DIR", str(hall_files))
    monkeypatch.setenv("HALLKIT_SECRET_KEY", "a-secret-for-this-test-only-" + "x" * 20)
    before = gc.get_freeze_count()
    try:
        app = worker_app()
        assert gc.get_freeze_count() > before
        assert app.extensions["hallkit"].db.url == f"sqlite:///{hall_files / 'hall.db'}"
        app.extensions["hallkit"].db.dispose()
        # The server copies its environment into every request's environ.
        assert "DATABASE_URL" not in os.environ
        assert "HALLKIT_SECRET_KEY" not in os.environ
    finally:
        gc.unfreeze()


def test_every_worker_sees_the_servers_settings_wherever_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative var directory and the secret created on first start must mean
    the same in every worker: a worker with a secret of its own could not read
    the ID numbers another worker encrypted."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("HALLKIT_SECRET_KEY", raising=False)
    monkeypatch.setenv("HALLKIT_VAR_DIR", "var")
    server = settings_from_env()
    pin_settings_for_workers(server)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    worker = settings_from_env()
    assert worker.database_url == server.database_url
    assert worker.var_dir == (tmp_path / "var").resolve()
    assert worker.secret_key == server.secret_key
    assert not (elsewhere / "var").exists()


def _warning(message: str) -> logging.LogRecord:
    return logging.LogRecord("_granian", logging.WARNING, __file__, 1, message, None, None)


def test_only_the_thread_count_advice_is_dropped_from_the_servers_log() -> None:
    advice = _WaitingThreadsAdvice()
    assert not advice.filter(
        _warning("Configuration allows spawning up to 8 Python threads, which seems quite high")
    )
    assert advice.filter(_warning("Killing worker-1 after it refused to gracefully stop"))


@pytest.fixture
def running(hall_files: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    yield from _serve(hall_files, workers=2)


@pytest.fixture
def one_worker(hall_files: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    yield from _serve(hall_files, workers=1)


def _server_env(var: Path) -> dict[str, str]:
    """A server on the copy in `var`, with the secret file it finds there."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{var / 'hall.db'}", HALLKIT_VAR_DIR=str(var))
    env.pop("HALLKIT_SECRET_KEY", None)
    return env


def _serve(
    hall_files: Path, *, workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_loopback_port()
    process = subprocess.Popen(
        server_command(port, workers=workers, threads=4),
        cwd=ROOT,
        env=_server_env(hall_files),
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process, timeout=30, poll=0.1)
        yield process, port, hall_files
    finally:
        stop_server(process, grace=WORKER_KILL_TIMEOUT + 10)


def _hub_token(var: Path) -> str:
    database = Database(f"sqlite:///{var / 'hall.db'}")
    try:
        return issue_test_device_token(database, "hub-bh", "hub")
    finally:
        database.dispose()


def _open_event_stream(port: int, token: str) -> http.client.HTTPConnection:
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    stream.request(
        "GET", "/api/v1/halls/BH/events/stream", headers={"Authorization": f"Bearer {token}"}
    )
    response = stream.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    # The stream never ends by itself: this line arriving shows the server
    # sends a response while its body is still being produced.
    assert response.readline() == b"retry: 1000\n"
    return stream


def test_an_open_event_stream_does_not_hold_up_other_requests(
    one_worker: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    """Every stream and long-poll holds a thread for its whole life. granian
    2.6 grew its thread pool only when more requests queued than it had
    threads, busy ones included: with one stream open, the next request
    waited for the stream to end (seen as a clerk's sign-in timing out in the
    demo, one start in five)."""
    _process, port, var = one_worker
    streams = [_open_event_stream(port, _hub_token(var)) for _ in range(2)]
    try:
        for _ in range(3):
            started = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                assert reply.status == 200
            assert time.monotonic() - started < 2
    finally:
        for stream in streams:
            stream.close()


def _post_chunked(port: int, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST with Transfer-Encoding: chunked (no Content-Length), as some
    embedded HTTP clients send every body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_chunked_request_bodies_are_read_and_bounded(
    one_worker: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    """A third party's device may send its JSON chunked. Read as empty, it was
    refused as malformed (granian 2.6 did not mark WSGI input as terminated);
    it must reach the handler, and the size limit must still hold."""
    _process, port, _var = one_worker
    sign_in = json.dumps({"employee_no": "BH0101", "password": "not-the-password"}).encode()
    status, reply = _post_chunked(port, "/api/v1/auth/sign-in", sign_in)
    assert (status, reply["error"]["code"]) == (401, "not_authenticated")
    padding = b" " * (settings_from_env().max_body_bytes + 1)
    status, reply = _post_chunked(port, "/api/v1/auth/sign-in", sign_in + padding)
    assert (status, reply["error"]["code"]) == (413, "payload_too_large")


def test_the_server_streams_events_and_stops_with_a_stream_open(
    running: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, var = running
    stream = _open_event_stream(port, _hub_token(var))
    started = time.monotonic()
    process.terminate()
    assert process.wait(timeout=WORKER_KILL_TIMEOUT + 10) == 0
    assert time.monotonic() - started < WORKER_KILL_TIMEOUT + 5
    stream.close()


def test_a_port_something_listens_on_is_refused() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is in use"):
            ensure_port_free("127.0.0.1", port)
    ensure_port_free("127.0.0.1", port)  # free again once the listener closed


def test_a_second_server_on_the_same_port_refuses_to_start(
    running: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    """granian shares ports (SO_REUSEPORT): without the check, the second server
    would start and take half of the first one's connections."""
    _process, port, var = running
    second = subprocess.run(
        server_command(port, workers=1, threads=1),
        cwd=ROOT,
        env=_server_env(var),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode != 0
    assert f"port 127.0.0.1:{port} is in use" in second.stderr
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200
