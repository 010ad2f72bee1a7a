"""The far end of a virtual serial line: a pty master that plays an LED bar or key box.

:class:`Recorder` collects what the driver under test reports back (presses, health).

The driver under test opens a stable symlink (as udev gives real adapters), which the
peer points at the slave side of a fresh pty. Closing the peer makes the port vanish;
``PtyPeer(link)`` again makes it reappear under the same path.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from devices.serialframes import Frame, FrameDecoder, FrameError
from devices.seriallink import DeviceHealth

Press = TypeVar("Press")


class PtyPeer:
    def __init__(self, link: Path) -> None:
        master, slave = os.openpty()
        # Raw from the start, so nothing the peer writes before the driver configures
        # the port is echoed or translated by the line discipline.
        tty.setraw(slave)
        self.slave_name = os.ttyname(slave)
        # Holding the slave open keeps the master from reporting EIO (hang-up) before
        # the driver has opened the port.
        self._slave = slave
        self.master = master
        self.link = link
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.slave_name)
        self.frames: list[Frame] = []
        self.raw_frames: list[bytes] = []
        self.errors: list[FrameError] = []
        self.received = bytearray()  # every byte the driver sent, exactly as sent
        self._frame_arrived = threading.Condition()
        self._decoder = FrameDecoder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.respond: Callable[[Frame], bytes | None] = lambda frame: None

    # -- direct, synchronous use -------------------------------------------------------
    def read_exactly(self, count: int, timeout: float = 2.0) -> bytes:
        deadline = time.monotonic() + timeout
        received = b""
        while len(received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                received += os.read(self.master, count - len(received))
        return received

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    # -- as a responding device on a background thread ---------------------------------
    def start(self, respond: Callable[[Frame], bytes | None]) -> PtyPeer:
        """Answer each received frame with ``respond(frame)`` (None = stay silent)."""
        self.respond = respond
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def wait_for_frames(self, count: int, timeout: float = 2.0) -> list[Frame]:
        with self._frame_arrived:
            self._frame_arrived.wait_for(lambda: len(self.frames) >= count, timeout)
            return list(self.frames)

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 1024)
            except OSError:
                return
            self.received += chunk
            for item in self._decoder.feed(chunk):
                if isinstance(item, FrameError):
                    self.errors.append(item)
                    continue
                reply = self.respond(item)
                if reply is not None:
                    os.write(self.master, reply)
                with self._frame_arrived:
                    self.frames.append(item)
                    self.raw_frames.append(item.encode())
                    self._frame_arrived.notify_all()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        os.close(self._slave)
        os.close(self.master)


def echo(frame: Frame) -> bytes:
    return frame.encode()


def silent(frame: Frame) -> None:
    return None


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll a condition that has no event to wait on (e.g. a port reappearing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class Recorder(Generic[Press]):
    """What a key box driver reported: its presses (in order) and health changes."""

    def __init__(self) -> None:
        self.presses: queue.Queue[Press] = queue.Queue()
        self.health: list[DeviceHealth] = []
        self.health_changed = threading.Condition()

    def on_key(self, press: Press) -> None:
        self.presses.put(press)

    def on_health(self, health: DeviceHealth) -> None:
        with self.health_changed:
            self.health.append(health)
            self.health_changed.notify_all()

    def wait_health(self, ok: bool, timeout: float = 3.0) -> bool:
        with self.health_changed:
            return self.health_changed.wait_for(
                lambda: bool(self.health) and self.health[-1].ok is ok, timeout
            )
