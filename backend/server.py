"""Run the backend under gunicorn (gthread workers: the event stream holds a
thread per listener, so plain sync workers would be tied up by the hub)."""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

from backend.config import Settings, settings_from_env


def gunicorn_options(host: str, port: int, workers: int | None, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers or (os.cpu_count() or 1) + 1,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 5,
        "keepalive": 30,
        "accesslog": None,  # the audit log records what matters; per-request lines cost throughput
        "errorlog": "-",
        "loglevel": "warning",
        "post_worker_init": freeze_startup_objects,
    }


def freeze_startup_objects(_worker: Any = None) -> None:
    """Move everything the worker created while loading the app (≈ 330,000
    objects: models, routes, catalogs) out of the garbage collector's reach.

    A full collection walks all of them, ≈ 100–150 ms on this class of machine,
    and it comes every few ten thousand requests, in whichever request happens
    to allocate at that moment — on the SQLite write path, while every other
    writer waits for the lock. Frozen, a full collection only walks what was
    created since (measured in-process over 20,000 call-next: one 148 ms pause
    before, none after)."""
    gc.freeze()


def run_gunicorn(
    settings: Settings, *, host: str, port: int, workers: int | None, threads: int
) -> None:
    from gunicorn.app.base import BaseApplication

    from backend.app import create_app

    class HallApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_options(host, port, workers, threads).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    HallApplication().run()


def server_command(port: int, *, workers: int, threads: int) -> list[str]:
    """The command line that runs this server on 127.0.0.1:`port` in a child process."""
    return [
        sys.executable,
        "-m",
        "backend.server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]


def wait_until_serving(
    base_url: str, process: subprocess.Popen[Any], timeout: float, *, poll: float = 0.2
) -> None:
    """Block until a server started as `process` answers GET /healthz with 200.

    The process is watched while waiting: when it exits (most often because the
    port is taken) there is nothing to wait for, so this fails at once instead of
    running out the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None:
                port = urllib.parse.urlsplit(base_url).port
                raise RuntimeError(
                    f"后端没有启动（端口 {port} 是否被占用？）/ the backend did not start"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError("后端启动超时 / the backend did not answer") from None
            time.sleep(poll)


def stop_server(process: subprocess.Popen[Any], grace: float) -> None:
    """Ask the server to stop (gunicorn drains its workers on SIGTERM); kill it
    when it has not finished within `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="hallkit backend server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    run_gunicorn(
        settings_from_env(),
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
