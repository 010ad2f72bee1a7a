from __future__ import annotations

import base64
from pathlib import Path

import pytest

from hallbus.broker.credentials import ensure_device_passwords
from hallbus.broker.mosquitto import find_mosquitto, hash_password, render_conf
from hallbus.broker.select import parse_broker_url, pick_broker
from hallbus.client import ConnectionSettings, DeviceClient

from .conftest import KIOSK_1, REGISTRY, WAIT_S


def test_configured_url_is_used_as_is(tmp_path: Path) -> None:
    chosen = pick_broker("mqtts://broker.hall.local", devices=[], passwords={}, conf_dir=tmp_path)
    assert (chosen.kind, chosen.host, chosen.port, chosen.tls) == (
        "configured",
        "broker.hall.local",
        8883,
        True,
    )
    with pytest.raises(ValueError):
        parse_broker_url("http://x")


def test_embedded_broker_when_no_mosquitto(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pick_broker(
        None, devices=REGISTRY, passwords={}, conf_dir=tmp_path, allow_mosquitto=False
    ) as chosen:
        assert chosen.kind == "embedded" and chosen.host == "127.0.0.1"
        # Asked for (the demo's --broker embedded): the log must not claim Mosquitto is missing.
        assert "the embedded broker was asked for" in caplog.text
        assert "Mosquitto not found" not in caplog.text
        client = DeviceClient(KIOSK_1, ConnectionSettings(port=chosen.port))
        client.start()
        try:
            client.wait_connected(WAIT_S)
        finally:
            client.stop()


@pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed")
def test_generated_mosquitto_when_available(tmp_path: Path) -> None:
    passwords = ensure_device_passwords([d.device_id for d in REGISTRY], tmp_path / "secrets")
    assert ensure_device_passwords(["kiosk-1"], tmp_path / "secrets") == {
        "kiosk-1": passwords["kiosk-1"]
    }
    with pick_broker(
        None, devices=REGISTRY, passwords=passwords, conf_dir=tmp_path / "m"
    ) as chosen:
        assert chosen.kind == "mosquitto"
        client = DeviceClient(
            KIOSK_1, ConnectionSettings(port=chosen.port, password=passwords["kiosk-1"])
        )
        client.start()
        try:
            client.wait_connected(WAIT_S)
        finally:
            client.stop()


def test_password_hash_matches_mosquitto_format() -> None:
    # Reference produced by `mosquitto_passwd -b` for user alice, password "secret".
    reference = (
        "$7$101$8u4r4jEblgi2L5ra$jh0GoLTpqAb2sgRgLLHVVcHTnNEPmv//4FnkWgBPcurl2Zfzy+CC3f8Ok70Y"
        "qXBXjBWtp3Ef7hZUeBenCVjWHQ=="
    )
    salt = base64.b64decode(reference.split("$")[3])
    assert hash_password("secret", salt) == reference


def test_conf_keeps_listener_options_after_the_listener(tmp_path: Path) -> None:
    text = render_conf(password_file=tmp_path / "p", acl_file=tmp_path / "a", port=1999)
    lines = text.splitlines()
    listener = lines.index("listener 1999 127.0.0.1")
    assert lines.index("max_packet_size 262144") > listener
    assert lines.index("set_tcp_nodelay true") < listener
    assert "allow_anonymous false" in lines and "max_queued_messages 20000" in lines
