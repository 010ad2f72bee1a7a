"""The hub's caller boxes (hub.callers): simulated boxes on a pty, the in-memory desk of
tests/hub/console_desk.py (shared with the console's tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devices.callerbox import CallerBusSettings, CallerKey
from hallbus.config import CallerBusConfig, ConfigFileError, HubConfig, load_device_config
from hub.callers import CallerBridge
from hub.window_desk import DeskAction, DeskRefused
from simulators.callerbox import SimulatedCallerBox, SimulatedCallerBus
from tests.devices.ptypeer import wait_until
from tests.hub.console_desk import Call, MemoryDesk, Seat

WAIT_S = 3.0
# A box resends an unechoed key after this long; the tests' bus delivers every copy
# (repeat_guard_ms=0), so a resend caused by a slow test machine must not happen.
RESEND_S = 2.0


@pytest.fixture
def line(tmp_path: Path) -> Iterator[SimulatedCallerBus]:
    bus = SimulatedCallerBus(tmp_path / "ttyCALLERS")
    yield bus
    bus.close()


@pytest.fixture
def desk() -> MemoryDesk:
    return MemoryDesk(waiting=["A012", "A013", "B001"])


def settings_for(line: SimulatedCallerBus, boxes: dict[int, str]) -> CallerBusSettings:
    return CallerBusSettings(
        port=str(line.port_path),
        addresses=frozenset(boxes),
        retries=2,
        ack_timeout_ms=500,
        repeat_guard_ms=0,
        reconnect_initial_ms=1,
        reconnect_max_ms=20,
    )


BOXES = {3: "1", 4: "2"}


@pytest.fixture
def bridge(line: SimulatedCallerBus, desk: MemoryDesk) -> Iterator[CallerBridge]:
    boxes = {address: line.box(address, resend_after_s=RESEND_S) for address in BOXES}
    bridge = CallerBridge(desk, settings_for(line, BOXES), BOXES)
    bridge.start()
    # start() shows every window's state: the line is up and both boxes answer.
    for box in boxes.values():
        assert box.wait_shown("--", WAIT_S)
    yield bridge
    bridge.stop()


def press(box: SimulatedCallerBox, key: CallerKey, data: bytes = b"") -> str | None:
    """Press and return what the box shows next (None if nothing came)."""
    before = len(box.shown_history())
    box.press(key, data)
    return box.shown_after(before, WAIT_S)


def test_keys_act_on_the_boxes_window_via_caller_box(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box3, box4 = line.box(3), line.box(4)
    assert press(box3, CallerKey.CALL) == "A012"
    assert press(box4, CallerKey.CALL) == "A013"
    assert press(box3, CallerKey.RECALL) == "A012"
    assert press(box3, CallerKey.EVALUATE) == "A012"  # the window still holds it
    assert press(box3, CallerKey.FINISH) == "--"
    assert press(box4, CallerKey.NO_SHOW) == "--"
    assert [(call.window, call.action) for call in desk.calls] == [
        ("1", DeskAction.CALL),
        ("2", DeskAction.CALL),
        ("1", DeskAction.RECALL),
        ("1", DeskAction.INVITE_RATING),
        ("1", DeskAction.FINISH),
        ("2", DeskAction.NO_SHOW),
    ]
    assert {(call.employee_no, call.via, call.target_window) for call in desk.calls} == {
        (None, "caller_box", None)
    }


def test_pause_key_toggles_pause_and_resume(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box = line.box(3)
    assert press(box, CallerKey.PAUSE) == "PAUS"
    assert desk.seats["1"].state == "paused"
    assert press(box, CallerKey.PAUSE) == "--"
    assert desk.seats["1"].state == "open"
    desk.seats["1"].state = "resting"  # 休息 ends with the same key
    assert press(box, CallerKey.PAUSE) == "--"
    assert [call.action for call in desk.calls] == [
        DeskAction.PAUSE,
        DeskAction.RESUME,
        DeskAction.RESUME,
    ]


def test_transfer_carries_the_target_window(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box = line.box(3)
    assert press(box, CallerKey.CALL) == "A012"
    assert press(box, CallerKey.TRANSFER, b"3") == "--"
    assert desk.calls[-1] == Call("1", DeskAction.TRANSFER, None, "caller_box", "3", None)


@pytest.mark.parametrize(
    ("digits", "why"),
    [(b"", "no digits"), (b"9", "not a window of the hall"), (b"1", "this window"), (b"x", "")],
)
def test_a_bad_transfer_target_shows_e6_and_asks_nothing(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge, digits: bytes, why: str
) -> None:
    box = line.box(3)
    assert press(box, CallerKey.CALL) == "A012"
    assert press(box, CallerKey.TRANSFER, digits) == "E6", why
    assert [call.action for call in desk.calls] == [DeskAction.CALL]
    assert desk.seats["1"].current == "A012"  # nothing changed


def test_refusals_show_their_codes(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box = line.box(4)
    assert press(box, CallerKey.RECALL) == "E3"  # no current ticket
    assert press(box, CallerKey.CALL) == "A012"
    desk.recall_limit = 1
    assert press(box, CallerKey.RECALL) == "A012"
    assert press(box, CallerKey.RECALL) == "E2"
    assert desk.seats["2"].current == "A012"  # refused: nothing changed
    desk.waiting.clear()
    assert press(box, CallerKey.CALL) == "--"  # A012 finished, nobody to call
    assert desk.seats["2"].current is None
    assert press(box, CallerKey.CALL) == "--"  # refused: nobody waiting
    assert press(box, CallerKey.FINISH) == "E3"


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("window_closed", "E4"),
        ("not_paused", "E4"),
        ("not_signed_in", "E5"),
        ("unknown_clerk", "E5"),
        ("not_your_window", "E5"),
        ("bad_target", "E6"),
        ("finish_first", "E7"),
        ("hall_replaying", "E9"),  # a backend code online
        ("something_new", "E9"),
    ],
)
def test_desk_refusal_codes_on_the_display(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge, code: str, shown: str
) -> None:
    desk.fail_with = DeskRefused(code, "拒绝 / refused")
    assert press(line.box(3), CallerKey.PAUSE) == shown


def test_a_desk_failure_or_an_online_conflict_is_shown(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    desk.fail_with = RuntimeError("store is broken")
    assert press(line.box(3), CallerKey.CALL) == "E8"
    desk.fail_with = None
    desk.not_ok = True  # e.g. the backend answered outcome "conflict"
    assert press(line.box(3), CallerKey.CALL) == "E9"


def test_a_box_on_a_window_the_desk_does_not_know_shows_e1(
    line: SimulatedCallerBus, desk: MemoryDesk
) -> None:
    boxes = {5: "77"}
    box = line.box(5, resend_after_s=RESEND_S)
    bridge = CallerBridge(desk, settings_for(line, boxes), boxes)
    bridge.start()
    try:
        assert box.wait_shown("E1", WAIT_S)  # already at start: the window is unknown
        assert press(box, CallerKey.CALL) == "E1"
    finally:
        bridge.stop()


def test_before_the_desk_knows_the_hall_the_boxes_show_dashes(line: SimulatedCallerBus) -> None:
    desk = MemoryDesk(windows=())  # no snapshot yet
    boxes = {5: "1"}
    box = line.box(5, resend_after_s=RESEND_S)
    bridge = CallerBridge(desk, settings_for(line, boxes), boxes)
    bridge.start()
    try:
        assert box.wait_shown("--", WAIT_S)
        desk.seats["1"] = Seat(name="1号窗口", current="A007")  # the snapshot arrived
        bridge.refresh()
        assert box.wait_shown("A007", WAIT_S)
    finally:
        bridge.stop()


def test_a_slow_desk_stalls_neither_the_echo_nor_other_windows(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box3, box4 = line.box(3), line.box(4)
    gate = threading.Event()
    desk.gate = gate
    try:
        box3.press(CallerKey.CALL)  # returns on the echo although the desk hangs
        assert desk.entered.wait(WAIT_S)
        assert box3.shown() == "--"
        desk.gate = None  # window 2's press finds the desk answering
        assert press(box4, CallerKey.CALL) == "A012"
    finally:
        gate.set()
    assert box3.wait_shown("A013", WAIT_S)
    assert {call.window for call in desk.calls} == {"1", "2"}


def test_refresh_shows_what_a_console_changed(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box3, box4 = line.box(3), line.box(4)
    desk.seats["1"].current = "B001"  # called from the hub console
    shown4 = len(box4.shown_history())
    bridge.refresh("1")
    assert box3.wait_shown("B001", WAIT_S)
    bridge.refresh()
    assert box4.wait_shown("--", WAIT_S, after=shown4)


def test_the_line_vanishing_and_coming_back(
    line: SimulatedCallerBus, desk: MemoryDesk, bridge: CallerBridge
) -> None:
    box = line.box(3)
    line.vanish()
    assert wait_until(lambda: bridge.bus.health is not None and not bridge.bus.health.ok)
    desk.seats["1"].current = "B001"  # meanwhile the console called
    before = len(box.shown_history())
    line.reappear()
    # Back up: every display is refreshed, so the box shows what the console did.
    assert box.wait_shown("B001", WAIT_S, after=before)
    assert press(box, CallerKey.FINISH) == "--"
    assert desk.calls[-1].action is DeskAction.FINISH


def test_a_resent_key_is_one_press(line: SimulatedCallerBus, desk: MemoryDesk) -> None:
    boxes = {3: "1"}
    settings = settings_for(line, boxes).model_copy(update={"repeat_guard_ms": 5000})
    bridge = CallerBridge(desk, settings, boxes)
    box = line.box(3)
    bridge.start()
    try:
        assert box.wait_shown("--", WAIT_S)
        frame = box.key_frame(CallerKey.CALL)
        line.write(frame + frame)  # the first echo was lost on the line: the box resent
        assert box.wait_shown("A012", WAIT_S)
        assert wait_until(lambda: bridge.bus.stats.repeated_frames == 1)
        assert [call.action for call in desk.calls] == [DeskAction.CALL]
    finally:
        bridge.stop()


def test_bridge_boxes_must_match_the_bus(line: SimulatedCallerBus, desk: MemoryDesk) -> None:
    with pytest.raises(ValueError, match="differ"):
        CallerBridge(desk, settings_for(line, {3: "1"}), {3: "1", 4: "2"})


# -- configuration -------------------------------------------------------------------


def hub_file(tmp_path: Path, callers: object) -> Path:
    data: dict[str, object] = {
        "device_id": "hub-bh",
        "hall_id": "bh",
        "type": "hub",
        "backend": {"url": "http://127.0.0.1:5000", "token_env": "HUB_TOKEN"},
        "outbox_path": "outbox.sqlite3",
    }
    if callers is not None:
        data["callers"] = callers
    path = tmp_path / "hub-bh.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_hub_config_callers(tmp_path: Path) -> None:
    config = load_device_config(hub_file(tmp_path, None))
    assert isinstance(config, HubConfig) and config.callers is None
    path = hub_file(tmp_path, {"port": "/dev/ttyUSB-callers", "boxes": {1: "1", 2: 2, 12: "12"}})
    config = load_device_config(path)
    assert isinstance(config, HubConfig)
    assert config.callers == CallerBusConfig(
        port="/dev/ttyUSB-callers", baudrate=9600, boxes={1: "1", 2: "2", 12: "12"}
    )
    bridge = CallerBridge.from_config(MemoryDesk(), config.callers)
    assert bridge.bus.settings.addresses == frozenset({1, 2, 12})
    assert bridge.bus.settings.repeat_guard_ms == 1000
    assert bridge.boxes == {1: "1", 2: "2", 12: "12"}


@pytest.mark.parametrize(
    ("callers", "expected"),
    [
        (
            {"port": "/dev/ttyUSB0", "boxes": {300: "1"}},
            "callers.boxes.300 = 300: the key: Input should be less than or equal to 254",
        ),
        (
            {"port": "/dev/ttyUSB0", "boxes": {1: "x y"}},
            "callers.boxes.1 = 'x y': String should match pattern",
        ),
        (
            {"port": "/dev/ttyUSB0", "boxes": {1: "1", 2: "1"}},
            "callers.boxes = {...}: Value error, window 1 has two boxes (addresses 1 and 2)",
        ),
        ({"port": "/dev/ttyUSB0", "boxes": {}}, "callers.boxes = {...}: Dictionary should have"),
        ({"port": "/dev/ttyUSB0", "boxes": {1: "1"}, "baudrate": 9601}, "callers.baudrate = 9601"),
        (
            {"port": "/dev/ttyUSB0", "boxes": {1: "1"}, "adress": 1},
            "callers.adress = 1: unknown key",
        ),
        ({"boxes": {1: "1"}}, "callers.port = (missing)"),
    ],
)
def test_hub_config_callers_problems_name_file_key_and_value(
    tmp_path: Path, callers: object, expected: str
) -> None:
    path = hub_file(tmp_path, callers)
    with pytest.raises(ConfigFileError) as raised:
        load_device_config(path)
    assert len(raised.value.problems) == 1
    assert str(raised.value.problems[0]).startswith(f"{path}: {expected}")
