"""Run the backend under granian: a WSGI server whose HTTP handling (parsing,
keep-alive, writing) is native code, with a pool of Python threads per worker
process for the application (the event stream holds one thread per listener,
so one request per process would be tied up by the hub).

gunicorn's gthread worker, used before, does that HTTP work in Python on the
same GIL as the application. Interleaved call-next runs with 8 clerks
(docs/benchmarks.md) showed granian cheaper in CPU per request by a fifth or
more on SQLite and about a sixth on PostgreSQL, with a steadier tail."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

from backend.config import Settings, settings_from_env

# Seconds a worker gets to finish its requests on shutdown before it is killed.
# Event streams never finish by themselves, so this bounds every stop.
WORKER_KILL_TIMEOUT = 2


# Read once when a worker builds the app, then removed from its environment.
WORKER_ONLY_AT_START = ("DATABASE_URL", "HALLKIT_SECRET_KEY")


def default_workers() -> int:
    """A worker process per core: the HTTP side of each worker is native and
    threaded, so an extra process only adds context switches (granian warns
    about more workers than cores; call-next with 2 × 4 and 3 × 4 on two cores
    differed by less than the noise)."""
    return os.cpu_count() or 1


def worker_app() -> Any:
    """The application of one worker process (granian calls this factory in each
    worker). Settings come from the environment, which run_server fixed before
    the workers started, so every worker sees the same database and secret."""
    from backend.app import create_app

    app = create_app(settings_from_env())
    # granian copies the process environment into every request's environ (as
    # CGI did). The app has read its settings; the database URL (which may hold
    # a password) and the secret key need not travel with every request, where
    # an error report or a debugging aid could show them.
    for name in WORKER_ONLY_AT_START:
        os.environ.pop(name, None)
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Move everything the worker created while loading the app (≈ 330,000
    objects: models, routes, catalogs) out of the garbage collector's reach.

    A full collection walks all of them, ≈ 100–150 ms on this class of machine,
    and it comes every few ten thousand requests, in whichever request happens
    to allocate at that moment — on the SQLite write path, while every other
    writer waits for the lock. Frozen, a full collection only walks what was
    created since (measured in-process over 20,000 call-next: one 148 ms pause
    before, none after)."""
    gc.freeze()


def pin_settings_for_workers(settings: Settings) -> None:
    """Workers build their settings from the environment. Put the server's own
    there, resolved: a relative var directory or the default SQLite file must
    mean the same in every worker, and the installation's secret file exists
    before any worker reads it (settings_from_env created it), so no two workers
    race to create different ones."""
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["HALLKIT_VAR_DIR"] = str(settings.var_dir.resolve())


class _WaitingThreadsAdvice(logging.Filter):
    """granian advises against more Python threads than 2 × cores + 1, as if each
    kept a core busy. Ours mostly wait: every event stream and long-poll holds
    one. A warning at every start that does not apply would teach the IT team to
    ignore the server's warnings, so this one is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads" not in record.getMessage()


class PortInUse(RuntimeError):
    pass


def ensure_port_free(host: str, port: int) -> None:
    """Refuse to start on a port something already listens on.

    granian binds with SO_REUSEPORT, so a second server on a taken port starts
    without complaint and the kernel splits the connections between the two:
    two backends of one hall, or a test talking to another test's server. A
    plain bind, which fails when any socket holds the port, is tried first."""
    from hallbus.ports import port_is_free

    if not port_is_free(host, port):
        raise PortInUse(f"端口 {host}:{port} 已被占用 / port {host}:{port} is in use")


def run_server(
    settings: Settings, *, host: str, port: int, workers: int | None, threads: int
) -> None:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.log import logger as granian_logger
    from granian.server import Server

    ensure_port_free(host, port)
    pin_settings_for_workers(settings)
    server = Server(
        "backend.server:worker_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers or default_workers(),
        # Each event stream and long-poll keeps one of these for its whole life.
        # granian 2.6.0 grew this pool only when more requests queued than it
        # had threads, busy ones included (its issue 873, fixed mid-2026), so
        # one open stream held up the next request of its worker. pyproject
        # asks for 2.8.9, with which tests/backend/test_server.py passes.
        blocking_threads=threads,
        websockets=False,
        # A worker that dies (out of memory, a crash in a driver) is started
        # again instead of leaving the hall with fewer workers.
        respawn_failed_workers=True,
        workers_kill_timeout=WORKER_KILL_TIMEOUT,
        log_level=LogLevels.warning,
        # The audit log records what matters; a line per request costs throughput.
        log_access=False,
    )
    granian_logger.addFilter(_WaitingThreadsAdvice())
    server.serve()


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
    """Ask the server to stop (SIGTERM: the workers finish what they serve, for
    at most WORKER_KILL_TIMEOUT seconds); kill it when it has not finished
    within `grace` seconds."""
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
    try:
        run_server(
            settings_from_env(),
            host=args.host,
            port=args.port,
            workers=args.workers,
            threads=args.threads,
        )
    except PortInUse as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
