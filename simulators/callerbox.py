"""Simulated caller key boxes (呼叫器) on a pty: the far end of the hub's caller bus.

A :class:`SimulatedCallerBus` owns the master side of a pseudo-terminal and points a
symlink (as udev gives real adapters) at its slave side; the hub opens the symlink as
its RS-485 port. Each :class:`SimulatedCallerBox` on it plays one box of
devices.callerbox: it presses keys (resending until the host echoes, as a real box
does) and echoes and remembers what the host shows on its display.

:meth:`SimulatedCallerBus.vanish` / :meth:`SimulatedCallerBus.reappear` unplug and
replug the adapter (same path, fresh pty), for fault tests and the demo.
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from pathlib import Path

from devices.callerbox import FUNC_KEY_PRESS, FUNC_SHOW_TEXT, CallerKey, key_press_frame
from devices.serialframes import Frame, FrameDecoder


class NoEcho(TimeoutError):
    """The host did not echo a key press (the box gave up resending)."""


class SimulatedCallerBus:
    """One RS-485 line of simulated boxes, reachable for the hub at ``port_path``."""

    def __init__(self, port_path: str | Path) -> None:
        self.port_path = Path(port_path)
        self._boxes: dict[int, SimulatedCallerBox] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.received_bytes = bytearray()  # everything the host sent, exactly as sent
        self._open_pty()

    # -- the line -------------------------------------------------------------------------
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # Raw from the start: nothing written before the hub configures the port is echoed
        # or translated by the line discipline.
        tty.setraw(slave)
        # Holding the slave open keeps the master from reporting a hang-up before the hub
        # has opened the port.
        self._master, self._slave = master, slave
        if self.port_path.is_symlink() or self.port_path.exists():
            self.port_path.unlink()
        self.port_path.symlink_to(os.ttyname(slave))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(master, self._stop), name="sim-callerbus", daemon=True
        )
        self._thread.start()

    def _close_pty(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (self._slave, self._master):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if self.port_path.is_symlink():
            self.port_path.unlink()

    def vanish(self) -> None:
        """Unplug the adapter: the port's path disappears and reads on it fail."""
        self._close_pty()

    def reappear(self) -> None:
        """Plug it back in under the same path (a new pty, as after a USB reset)."""
        if self._master is None:
            self._open_pty()

    def close(self) -> None:
        self._close_pty()

    def box(self, address: int, *, resend_after_s: float = 0.3) -> SimulatedCallerBox:
        """The box at ``address`` on this line (created on first use)."""
        with self._lock:
            existing = self._boxes.get(address)
        if existing is not None:
            return existing
        return SimulatedCallerBox(self, address, resend_after_s=resend_after_s)

    def _attach(self, box: SimulatedCallerBox) -> None:
        with self._lock:
            if box.address in self._boxes:
                raise ValueError(f"a box with address {box.address} is already on this line")
            self._boxes[box.address] = box

    def write(self, data: bytes) -> None:
        """Put raw bytes on the line (e.g. a damaged frame)."""
        master = self._master
        if master is None:
            raise OSError("the simulated adapter is unplugged")
        with self._write_lock:
            os.write(master, data)

    def _serve(self, master: int, stop: threading.Event) -> None:
        decoder = FrameDecoder()
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.02)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1024)
            except OSError:
                # EIO: the hub closed its side for now; it may reopen the same pty.
                stop.wait(0.02)
                continue
            self.received_bytes += chunk
            for item in decoder.feed(chunk):
                if not isinstance(item, Frame):
                    continue
                with self._lock:
                    box = self._boxes.get(item.addr)
                if box is not None:
                    box._receive(item)


class SimulatedCallerBox:
    """One caller box. ``port`` is a bus, or a path for a line holding just this box."""

    def __init__(
        self,
        port: str | Path | SimulatedCallerBus,
        address: int,
        *,
        resend_after_s: float = 0.3,
        attempts: int = 5,
    ) -> None:
        self._owns_bus = not isinstance(port, SimulatedCallerBus)
        self.bus = port if isinstance(port, SimulatedCallerBus) else SimulatedCallerBus(port)
        self.address = address
        self.resend_after_s = resend_after_s
        self.attempts = attempts
        self._changed = threading.Condition()
        self._echoes: list[bytes] = []
        self._shown: list[str] = []
        self.bus._attach(self)

    def press(self, key: CallerKey | int, data: bytes = b"") -> None:
        """Press ``key`` (``data``: e.g. the target window's digits for transfer).

        Returns once the host echoed the frame; resends like a real box until then and
        raises :class:`NoEcho` after ``attempts`` tries.
        """
        frame = Frame(self.address, FUNC_KEY_PRESS, bytes((int(key),)) + data).encode()
        with self._changed:
            seen = self._echoes.count(frame)
        for _ in range(self.attempts):
            self.bus.write(frame)
            with self._changed:
                if self._changed.wait_for(
                    lambda: self._echoes.count(frame) > seen, self.resend_after_s
                ):
                    return
        raise NoEcho(f"box {self.address}: no echo for {frame.hex(' ')}")

    def transfer(self, window: str) -> None:
        self.press(CallerKey.TRANSFER, window.encode("ascii"))

    def key_frame(self, key: CallerKey | int, target_window: str | None = None) -> bytes:
        return key_press_frame(self.address, int(key), target_window).encode()

    def shown(self) -> str | None:
        """The last text the host showed on this box (None: nothing yet)."""
        with self._changed:
            return self._shown[-1] if self._shown else None

    def shown_history(self) -> list[str]:
        with self._changed:
            return list(self._shown)

    def wait_shown(self, text: str, timeout: float = 3.0, *, after: int = 0) -> bool:
        """Wait until the host shows ``text`` as the ``after``-th or a later display."""
        deadline = time.monotonic() + timeout
        with self._changed:
            return self._changed.wait_for(
                lambda: text in self._shown[after:], max(0.0, deadline - time.monotonic())
            )

    def shown_after(self, count: int, timeout: float = 3.0) -> str | None:
        """The display shown after the first ``count`` ones (waiting for it); None: none came."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._shown) > count, timeout)
            return self._shown[count] if len(self._shown) > count else None

    def close(self) -> None:
        if self._owns_bus:
            self.bus.close()

    def _receive(self, frame: Frame) -> None:
        if frame.func == FUNC_SHOW_TEXT:
            # Acknowledge the display command, as the real box does.
            self.bus.write(frame.encode())
            with self._changed:
                self._shown.append(frame.data.decode("ascii", errors="replace"))
                self._changed.notify_all()
        elif frame.func == FUNC_KEY_PRESS:
            with self._changed:
                self._echoes.append(frame.encode())
                self._changed.notify_all()
