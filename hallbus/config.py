"""Per-device configuration: one YAML file per device, validated completely at start-up.

Every problem in a file is reported at once as (file, key path, value, reason),
so an installer fixes a file in one pass. Secrets never live in these files:
the broker password and backend token are named by an environment variable
(`password_env`, `token_env`) or a file (`password_file`, `token_file`; a
relative path is taken from the config file's directory).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeAlias

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from hallbus.client import ConnectionSettings, TlsSettings
from hallbus.idlookup import LookupKeyError, parse_lookup_key
from hallbus.localtime import DEFAULT_TIMEZONE
from hallbus.topics import DeviceRef, DeviceType

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")]
WindowNumber = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{1,8}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
Port = Annotated[int, Field(ge=1, le=65535)]
Baudrate = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]

# Keys that would hold a secret literally; each gets a message naming the alternatives.
_LITERAL_SECRET_KEYS: Final = {
    "password": "password_env or password_file",
    "token": "token_env or token_file",
    "secret": "an *_env or *_file key",
}


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _exactly_one_source(env: str | None, file: Path | None, what: str) -> None:
    if env is not None and file is not None:
        raise ValueError(f"give {what}_env or {what}_file, not both")


class TlsConfig(StrictModel):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


class BrokerConfig(StrictModel):
    host: Annotated[str, StringConstraints(min_length=1, max_length=253)] = "127.0.0.1"
    port: Port = 1883
    tls: TlsConfig | None = None
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    password_env: EnvName | None = None
    password_file: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=600)] = 30
    protocol: Literal["3.1.1", "5"] = "3.1.1"

    @model_validator(mode="after")
    def _one_password_source(self) -> BrokerConfig:
        _exactly_one_source(self.password_env, self.password_file, "password")
        return self


class DeviceConfigBase(StrictModel):
    device_id: Identifier
    hall_id: Identifier
    # Absent: the demo launcher chooses a broker (see hallbus.broker.select).
    broker: BrokerConfig | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    type: str  # narrowed to one Literal by each device type below

    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        return self._source_file

    def device_ref(self) -> DeviceRef:
        return DeviceRef(self.hall_id, DeviceType(self.type), self.device_id)


# ------------------------------------------------------------------------------ kiosk


class PrinterCommon(StrictModel):
    qr: Literal["native", "image"] = "native"  # native QR: ~250 bytes/ticket, image ~4.6 KB
    paper_width_mm: Literal[58, 80] = 80


class UsbPrinter(PrinterCommon):
    kind: Literal["usb"]
    vendor_id: Annotated[int, Field(ge=0, le=0xFFFF)]
    product_id: Annotated[int, Field(ge=0, le=0xFFFF)]


class SerialPrinter(PrinterCommon):
    kind: Literal["serial"]
    port: Annotated[str, StringConstraints(min_length=1)]
    baudrate: Baudrate = 9600


class NetworkPrinter(PrinterCommon):
    kind: Literal["network"]
    host: Annotated[str, StringConstraints(min_length=1)]
    port: Port = 9100


class FilePrinter(PrinterCommon):
    kind: Literal["file"]
    path: Path


class DummyPrinter(PrinterCommon):
    kind: Literal["dummy"]


Printer = Annotated[
    UsbPrinter | SerialPrinter | NetworkPrinter | FilePrinter | DummyPrinter,
    Field(discriminator="kind"),
]


class SerialDevice(StrictModel):
    port: Annotated[str, StringConstraints(min_length=1)]
    baudrate: Baudrate = 9600


class ScannerConfig(StrictModel):
    kind: Literal["serial", "keyboard"]
    port: str | None = None

    @model_validator(mode="after")
    def _serial_needs_port(self) -> ScannerConfig:
        if self.kind == "serial" and not self.port:
            raise ValueError("a serial scanner needs port")
        return self


class KioskConfig(DeviceConfigBase):
    type: Literal["kiosk"]
    printer: Printer
    id_card_reader: SerialDevice | None = None
    scanner: ScannerConfig | None = None
    idle_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 60
    languages: Annotated[list[Literal["zh", "en"]], Field(min_length=1)] = ["zh"]
    # The hall's ID lookup key (`hall export-id-lookup-key`): keys the hash a card read
    # turns into. Without one the kiosk ignores the ID-card reader: an unkeyed hash of
    # an ID number is as good as the number.
    id_lookup_key_env: EnvName | None = None
    id_lookup_key_file: Path | None = None

    @model_validator(mode="after")
    def _one_lookup_key_source(self) -> KioskConfig:
        _exactly_one_source(self.id_lookup_key_env, self.id_lookup_key_file, "id_lookup_key")
        return self


# --------------------------------------------------------------------- displays, sound


class LedConfig(StrictModel):
    protocol: Literal["ff68", "ascii"] = "ff68"
    port: Annotated[str, StringConstraints(min_length=1)]
    baudrate: Baudrate = 9600
    address: Annotated[int, Field(ge=0, le=255)] = 1


class WindowDisplayConfig(DeviceConfigBase):
    type: Literal["window_display"]
    window: WindowNumber
    led: LedConfig | None = None


# espeak: the espeak-ng program, one process per call (the default: a crash or hang
# cannot take the announcer down). pyttsx3: the same voice in-process. clips: the
# hall's recorded words. none: silent. See docs/displays.md.
VoiceEngineName = Literal["espeak", "pyttsx3", "clips", "none"]


class AnnouncerSettings(StrictModel):
    engine: VoiceEngineName = "espeak"
    repeat: Annotated[int, Field(ge=1, le=5)] = 2
    english: bool = False


class HallDisplayConfig(DeviceConfigBase):
    type: Literal["hall_display"]
    floor: Annotated[int, Field(ge=-5, le=99)] | None = None
    pages: Annotated[list[Literal["calls", "waiting", "guide", "notices"]], Field(min_length=1)]
    page_seconds: Annotated[int, Field(ge=3, le=600)] = 15
    orientation: Literal["landscape", "portrait"] = "landscape"
    announcer: AnnouncerSettings | None = None


class AnnouncerConfig(DeviceConfigBase):
    type: Literal["announcer"]
    floor: Annotated[int, Field(ge=-5, le=99)] | None = None
    engine: VoiceEngineName = "espeak"
    repeat: Annotated[int, Field(ge=1, le=5)] = 2
    english: bool = False


# -------------------------------------------------------------------------- evaluator


class ButtonBoxConfig(SerialDevice):
    address: Annotated[int, Field(ge=0, le=255)] = 1


class EvaluatorConfig(DeviceConfigBase):
    type: Literal["evaluator"]
    window: WindowNumber
    timeout_s: Annotated[int, Field(ge=5, le=600)] = 30
    dimensions: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] = []
    bad_reasons_source: Literal["hub", "builtin"] = "hub"
    button_box: ButtonBoxConfig | None = None


# -------------------------------------------------------------------------------- hub


class BackendConfig(StrictModel):
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")]
    token_env: EnvName | None = None
    token_file: Path | None = None
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    # The backend names halls in upper case ("BH"); absent: the hall_id upper-cased.
    hall_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,32}$")] | None = None

    @model_validator(mode="after")
    def _one_token_source(self) -> BackendConfig:
        _exactly_one_source(self.token_env, self.token_file, "token")
        if self.token_env is None and self.token_file is None:
            raise ValueError("give token_env or token_file")
        return self


class ConsoleConfig(StrictModel):
    """The hub's own window console (hub/console.py), used while the backend is away."""

    host: Annotated[str, StringConstraints(min_length=1, max_length=253)] = "127.0.0.1"
    port: Port
    # Where clerks' browsers reach this console (sent to the backend in PUT /hub-state,
    # so the backend console can send clerks here); default http://<host>:<port>/console.
    public_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = None
    # Where the console sends clerks while the hall is online; default <backend.url>/console.
    backend_console_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = (
        None
    )

    def url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}/console"


def _window_from_yaml(value: Any) -> Any:
    # `3: 3` in YAML is an int; a window "number" is text ("3", "12", "A-1").
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


BoxAddress = Annotated[int, Field(ge=1, le=254)]


class CallerBusConfig(StrictModel):
    """The hub's RS-485 bus of window caller key boxes (呼叫器), devices.callerbox."""

    port: Annotated[str, StringConstraints(min_length=1)]
    baudrate: Baudrate = 9600
    # Box address on the bus → the window it sits at; one box per window.
    boxes: Annotated[
        dict[BoxAddress, Annotated[WindowNumber, BeforeValidator(_window_from_yaml)]],
        Field(min_length=1),
    ]
    # Identical key frames from one box closer together than this are resends of an
    # unechoed frame, not new presses (a doubled "call" would skip a visitor).
    repeat_guard_ms: Annotated[int, Field(ge=0, le=10_000)] = 1000

    @field_validator("boxes")
    @classmethod
    def _one_box_per_window(cls, boxes: dict[int, str]) -> dict[int, str]:
        by_window: dict[str, int] = {}
        for address, window in sorted(boxes.items()):
            if window in by_window:
                raise ValueError(
                    f"window {window} has two boxes (addresses {by_window[window]} and {address})"
                )
            by_window[window] = address
        return boxes


class HubConfig(DeviceConfigBase):
    type: Literal["hub"]
    backend: BackendConfig
    outbox_path: Path
    # Ticket numbers the hub may hand out on its own while the backend is down.
    reserved_block_size: Annotated[int, Field(ge=0, le=1000)] = 50
    device_configs_dir: Path = Path(".")
    # Loopback port of the hub's JSON health/counters endpoint; absent: not served.
    health_port: Port | None = None
    # The hall's local time zone: decides the service day of offline tickets.
    timezone: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$")] = (
        DEFAULT_TIMEZONE
    )
    # Where phones reach the backend's public pages: a ticket's QR code (follow_url)
    # is <public_base_url>/m/t/<ticket token>.
    public_base_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] = (
        "http://127.0.0.1:8000"
    )
    # The hub's window console for calling through an outage; absent: not served.
    console: ConsoleConfig | None = None
    # The windows' caller key boxes on the hub's RS-485 port; absent: none.
    callers: CallerBusConfig | None = None

    def backend_console_url(self) -> str:
        """Where clerks work while the hall is online (the backend's window console)."""
        if self.console is not None and self.console.backend_console_url:
            return self.console.backend_console_url
        return self.backend.url.rstrip("/") + "/console"


DeviceConfig: TypeAlias = Annotated[
    KioskConfig
    | WindowDisplayConfig
    | HallDisplayConfig
    | AnnouncerConfig
    | EvaluatorConfig
    | HubConfig,
    Field(discriminator="type"),
]
_DEVICE_CONFIG: Final[TypeAdapter[DeviceConfig]] = TypeAdapter(DeviceConfig)


# ------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    key: str
    value: str
    reason: str

    def __str__(self) -> str:
        if not self.key:
            return f"{self.file}: {self.reason}"
        if not self.value:
            return f"{self.file}: {self.key}: {self.reason}"
        return f"{self.file}: {self.key} = {self.value}: {self.reason}"


class ConfigFileError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(format_problems(problems))
        self.problems = problems


def format_problems(problems: Sequence[ConfigProblem]) -> str:
    return "\n".join(str(problem) for problem in problems)


def _find_duplicate_key(node: Any) -> tuple[str, Any] | None:
    """First duplicate mapping key in a composed YAML tree (PyYAML keeps the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                return key, key_node.start_mark
            seen.add(key)
            found = _find_duplicate_key(value_node)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _find_duplicate_key(item)
            if found is not None:
                return found
    return None


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(problem: Any) -> str:
    key = str(problem["loc"][-1]) if problem["loc"] else ""
    if problem["type"] == "extra_forbidden" and key in _LITERAL_SECRET_KEYS:
        return (
            f"secrets may not be written in config files; use {_LITERAL_SECRET_KEYS[key]} "
            "(an environment variable name or a file holding the secret)"
        )
    if problem["type"] == "extra_forbidden":
        return "unknown key (check spelling; see docs for the keys of this device type)"
    if problem["type"] == "string_pattern_mismatch" and key.endswith("_env"):
        return "must name an environment variable (A-Z, 0-9, _), not hold the secret itself"
    reason: str = problem["msg"]
    return reason


def _key_path(data: Any, loc: Sequence[int | str]) -> list[int | str]:
    """Drop the segments pydantic adds for union tags (e.g. `usb` in printer.usb.vendor_id).

    A segment is kept when it exists in the data at that point, or when it is
    the last one (a missing key is still the key the user has to add).
    """
    path: list[int | str] = []
    current = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif last:
            path.append(part)
    return path


def _problems_from_validation(
    file: str, data: dict[str, Any], error: ValidationError
) -> list[ConfigProblem]:
    problems = []
    device_type = data.get("type")
    for problem in error.errors(include_url=False):
        path = _key_path(data, problem["loc"])
        reason = _reason(problem)
        if path and path[-1] == "[key]":
            # pydantic marks a bad mapping key (e.g. a box address) with a "[key]" segment.
            path = path[:-1]
            reason = f"the key: {reason}"
        key = ".".join(str(part) for part in path)
        last_key = str(path[-1]) if path else ""
        if problem["type"] == "missing":
            value = "(missing)"
        elif problem["type"] in ("union_tag_invalid", "union_tag_not_found") and not path:
            key, value = "type", _show(device_type) if device_type is not None else "(missing)"
        elif last_key in _LITERAL_SECRET_KEYS or last_key.endswith("_env"):
            # Never echo what may be a secret typed into the wrong key.
            value = "(hidden)"
        else:
            value = _show(problem["input"])
        problems.append(ConfigProblem(file, key or "(top level)", value, reason))
    return problems


def load_device_config(path: Path | str) -> DeviceConfig:
    """Load and validate one device file; raise ConfigFileError listing every problem."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError([ConfigProblem(file, "", "", f"cannot read file: {exc}")]) from None
    try:
        duplicate = _find_duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(
            [ConfigProblem(file, "", "", f"YAML syntax error at {where}{problem}")]
        ) from None
    if duplicate is not None:
        key, mark = duplicate
        raise ConfigFileError(
            [ConfigProblem(file, key, "", f"key appears twice (second at line {mark.line + 1})")]
        )
    if not isinstance(data, dict):
        raise ConfigFileError(
            [ConfigProblem(file, "", "", "the file must hold a mapping of keys to values")]
        )
    try:
        config = _DEVICE_CONFIG.validate_python(data)
    except ValidationError as exc:
        raise ConfigFileError(_problems_from_validation(file, data, exc)) from None
    if path.stem != config.device_id:
        raise ConfigFileError(
            [
                ConfigProblem(
                    file,
                    "device_id",
                    _show(config.device_id),
                    f"the file must be named after the device ({config.device_id}{path.suffix})",
                )
            ]
        )
    config._source_file = path.resolve()
    return config


def load_registry(directory: Path) -> list[DeviceConfig]:
    """Load every *.yaml in directory; all problems of all files in one ConfigFileError."""
    configs: list[DeviceConfig] = []
    problems: list[ConfigProblem] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            configs.append(load_device_config(path))
        except ConfigFileError as exc:
            problems += exc.problems
    seen: dict[tuple[str, str], DeviceConfig] = {}
    for config in configs:
        key = (config.hall_id, config.device_id)
        if key in seen:
            problems.append(
                ConfigProblem(
                    str(config.source_file),
                    "device_id",
                    _show(config.device_id),
                    f"also used by {seen[key].source_file}",
                )
            )
        seen[key] = config
    if problems:
        raise ConfigFileError(problems)
    return configs


# ------------------------------------------------------------------------- secrets


def resolve_secret(
    config: DeviceConfigBase, key_prefix: str, env_name: str | None, file: Path | None
) -> str | None:
    """Read a secret named by `<key_prefix>_env` / `<key_prefix>_file`; None if neither is set."""
    source = str(config.source_file or "(config)")
    if env_name is not None:
        value = os.environ.get(env_name)
        if not value:
            raise ConfigFileError(
                [
                    ConfigProblem(
                        source,
                        f"{key_prefix}_env",
                        _show(env_name),
                        "environment variable is not set",
                    )
                ]
            )
        return value
    if file is not None:
        base = config.source_file.parent if config.source_file else Path.cwd()
        full = file if file.is_absolute() else base / file
        try:
            value = full.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigFileError(
                [ConfigProblem(source, f"{key_prefix}_file", _show(str(file)), str(exc))]
            ) from None
        if not value:
            raise ConfigFileError(
                [ConfigProblem(source, f"{key_prefix}_file", _show(str(file)), "file is empty")]
            )
        return value
    return None


def id_lookup_key(config: KioskConfig) -> bytes | None:
    """The kiosk's ID lookup key (None when none is configured)."""
    text = resolve_secret(
        config, "id_lookup_key", config.id_lookup_key_env, config.id_lookup_key_file
    )
    if text is None:
        return None
    try:
        return parse_lookup_key(text)
    except LookupKeyError as exc:
        key = "id_lookup_key_env" if config.id_lookup_key_env else "id_lookup_key_file"
        raise ConfigFileError(
            [ConfigProblem(str(config.source_file or "(config)"), key, "(secret)", str(exc))]
        ) from None


def connection_settings(
    config: DeviceConfigBase, *, fallback_host: str = "127.0.0.1", fallback_port: int = 1883
) -> ConnectionSettings:
    """ConnectionSettings for DeviceClient, password resolved; fallback when broker is absent."""
    broker = config.broker
    if broker is None:
        return ConnectionSettings(host=fallback_host, port=fallback_port)
    tls = None
    if broker.tls is not None:
        tls = TlsSettings(broker.tls.ca_file, broker.tls.cert_file, broker.tls.key_file)
    return ConnectionSettings(
        host=broker.host,
        port=broker.port,
        username=broker.username,
        password=resolve_secret(
            config, "broker.password", broker.password_env, broker.password_file
        ),
        tls=tls,
        keepalive_s=broker.keepalive_s,
        protocol=broker.protocol,
    )


# ----------------------------------------------------------------------------- CLI


def check_config_main(argv: Sequence[str] | None = None) -> int:
    """`hall check-config FILE...`: exit 0 when every file is valid, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="hall check-config", description="Validate device configuration files."
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--resolve-secrets",
        action="store_true",
        help="also check that the broker password / backend token can be read",
    )
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        try:
            config = load_device_config(path)
            if args.resolve_secrets:
                connection_settings(config)
                if isinstance(config, HubConfig):
                    backend = config.backend
                    resolve_secret(config, "backend.token", backend.token_env, backend.token_file)
                if isinstance(config, KioskConfig):
                    id_lookup_key(config)
        except ConfigFileError as exc:
            failed = True
            print(format_problems(exc.problems), file=sys.stdout)
            continue
        print(f"{path}: ok ({config.type} {config.device_id})")
    return 1 if failed else 0
