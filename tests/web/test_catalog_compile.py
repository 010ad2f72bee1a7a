"""Server workers boot together and each compiles the translation catalogs
into the shared var directory; none of them may fail because another one is
writing the same file (a worker that fails to boot stops the whole server)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from backend.web.i18n import compile_catalogs

WORKERS = 6
ROUNDS = 10


def _compile(target: str) -> None:
    compile_catalogs(Path(target))


def test_workers_compiling_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        target = tmp_path / str(round_number)
        workers = [context.Process(target=_compile, args=(str(target),)) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert [worker.exitcode for worker in workers] == [0] * WORKERS
        compiled = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
        assert compiled == [Path("en/LC_MESSAGES/messages.mo")], "no temporary file is left"
