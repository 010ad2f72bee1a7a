"""Window display view-model and controller, without a window (RecordingBus)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta
from pathlib import Path

from devices.led import LedColour, LedEffect, LedSettings, open_led
from deviceui.screens import UiModel
from displays import style
from displays.controllers import WindowDisplayController
from displays.led_mirror import LedCommand, led_command_for
from displays.link import Link, LinkStatus
from displays.samples import window_state
from displays.window_view import WindowDisplayViewModel, WindowView, stars_text
from hallbus.bus import Payload, RecordingBus
from hallbus.config import WindowDisplayConfig
from hallbus.topics import Component
from hub.registry import DeviceRegistry
from hub.validation import validate_health
from tests.displays.conftest import WINDOW_DISPLAY

NOW = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
LIVE = LinkStatus(Link.LIVE)
HUB_STATUS = "hall/bh/hub/hub-bh/status"
WINDOW_DISPLAY_CONFIG = WindowDisplayConfig(
    device_id="window-display-3", hall_id="bh", type="window_display", window="3"
)


def live_model() -> WindowDisplayViewModel:
    model = WindowDisplayViewModel("3")
    model.apply_link(LIVE)
    return model


def test_serving_shows_ticket_large_and_clerk_card() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, ticket="A012"), NOW)
    view = model.view(NOW)
    assert (view.mode, view.headline, view.window_title) == ("serving", "A012", "3 号窗口")
    assert view.headline_colour == style.TICKET
    assert view.staff is not None
    assert (view.staff.name, view.staff.employee_no_text) == ("王芳", "工号 0107")
    assert view.staff.stars_text == "★★★★★ 4.8"
    assert view.offline_text == ""


def test_paused_shows_reason_and_expected_return() -> None:
    model = live_model()
    model.apply_state(
        window_state(1, now=NOW, state="paused", pause_reason="会议", back_in_minutes=30), NOW
    )
    view = model.view(NOW)
    assert (view.mode, view.headline) == ("paused", "暂停服务")
    assert "原因：会议" in view.detail and "预计 10:30 恢复" in view.detail


def test_paused_until_tomorrow_names_the_date() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, state="paused", back_in_minutes=24 * 60), NOW)
    assert "11月27日 10:00" in model.view(NOW).detail


def test_resting_and_closed_words() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, state="resting"), NOW)
    assert model.view(NOW).headline == "休息中"
    model.apply_state(window_state(2, now=NOW, state="closed", staff=None), NOW)
    view = model.view(NOW)
    assert (view.headline, view.staff) == ("未开放", None)


def test_new_call_and_recall_flash_but_restored_old_call_does_not() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, ticket="A001", called_seconds_ago=600), NOW)
    assert not model.view(NOW).flashing(NOW)  # restored after a restart: not a new call
    model.apply_state(window_state(2, now=NOW, ticket="A002", called_seconds_ago=0), NOW)
    assert model.view(NOW).flashing(NOW + timedelta(seconds=3))
    assert not model.view(NOW).flashing(NOW + timedelta(seconds=style.FLASH_SECONDS + 1))
    later = NOW + timedelta(seconds=60)
    model.apply_state(window_state(3, now=later, ticket="A002", called_seconds_ago=0), later)
    assert model.view(later).flashing(later)  # recall: same ticket, new called_at


def test_restored_fresh_call_flashes() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, ticket="A001", called_seconds_ago=1), NOW)
    assert model.view(NOW).flashing(NOW)


def test_offline_greys_the_ticket_and_says_so() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, ticket="A001", called_seconds_ago=0), NOW)
    model.apply_link(LinkStatus(Link.HUB_OFFLINE, NOW))
    view = model.view(NOW)
    assert view.headline == "A001" and view.headline_colour == style.STALE
    assert view.offline_text.startswith("离线 10:00 起")
    assert not view.flashing(NOW)


def test_stars_text_rounds_to_whole_stars() -> None:
    assert stars_text(4.2) == "★★★★☆ 4.2"
    assert stars_text(None) == ""


def test_photo_is_looked_up_locally_by_file_name(tmp_path: Path) -> None:
    (tmp_path / "0107.png").write_bytes(b"png")
    model = WindowDisplayViewModel("3", photo_dir=tmp_path)
    model.apply_state(window_state(1, now=NOW), NOW)
    staff = model.view(NOW).staff
    assert staff is not None and staff.photo == str(tmp_path / "0107.png")


# ------------------------------------------------------------------------- controller


def make_controller() -> tuple[WindowDisplayController, RecordingBus, UiModel]:
    bus = RecordingBus()
    ui = UiModel()
    controller = WindowDisplayController(bus, WINDOW_DISPLAY, "3", ui, now=lambda: NOW)
    controller.subscribe()
    controller.set_device_connected(True)
    return controller, bus, ui


def shown(ui: UiModel) -> WindowView:
    view = ui.get("view")
    assert isinstance(view, WindowView)
    return view


def test_controller_drops_stale_and_duplicate_retained_states() -> None:
    _controller, bus, ui = make_controller()
    topic = WINDOW_DISPLAY.state_topic()
    bus.inject(HUB_STATUS, b"online", retain=True)
    bus.inject(topic, window_state(5, now=NOW, ticket="A005"), retain=True)
    bus.inject(topic, window_state(4, now=NOW, ticket="A004"), retain=True)  # redelivered
    bus.inject(topic, window_state(5, now=NOW, ticket="A999"), retain=True)  # duplicate seq
    assert shown(ui).headline == "A005"
    bus.inject(topic, window_state(6, now=NOW, ticket="A006"))
    assert shown(ui).headline == "A006"


def test_controller_ignores_malformed_payloads() -> None:
    _controller, bus, ui = make_controller()
    bus.inject(HUB_STATUS, b"online")
    bus.inject(WINDOW_DISPLAY.state_topic(), b'{"v": 1, "seq": 1, "nonsense": true}')
    assert shown(ui).mode == "waiting"


def test_controller_marks_offline_and_resets_seq_when_the_hub_restarts() -> None:
    _controller, bus, ui = make_controller()
    topic = WINDOW_DISPLAY.state_topic()
    assert shown(ui).offline_text == "正在连接叫号系统…"
    bus.inject(HUB_STATUS, b"online")
    bus.inject(topic, window_state(40, now=NOW, ticket="A040"))
    assert shown(ui).offline_text == ""
    bus.inject(HUB_STATUS, b"offline")  # the hub's Last Will
    assert shown(ui).offline_text.startswith("离线")
    bus.inject(HUB_STATUS, b"online")  # a restarted hub counts from 1 again
    bus.inject(topic, window_state(1, now=NOW, ticket="A041"))
    assert (shown(ui).headline, shown(ui).offline_text) == ("A041", "")


def test_device_disconnect_is_offline_too() -> None:
    controller, bus, ui = make_controller()
    bus.inject(HUB_STATUS, b"online")
    controller.set_device_connected(False)
    assert shown(ui).offline_text.startswith("离线")


# -------------------------------------------------------------------------- LED mapping


def test_led_commands_for_each_state() -> None:
    def command(state: str, *, live: bool = True, new_call: bool = False) -> LedCommand:
        return led_command_for(
            "3", window_state(1, now=NOW, state=state), live=live, new_call=new_call
        )

    paused = command("paused")
    assert (paused.text, paused.colour, paused.effect) == (
        "暂停服务",
        LedColour.RED,
        LedEffect.STATIC,
    )
    serving = command("open", new_call=True)
    assert (serving.text, serving.colour, serving.flash_for_s) == (
        "请A001号办理",
        LedColour.GREEN,
        6,
    )
    assert command("open", live=False).text == "3号窗口"  # never a stale ticket on the bar
    assert command("resting").text == "休息中"
    assert command("closed").text == "未开放"


class _PublishSignal(RecordingBus):
    """A RecordingBus that lets a test await the next publish instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.published_event = threading.Event()

    def publish(self, topic: str, payload: Payload, *, qos: int = 1, retain: bool = False) -> None:
        super().publish(topic, payload, qos=qos, retain=retain)
        self.published_event.set()


def _texts(value: object) -> list[str]:
    """Every string a view carries, nested dataclasses included."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            text for item in dataclasses.fields(value) for text in _texts(getattr(value, item.name))
        ]
    return []


def test_led_fault_goes_to_the_device_health_never_to_the_screen(tmp_path: Path) -> None:
    missing_port = str(tmp_path / "ttyUSB1")  # nothing there: "cannot open …: [Errno 2]"
    bus = _PublishSignal()
    ui = UiModel()
    controller = WindowDisplayController(bus, WINDOW_DISPLAY, "3", ui, now=lambda: NOW)
    driver = open_led(
        LedSettings(port=missing_port, ack_timeout_ms=10, reconnect_initial_ms=10),
        on_health=controller.led_health,
    )
    controller.attach_led(driver, retry_s=0.01)
    controller.subscribe()
    try:
        controller.set_device_connected(True)
        bus.inject(HUB_STATUS, b"online")
        bus.inject(WINDOW_DISPLAY.state_topic(), window_state(1, now=NOW, ticket="A012"))
        health_topic = WINDOW_DISPLAY.health_topic(Component.LED)
        assert bus.published_event.wait(5)
        (published,) = bus.on_topic(health_topic)[:1]
        view = ui.get("view")
        assert isinstance(view, WindowView) and view.headline == "A012"
    finally:
        controller.stop()
    # The public screen carries nothing technical: no port, no errno, no "故障".
    for text in _texts(view):
        assert missing_port not in text and "Errno" not in text and "故障" not in text
    # The technician's detail is on the retained health topic, as the hub accepts it.
    assert published.retain
    registry = DeviceRegistry.from_configs([WINDOW_DISPLAY_CONFIG], "bh")
    health = validate_health(health_topic, published.payload, registry)
    assert (health.device, health.component, health.state) == (
        "window-display-3",
        Component.LED,
        "fault",
    )
    assert health.detail.startswith(f"cannot open {missing_port}")
    # Unchanged reports (every reopen attempt) are not published again.
    assert len(bus.on_topic(health_topic)) == 1


def test_hall_mode_mark_while_the_hub_decides() -> None:
    model = live_model()
    model.apply_state(window_state(1, now=NOW, ticket="A012"), NOW)
    assert model.view(NOW).hall_mark == ""
    offline = window_state(2, now=NOW, ticket="A013").model_copy(update={"hall_mode": "offline"})
    model.apply_state(offline, NOW)
    view = model.view(NOW)
    assert view.hall_mark == "离线叫号 Offline" and view.headline == "A013"
    replaying = offline.model_copy(update={"seq": 3, "hall_mode": "replaying"})
    model.apply_state(replaying, NOW)
    assert model.view(NOW).hall_mark == "补录中 Syncing"
    # Online the field is left out of the JSON: what a display from before it accepts.
    assert "hall_mode" not in window_state(4, now=NOW).model_dump_json()
