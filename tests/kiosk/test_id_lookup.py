"""The kiosk's ID lookup hash equals the backend's lookup hash of the same number.

The key comes from `hall export-id-lookup-key` (the backend's derived key), reaches the
kiosk through its config (`id_lookup_key_file` / `id_lookup_key_env`), and the kiosk's
HMAC (hallbus.idlookup) must give exactly backend.privacy.IdentityProtector.lookup_hash.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from backend.cli import main as hall_cli
from backend.privacy import IdentityProtector
from hallbus.config import ConfigFileError, KioskConfig, id_lookup_key, load_device_config
from hallbus.idlookup import id_lookup_hash
from kiosk.identity import IdCardRead
from kiosk.peripherals import parse_id_card_line

SECRET = "kiosk-lookup-test-secret-" + "y" * 40
ID_NUMBERS = ["11010519491231002X", "110105199003071239", "440308198506150010"]


def export_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HALLKIT_SECRET_KEY", SECRET)
    monkeypatch.setenv("HALLKIT_VAR_DIR", str(tmp_path / "var"))
    out = tmp_path / "id-lookup.key"
    result = CliRunner().invoke(hall_cli, ["export-id-lookup-key", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def kiosk_config(tmp_path: Path, **lookup: str) -> KioskConfig:
    path = tmp_path / "kiosk-1.yaml"
    values = {
        "device_id": "kiosk-1",
        "hall_id": "bh",
        "type": "kiosk",
        "printer": {"kind": "dummy"},
        **lookup,
    }
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    config = load_device_config(path)
    assert isinstance(config, KioskConfig)
    return config


def test_kiosk_hash_equals_backend_lookup_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = export_key(tmp_path, monkeypatch)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = id_lookup_key(kiosk_config(tmp_path, id_lookup_key_file=str(key_file)))
    assert key is not None
    backend = IdentityProtector.from_secret(SECRET)
    for number in ID_NUMBERS:
        expected = backend.lookup_hash(number)
        assert IdCardRead.from_number(number, key).lookup_hash == expected
        read = parse_id_card_line(f"IDCARD,{number},张三\r\n".encode(), key)
        assert read is not None and read.lookup_hash == expected
    # The same normalisation as the backend: a lower-case x, full-width digits, spaces.
    assert id_lookup_hash("110105 19491231 002x", key) == backend.lookup_hash(ID_NUMBERS[0])
    assert id_lookup_hash("１１０１０５１９４９１２３１００２Ｘ", key) == backend.lookup_hash(
        ID_NUMBERS[0]
    )
    # The file holds the key only, never anything derived from a number.
    assert len(key_file.read_text(encoding="ascii").strip()) == 64


def test_the_key_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_text = export_key(tmp_path, monkeypatch).read_text(encoding="ascii")
    monkeypatch.setenv("HALLKIT_KIOSK_ID_LOOKUP_KEY", key_text)
    key = id_lookup_key(kiosk_config(tmp_path, id_lookup_key_env="HALLKIT_KIOSK_ID_LOOKUP_KEY"))
    assert key == IdentityProtector.from_secret(SECRET).lookup_key()


def test_export_refuses_to_overwrite_and_bad_keys_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = export_key(tmp_path, monkeypatch)
    before = key_file.read_bytes()
    again = CliRunner().invoke(hall_cli, ["export-id-lookup-key", "--out", str(key_file)])
    assert again.exit_code != 0 and key_file.read_bytes() == before

    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key\n", encoding="ascii")
    with pytest.raises(ConfigFileError) as problem:
        id_lookup_key(kiosk_config(tmp_path, id_lookup_key_file=str(bad)))
    assert "64 hex digits" in str(problem.value.problems[0])
    assert "not-a-key" not in str(problem.value.problems[0])  # a secret is never echoed
    # No key configured: the kiosk has none (and leaves the ID-card reader unused).
    assert id_lookup_key(kiosk_config(tmp_path)) is None


def test_a_different_hall_secret_gives_a_different_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = IdentityProtector.from_secret(SECRET).lookup_key()
    other = IdentityProtector.from_secret("another-hall-secret-" + "z" * 40)
    assert id_lookup_hash(ID_NUMBERS[0], key) != other.lookup_hash(ID_NUMBERS[0])
