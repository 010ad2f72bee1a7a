from __future__ import annotations

import re
from pathlib import Path

import pytest

from hallbus.config import (
    AnnouncerConfig,
    ConfigFileError,
    HubConfig,
    KioskConfig,
    check_config_main,
    connection_settings,
    load_device_config,
    load_registry,
)

DEVICE_CONFIGS = Path(__file__).resolve().parents[2] / "device-configs"
SHIPPED = sorted(DEVICE_CONFIGS.glob("*.yaml"))

ANNOUNCER = """\
device_id: announcer-9
hall_id: bh
type: announcer
broker:
  port: 1884
  password_env: ANNOUNCER_9_MQTT_PASSWORD
floor: 2
"""

KIOSK = """\
device_id: kiosk-9
hall_id: bh
type: kiosk
broker:
  port: 1884
  password_env: KIOSK_9_MQTT_PASSWORD
printer:
  kind: dummy
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_config_validates(path: Path) -> None:
    config = load_device_config(path)
    assert config.device_id == path.stem and config.hall_id == "bh"


def test_shipped_registry_covers_the_demo_hall() -> None:
    configs = load_registry(DEVICE_CONFIGS)
    kinds = sorted({c.type for c in configs})
    assert kinds == ["announcer", "evaluator", "hall_display", "hub", "kiosk", "window_display"]
    assert sum(isinstance(c, HubConfig) for c in configs) == 1


def test_every_problem_is_reported_with_file_key_and_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kiosk-9.yaml",
        KIOSK.replace("port: 1884", "port: 99999") + "idle_timeout_s: 5\ncolour: red\n",
    )
    with pytest.raises(ConfigFileError) as excinfo:
        load_device_config(path)
    lines = [str(p) for p in excinfo.value.problems]
    assert f"{path}: broker.port = 99999: Input should be less than or equal to 65535" in lines
    assert any(line.startswith(f"{path}: idle_timeout_s = 5: ") for line in lines)
    assert any(line.startswith(f"{path}: colour = 'red': unknown key") for line in lines)
    assert len(lines) == 3


def test_literal_password_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kiosk-9.yaml",
        KIOSK.replace("password_env: KIOSK_9_MQTT_PASSWORD", "password: hunter2"),
    )
    with pytest.raises(ConfigFileError) as excinfo:
        load_device_config(path)
    text = str(excinfo.value)
    assert "broker.password = (hidden)" in text and "password_env or password_file" in text
    assert "hunter2" not in text


def test_nested_union_errors_name_the_real_key(tmp_path: Path) -> None:
    path = write(tmp_path, "kiosk-9.yaml", KIOSK.replace("kind: dummy", "kind: usb"))
    with pytest.raises(ConfigFileError) as excinfo:
        load_device_config(path)
    keys = [p.key for p in excinfo.value.problems]
    assert keys == ["printer.vendor_id", "printer.product_id"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "kiosk-9.yaml", "device_id: kiosk-9\nprinter: [dummy\n")
    with pytest.raises(ConfigFileError, match="line 3"):
        load_device_config(path)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "kiosk-9.yaml", KIOSK + "hall_id: other\n")
    with pytest.raises(ConfigFileError, match="hall_id: key appears twice"):
        load_device_config(path)


def test_unknown_device_type(tmp_path: Path) -> None:
    path = write(tmp_path, "kiosk-9.yaml", KIOSK.replace("type: kiosk", "type: toaster"))
    with pytest.raises(ConfigFileError) as excinfo:
        load_device_config(path)
    assert excinfo.value.problems[0].key == "type"
    assert excinfo.value.problems[0].value == "'toaster'"


def test_file_must_be_named_after_the_device(tmp_path: Path) -> None:
    path = write(tmp_path, "kiosk-1.yaml", KIOSK)
    with pytest.raises(ConfigFileError, match="named after the device"):
        load_device_config(path)


def test_secrets_come_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_device_config(write(tmp_path, "kiosk-9.yaml", KIOSK))
    assert isinstance(config, KioskConfig)
    monkeypatch.delenv("KIOSK_9_MQTT_PASSWORD", raising=False)
    with pytest.raises(
        ConfigFileError, match=re.escape("broker.password_env = 'KIOSK_9_MQTT_PASSWORD'")
    ):
        connection_settings(config)
    monkeypatch.setenv("KIOSK_9_MQTT_PASSWORD", "s3cret")
    assert connection_settings(config).password == "s3cret"

    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "kiosk-9").write_text("from-file\n")
    from_file = write(
        tmp_path,
        "kiosk-9.yaml",
        KIOSK.replace("password_env: KIOSK_9_MQTT_PASSWORD", "password_file: secrets/kiosk-9"),
    )
    assert connection_settings(load_device_config(from_file)).password == "from-file"


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "kiosk-9.yaml", KIOSK)
    assert check_config_main([str(good)]) == 0
    bad = write(
        tmp_path,
        "kiosk-8.yaml",
        KIOSK.replace("kiosk-9", "kiosk-8").replace("port: 1884", "port: 99999"),
    )
    assert check_config_main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: broker.port = 99999: Input should be less than or equal to 65535" in out


@pytest.mark.parametrize("engine", ["espeak", "pyttsx3", "clips", "none"])
def test_announcer_engines_by_name(tmp_path: Path, engine: str) -> None:
    config = load_device_config(
        write(tmp_path, "announcer-9.yaml", ANNOUNCER + f"engine: {engine}\n")
    )
    assert isinstance(config, AnnouncerConfig) and config.engine == engine


def test_unknown_announcer_engine_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "announcer-9.yaml", ANNOUNCER + "engine: festival\n")
    with pytest.raises(ConfigFileError) as excinfo:
        load_device_config(path)
    (problem,) = [str(p) for p in excinfo.value.problems]
    assert problem.startswith(f"{path}: engine = 'festival': ")
    assert "'pyttsx3'" in problem
