"""The real evaluator app in an offscreen window, fed real MQTT by a fake hub.

One test, in phases, because Kivy runs one window per process:
1. idle screen shows the clerk from the retained window state;
2. a `rate_now` is answered by touching the buttons; exactly one submit arrives;
3. the broker goes away mid-rating: the rating waits on disk and arrives once
   after the broker is back (one submit per rating_id across the reconnect);
4. a replayed / foreign / expiring `rate_now` never produces a submit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import deviceui.bootstrap  # noqa: F401  (before kivy)
from deviceui.screens import save_screenshot
from evaluator.runtime import EvaluatorRuntime, RuntimeOptions
from evaluator.testing import (
    FakeHub,
    PrivateBroker,
    evaluator_ref,
    hub_ref,
    pump_frames,
    pump_until,
    rate_now_command,
    window_state,
)
from hallbus.client import ClientState
from hallbus.config import EvaluatorConfig
from hallbus.messages import ConfigPush

EVALUATOR = evaluator_ref("evaluator-t1", "th")
HUB = hub_ref("th")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    private = PrivateBroker(tmp_path / "broker", [EVALUATOR, HUB])
    private.start()
    yield private
    private.stop()


@pytest.fixture
def hub(broker: PrivateBroker) -> Iterator[FakeHub]:
    fake = FakeHub(HUB, broker.settings_for(HUB)).start()
    yield fake
    fake.stop()


def read_png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_real_app_rates_over_mqtt_once_even_across_a_broker_restart(
    tmp_path: Path, broker: PrivateBroker, hub: FakeHub
) -> None:
    from kivy.core.image import Image as CoreImage
    from kivy.uix.button import Button

    from evaluator.app import EvaluatorApp

    hub.publish_state(EVALUATOR, window_state("3", seq=1))
    hub.publish_config(
        EVALUATOR,
        ConfigPush(
            seq=1,
            hall_name="测试大厅",
            settings={"dimensions": "服务态度|办事效率", "bad_reasons": "服务态度差|多次跑动"},
        ),
    )
    config = EvaluatorConfig.model_validate(
        {
            "device_id": EVALUATOR.device_id,
            "hall_id": EVALUATOR.hall_id,
            "type": "evaluator",
            "window": "3",
            "timeout_s": 30,
        }
    )
    runtime = EvaluatorRuntime(
        config,
        broker.settings_for(EVALUATOR),
        RuntimeOptions(
            pending_path=tmp_path / "pending.db",
            hub_id=HUB.device_id,
            request_timeout_s=2.0,
            result_seconds=1.0,
        ),
    )
    app = EvaluatorApp(runtime)
    app._run_prepare()
    try:
        assert app.screens is not None
        idle = app.screens.get_screen("idle")
        # 1. idle: the clerk and window state, as drawn
        assert pump_until(lambda: idle.ids.clerk_name.text == "王芳")
        assert pump_until(lambda: app.screens.current == "idle")  # connected, hub online
        assert idle.ids.clerk_no.text == "工号 0107"
        assert idle.ids.window_state.text == "正在办理"

        # 2. rate now → touch 满意 → score one dimension → skip the rest
        first = rate_now_command("3", ticket="A012")
        hub.rate_now(EVALUATOR, first)
        assert pump_until(lambda: app.screens.current == "ask_level")
        ask = app.screens.get_screen("ask_level")
        assert ask.ids.ask_title.text == "请您对本次服务进行评价"
        assert ask.ids.service_text.text == "A012号 · 企业设立登记"
        pump_frames(3)
        shot = save_screenshot(tmp_path / "ask.png")
        assert read_png_size(shot) == (1280, 800)
        pixel = CoreImage.load(str(shot), keep_data=True).read_pixel(10, 10)
        assert pixel[2] > 0.5 > pixel[0]  # the blue top bar was really drawn
        buttons = {b.level: b for b in ask.ids.levels.children}
        assert "满意" in buttons[4].text
        buttons[4].trigger_action(0)
        assert pump_until(lambda: app.screens.current == "dimensions")
        dims = app.screens.get_screen("dimensions")
        assert dims.ids.dimension_name.text == "服务态度"
        score_buttons = {b.level: b for b in dims.ids.scores.children}
        score_buttons[1].trigger_action(0)
        assert pump_until(lambda: dims.ids.dimension_name.text == "办事效率")
        dims.ids.skip.trigger_action(0)
        assert pump_until(lambda: app.screens.current == "thanks")
        (submitted,) = hub.wait_for_submits(1)
        assert submitted.level == 4 and submitted.request_id == first.request_id
        assert submitted.dimensions == {"服务态度": 1}
        assert pump_until(lambda: runtime.store.pending_count() == 0)

        # 3. broker gone while the person rates 非常不满意 with a reason
        second = rate_now_command("3", ticket="A013")
        hub.rate_now(EVALUATOR, second)
        assert pump_until(lambda: app.screens.current == "ask_level")
        broker.stop()
        assert pump_until(lambda: runtime.client.state is not ClientState.CONNECTED)
        assert pump_until(lambda: ask.ids.service_text.text.startswith("A013"))
        {b.level: b for b in ask.ids.levels.children}[1].trigger_action(0)
        assert pump_until(lambda: app.screens.current == "bad_reasons")
        reasons = app.screens.get_screen("bad_reasons")
        toggles = {t.reason: t for t in reasons.reasons_grid.children}
        assert set(toggles) == {"服务态度差", "多次跑动"}
        assert reasons.ids.submit.disabled
        toggles["多次跑动"].trigger_action(0)
        assert pump_until(lambda: not reasons.ids.submit.disabled)
        reasons.ids.submit.trigger_action(0)
        assert pump_until(lambda: app.screens.current == "dimensions")
        dims.ids.skip.trigger_action(0)
        assert pump_until(lambda: app.screens.current == "thanks")
        assert runtime.store.pending_count() == 1
        assert "网络中断" in app.view.banner
        broker.start()  # same port: both clients reconnect
        assert pump_until(lambda: runtime.store.pending_count() == 0, timeout=20)
        submits = hub.wait_for_submits(2)
        counts = Counter(body.rating_id for body in submits)
        assert len(counts) == 2 and set(counts.values()) == {1}, counts
        assert submits[1].level == 1 and submits[1].reasons == ["多次跑动"]
        assert set(hub.stored) == set(counts)

        # 4. replayed, foreign and expiring requests never produce a rating
        assert pump_until(lambda: app.screens.current == "idle")
        hub.rate_now(EVALUATOR, first)  # replay of an answered request
        hub.rate_now(EVALUATOR, rate_now_command("4"))  # another window's service
        hub.publish_state(EVALUATOR, window_state("3", seq=2, state="resting"))  # marker
        assert pump_until(lambda: idle.ids.window_state.text == "休息中")
        assert app.screens.current == "idle"
        hub.rate_now(EVALUATOR, rate_now_command("3", ticket="A014", expires_in_s=1.0))
        assert pump_until(lambda: app.screens.current == "ask_level")
        assert pump_until(lambda: app.screens.current == "expired", timeout=5)
        assert app.screens.get_screen("expired").ids.result_title.text == "本次评价已超时"
        assert isinstance(buttons[5], Button)
        buttons[5].trigger_action(0)  # a late touch on the (hidden) level screen
        pump_frames(3)
        assert len(runtime.store.all()) == 2
        assert len(hub.submits) == 2
    finally:
        app._stop()
