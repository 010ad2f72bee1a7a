"""Backend settings: read once from the environment, validated, passed to create_app."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

DEFAULT_VAR_DIR = Path(os.environ.get("HALLKIT_VAR_DIR", "var"))


class SmsSettings(BaseModel):
    """The SMS gateway (docs/sms.md). Without it the SMS channel is off: messages
    are recorded as "off" and nothing is sent.

    Alibaba Cloud SMS (dysmsapi SendSms): an AccessKey pair, the approved
    signature (签名) and one approved template per kind of message. A kind
    without a template is off too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway: Literal["aliyun"] = "aliyun"
    endpoint: HttpUrl = HttpUrl("https://dysmsapi.aliyuncs.com/")
    access_key_id: str = Field(min_length=1)
    access_key_secret: str = Field(min_length=1, repr=False)
    sign_name: str = Field(
        min_length=1, max_length=32, description="短信签名, e.g. 某某区政务服务中心"
    )
    region_id: str = "cn-hangzhou"
    # 到号提醒 template, e.g. "您的${ticket}号即将到号，请到${window}办理（${hall}）".
    template_turn_near: str = ""
    # 电子监察 alert template with one ${content} parameter.
    template_alert: str = ""
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=4, ge=1, le=20)
    # Waits between attempts double from this (30 s, 60 s, 120 s …).
    retry_after_seconds: float = Field(default=30.0, ge=0)


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
    sms: SmsSettings | None = None

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


_SMS_ENV = {
    "HALLKIT_SMS_ENDPOINT": "endpoint",
    "HALLKIT_SMS_ACCESS_KEY_ID": "access_key_id",
    "HALLKIT_SMS_ACCESS_KEY_SECRET": "access_key_secret",
    "HALLKIT_SMS_SIGN_NAME": "sign_name",
    "HALLKIT_SMS_REGION_ID": "region_id",
    "HALLKIT_SMS_TEMPLATE_TURN_NEAR": "template_turn_near",
    "HALLKIT_SMS_TEMPLATE_ALERT": "template_alert",
    "HALLKIT_SMS_TIMEOUT_SECONDS": "timeout_seconds",
}


def sms_settings_from_env(environ: dict[str, str] | None = None) -> SmsSettings | None:
    """HALLKIT_SMS_GATEWAY=aliyun and the HALLKIT_SMS_* values; unset = channel off."""
    environ = dict(os.environ) if environ is None else environ
    gateway = environ.get("HALLKIT_SMS_GATEWAY", "").strip()
    if not gateway:
        return None
    values: dict[str, object] = {"gateway": gateway}
    for variable, key in _SMS_ENV.items():
        if environ.get(variable):
            values[key] = environ[variable]
    return SmsSettings.model_validate(values)


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
        "sms": sms_settings_from_env(),
    }
    values.update(overrides)
    return Settings.model_validate(values)
