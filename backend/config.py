"""Backend settings: read once from the environment, validated, passed to create_app."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_VAR_DIR = Path(os.environ.get("HALLKIT_VAR_DIR", "var"))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(description="SQLAlchemy URL; SQLite file under var/ by default")
    secret_key: str = Field(min_length=16, description="signs sessions, derives the ID-number keys")
    var_dir: Path = DEFAULT_VAR_DIR
    upload_dir: Path = DEFAULT_VAR_DIR / "uploads"
    # Public case lookup is rate-limited per client address to make receipt-number
    # guessing pointless even though receipt numbers are already random.
    public_lookup_per_minute: int = 20
    staff_session_hours: int = 10
    # A token check on every call-next would cost a query; tokens are cached this
    # long, so a revoked token stops working within this many seconds.
    token_cache_seconds: float = 30.0
    max_body_bytes: int = 256 * 1024
    testing: bool = False
    echo_sql: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _load_or_create_secret(var_dir: Path) -> str:
    """Keep one secret per installation so encrypted ID numbers stay readable."""
    path = var_dir / "secret.key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value)
    return value


def settings_from_env(**overrides: object) -> Settings:
    var_dir = Path(os.environ.get("HALLKIT_VAR_DIR", str(DEFAULT_VAR_DIR)))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{(var_dir / 'hall.db').resolve()}"
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    secret = os.environ.get("HALLKIT_SECRET_KEY") or _load_or_create_secret(var_dir)
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": secret,
        "var_dir": var_dir,
        "upload_dir": var_dir / "uploads",
    }
    values.update(overrides)
    return Settings.model_validate(values)
