"""Wake event-log readers the moment a writer commits.

Each process that serves event streams runs one EventWaiter. Request threads
call `wait_for(hall_id, after_seq, timeout)`; a background thread learns of new
commits and wakes them.

- PostgreSQL: the thread LISTENs on the channel the writers NOTIFY inside their
  transaction; the notification carries "hall_id:last_seq".
- SQLite: there is no NOTIFY, and the writer may be another worker process, so
  every waiting process binds a Unix datagram socket in `<var>/run/wake/`, and a
  writer sends one small datagram to each socket after its commit. A socket whose
  process has died refuses the datagram and is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


class EventWaiter:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._latest: dict[int, int] = {}
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- called by the notification source -------------------------------------------
    def announce(self, hall_id: int, seq: int | None) -> None:
        with self._condition:
            if seq is not None and seq > self._latest.get(hall_id, 0):
                self._latest[hall_id] = seq
            self._generation += 1
            self._condition.notify_all()

    # -- called by request handlers ---------------------------------------------------
    def generation(self) -> int:
        with self._condition:
            return self._generation

    def wait_for_change(self, since_generation: int, timeout: float) -> bool:
        """Block until any commit is announced after `since_generation` was read."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._generation == since_generation:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    def stop(self) -> None:
        self._stopping.set()
        self.announce(0, None)


class PostgresWaiter(EventWaiter):
    def __init__(self, conninfo: str, channel: str) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._channel = channel

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f'LISTEN "{self._channel}"')
                    # Anything committed while we were (re)connecting: wake everyone.
                    self.announce(0, None)
                    while not self._stopping.is_set():
                        for note in connection.notifies(timeout=1.0):
                            hall, _, seq = note.payload.partition(":")
                            self.announce(int(hall), int(seq))
            except Exception:
                log.exception("event listener lost its connection; reconnecting")
                self._stopping.wait(1.0)


class DatagramWaiter(EventWaiter):
    def __init__(self, wake_dir: Path) -> None:
        super().__init__()
        self._wake_dir = wake_dir
        self._socket: socket.socket | None = None
        self._path: Path | None = None

    def start(self) -> None:
        self._wake_dir.mkdir(parents=True, exist_ok=True)
        self._path = self._wake_dir / f"{os.getpid()}-{id(self):x}.sock"
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self._path))
        sock.settimeout(1.0)
        self._socket = sock
        self._thread = threading.Thread(target=self._run, name="event-wake", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                data = self._socket.recv(256)
            except TimeoutError:
                continue
            except OSError:
                return
            for item in data.decode("ascii", "replace").split(","):
                hall, _, seq = item.partition(":")
                if hall.isdigit():
                    self.announce(int(hall), int(seq) if seq.isdigit() else None)

    def stop(self) -> None:
        super().stop()
        if self._socket is not None:
            self._socket.close()
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()


class DatagramNotifier:
    """The writer side for SQLite: tell every waiting process which halls changed."""

    def __init__(self, wake_dir: Path) -> None:
        self._wake_dir = wake_dir
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def __call__(self, halls: Iterable[int]) -> None:
        message = ",".join(f"{hall}:" for hall in sorted(halls)).encode("ascii")
        try:
            targets = list(self._wake_dir.iterdir())
        except FileNotFoundError:
            return
        for target in targets:
            if target.suffix != ".sock":
                continue
            try:
                self._socket.sendto(message, str(target))
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()  # its process is gone
            except BlockingIOError:
                pass  # that reader is already flooded with wake-ups; one more changes nothing
