"""The `hall` command: set up, run and administer a hall from the terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from backend.config import Settings, settings_from_env


def _settings() -> Settings:
    return settings_from_env()


def _database(settings: Settings) -> Any:
    from backend.db import Database

    return Database.with_wakeups(settings.database_url, settings.var_dir)


@click.group(help="hallkit 政务服务中心 — 大厅管理命令 / hall administration commands")
def main() -> None:
    pass


# --------------------------------------------------------------------------- database


@main.group(help="数据库 / database")
def db() -> None:
    pass


@db.command("upgrade", help="执行数据库迁移 / apply migrations")
def db_upgrade() -> None:
    from backend.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo(f"数据库已是最新 / database at head: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command(
    "seed-demo", help="载入演示大厅数据（空库）/ load the demo hall into an empty database"
)
@click.option(
    "--password",
    default="demo-pass-2026",
    show_default=True,
    help="所有演示账号的密码 / password of every demo account",
)
def seed_demo_command(password: str) -> None:
    from backend.migrate import upgrade
    from backend.seed.loader import SeedError, seed_demo

    settings = _settings()
    upgrade(settings.database_url)
    database = _database(settings)
    try:
        with database.writing() as session:
            counts = seed_demo(session, staff_password=password)
    except SeedError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        "演示数据已载入 / demo hall loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


def ensure_demo_database(settings: Settings, password: str = "demo-pass-2026") -> bool:
    """Migrate, and seed the demo hall when the database has no hall yet."""
    from sqlalchemy import select

    from backend.migrate import upgrade
    from backend.models import Hall
    from backend.seed.loader import seed_demo

    upgrade(settings.database_url)
    database = _database(settings)
    try:
        with database.writing() as session:
            if session.execute(select(Hall.id).limit(1)).first() is not None:
                return False
            seed_demo(session, staff_password=password)
            return True
    finally:
        database.dispose()


# --------------------------------------------------------------------------- serving


@main.command("serve", help="启动后端服务 / run the backend (granian)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", default=None, type=int, help="默认：CPU 核数 / default: the number of CPU cores"
)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    from backend.server import PortInUse, run_server

    try:
        run_server(_settings(), host=host, port=port, workers=workers, threads=threads)
    except PortInUse as error:
        raise click.ClickException(str(error)) from error


@main.command("demo", help="一条命令运行演示大厅 / run the whole demo hall")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--seconds",
    default=None,
    type=float,
    help="运行指定秒数后自动退出（用于自检）/ stop after this many seconds",
)
@click.option(
    "--speed",
    default=60.0,
    show_default=True,
    type=float,
    help="模拟客流的时间倍速 / simulated traffic speed-up",
)
@click.option("--no-devices", is_flag=True, help="不启动模拟设备 / backend only")
@click.option(
    "--broker",
    default="auto",
    show_default=True,
    help="auto（有 Mosquitto 用 Mosquitto，否则内置）| embedded | mosquitto | mqtt://host:port",
)
@click.option(
    "--broker-port",
    default=None,
    type=click.IntRange(1, 65535),
    help="演示自带消息总线的端口（默认 1884，被占用时自动选空闲端口）"
    "/ port of the demo's own broker (default 1884, a free one when that is taken)",
)
@click.option(
    "--apps",
    is_flag=True,
    help="同时在窗口中运行真实的触摸屏、窗口屏、综合屏和评价器程序（需要显示器）",
)
def demo(
    port: int,
    seconds: float | None,
    speed: float,
    no_devices: bool,
    broker: str,
    broker_port: int | None,
    apps: bool,
) -> None:
    from backend.demo import run_demo

    sys.exit(
        run_demo(
            port=port,
            seconds=seconds,
            speed=speed,
            devices=not no_devices,
            broker=broker,
            broker_port=broker_port,
            apps=apps,
        )
    )


# --------------------------------------------------------------------------- catalog


@main.group(help="事项目录 / service catalog")
def catalog() -> None:
    pass


@catalog.command("import", help="从 CSV/Excel 导入事项目录 / import the catalog from CSV or .xlsx")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="只检查不写入，列出每一行错误 / check only")
def catalog_import(path: Path, dry_run: bool) -> None:
    from sqlalchemy import select

    from backend.catalog.spreadsheet import CatalogFileError, read_catalog
    from backend.models import Department, Hall, QueueCategory
    from backend.services.catalog import upsert_matters

    settings = _settings()
    database = _database(settings)
    with database.reading() as session:
        departments = set(session.execute(select(Department.code)).scalars())
        categories = set(session.execute(select(QueueCategory.prefix)).scalars())
    with click.progressbar(length=100, label="读取 / reading") as bar:
        progress = {"last": 0}

        def on_progress(done: int, total: int | None) -> None:
            if total:
                percent = int(done * 100 / total)
                bar.update(percent - progress["last"])
                progress["last"] = percent

        try:
            report = read_catalog(
                path,
                progress=on_progress,
                known_departments=departments,
                known_categories=categories,
            )
        except CatalogFileError as error:
            raise click.ClickException(str(error)) from error
        bar.update(100 - progress["last"])
    for problem in report.errors:
        click.echo(
            f"{path.name}: 第{problem.row}行 {problem.code or ''} {problem.column or ''} "
            f"= {problem.value!r}: {problem.reason}",
            err=True,
        )
    click.echo(f"读取 {report.rows_read} 行，有效 {len(report.matters)}，错误 {len(report.errors)}")
    if dry_run:
        click.echo("试运行：未写入数据库 / dry run: nothing written")
        sys.exit(1 if report.errors else 0)
    if report.errors:
        raise click.ClickException(
            "文件有错误，未导入任何事项；请修正后重试 / fix the errors first"
        )
    with database.writing() as session:
        halls = list(session.execute(select(Hall.id)).scalars())
        result = upsert_matters(session, report.matters, actor="cli", hall_ids_to_notify=halls)
    click.echo(f"新增 {result.created}，新版本 {result.new_versions}，未变 {result.unchanged}")


@catalog.command("export", help="导出事项目录为 CSV/Excel / export the catalog")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def catalog_export(path: Path) -> None:
    from backend.catalog.spreadsheet import write_catalog
    from backend.services.catalog import all_current

    database = _database(_settings())
    with database.reading() as session:
        specs = [version.as_spec() for version, _department in all_current(session)]
    write_catalog(specs, path)
    click.echo(f"已导出 {len(specs)} 个事项到 {path}")


# --------------------------------------------------------------------------- tokens & queue


@main.command("issue-token", help="为设备签发令牌（只显示一次）/ issue a device token")
@click.option("--hall", "hall_code", default="BH", show_default=True)
@click.option("--device", "device_id", required=True)
@click.option(
    "--type",
    "device_type",
    required=True,
    type=click.Choice(
        ["hub", "kiosk", "window_display", "hall_display", "evaluator", "announcer", "led"]
    ),
)
def issue_token(hall_code: str, device_id: str, device_type: str) -> None:
    from sqlalchemy import select

    from backend.models import Hall
    from backend.services.auth import issue_device_token

    database = _database(_settings())
    with database.writing() as session:
        hall_id = session.execute(
            select(Hall.id).where(Hall.code == hall_code)
        ).scalar_one_or_none()
        if hall_id is None:
            raise click.ClickException(f"大厅 {hall_code} 不存在 / unknown hall")
        token = issue_device_token(
            session, hall_id=hall_id, device_id=device_id, device_type=device_type, actor="cli"
        )
    click.echo(token)


@main.command(
    "export-id-lookup-key",
    help="导出身份证查询密钥供自助终端使用 / write the ID lookup key for the hall's kiosks",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="密钥文件（权限 0600，不覆盖已有文件）/ key file (mode 0600, never overwritten)",
)
def export_id_lookup_key(out: Path) -> None:
    """Kiosks hash an ID card themselves (HMAC with this key) and send only the hash,
    which then equals the backend's lookup hash of the same number."""
    from backend.privacy import IdentityProtector
    from hallbus.idlookup import format_lookup_key

    key = IdentityProtector.from_secret(_settings().secret_key).lookup_key()
    try:
        # O_EXCL: an existing file (perhaps another hall's key) is never replaced, and
        # the key is never readable by others, not even for a moment.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out} 已存在 / already exists") from None
    except OSError as error:
        raise click.ClickException(f"{out}: {error.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(format_lookup_key(key))
    click.echo(f"已写入 / written: {out} (id_lookup_key_file in the kiosk configs)")


@main.command("close-day", help="日终归档 / archive tickets still open from earlier days")
@click.option("--hall", "hall_code", default="BH", show_default=True)
def close_day_command(hall_code: str) -> None:
    from backend.models import utcnow
    from backend.services.queue import close_day, hall_by_code, local_day

    database = _database(_settings())
    with database.writing() as session:
        hall = hall_by_code(session, hall_code)
        now = utcnow()
        count = close_day(
            session, hall_id=hall.id, before=local_day(now, hall.timezone), now=now, actor="cli"
        )
    click.echo(f"已归档 {count} 张号票 / {count} tickets closed")


@main.command("check-config", help="检查设备配置文件 / validate device config files")
@click.argument("paths", nargs=-1, required=True)
def check_config(paths: tuple[str, ...]) -> None:
    from hallbus.config import check_config_main

    sys.exit(check_config_main(list(paths)))


def _add_supervision_commands() -> None:
    from backend.cli_supervision import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_supervision_commands()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
