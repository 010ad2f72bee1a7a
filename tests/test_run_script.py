"""What `./run` needs on a fresh machine: no node when the web assets are in place,
a plain message when they are not, and a throw-away PostgreSQL cluster when no
server answers at HALLKIT_TEST_PG_URL."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from hallbus.ports import free_loopback_port

ROOT = Path(__file__).resolve().parent.parent


def _repo_copy(tmp_path: Path, *, assets: bool) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "fetch_web_assets.sh", repo / "scripts")
    shutil.copy(ROOT / "package.json", repo)
    if assets:
        vendor = repo / "backend" / "static" / "vendor"
        vendor.mkdir(parents=True)
        (vendor / "echarts.min.js").write_text("/* echarts */")
        (vendor / ".versions").write_text('{"echarts":"6.1.0"}')
    return repo


def _path_without_node(tmp_path: Path) -> str:
    """A PATH holding the shell tools the script uses and python3, but no node or npm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "dirname", "python3", "mktemp", "rm", "cp", "mkdir", "mv"):
        found = shutil.which(tool, path="/usr/bin:/bin")  # the system's, not a shim
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _fetch(repo: Path, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "scripts" / "fetch_web_assets.sh")],
        env={"PATH": path, "HOME": str(repo)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_assets_in_place_need_no_node(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path, assets=True)
    result = _fetch(repo, _path_without_node(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_missing_assets_without_node_say_what_is_missing(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path, assets=False)
    result = _fetch(repo, _path_without_node(tmp_path))
    assert result.returncode == 1
    assert "node" in result.stderr and "echarts" in result.stderr
    assert "command not found" not in result.stderr


def test_a_throwaway_cluster_starts_on_the_given_port_and_is_removed() -> None:
    script = str(ROOT / "scripts" / "throwaway_postgres.sh")
    # Under /tmp itself: as root the cluster runs as "postgres", which cannot
    # enter pytest's private temporary directories.
    cluster_dir = Path(tempfile.mkdtemp(prefix="hallkit-test-pg."))
    port = free_loopback_port()
    started = subprocess.run(
        [script, "start", str(cluster_dir), str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url == f"postgresql://postgres@127.0.0.1:{port}/test"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres") as connection:
            assert connection.execute("select 1").fetchone() == (1,)
    finally:
        stopped = subprocess.run(
            [script, "stop", str(cluster_dir)], capture_output=True, text=True, timeout=60
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not cluster_dir.exists()
