"""Screen logic of the evaluator without a window: levels, reasons, dimensions, expiry."""

from __future__ import annotations

from datetime import timedelta

from evaluator.pending import PendingRatings
from evaluator.service import EvaluatorService
from evaluator.testing import evaluator_ref, hub_ref, rate_now_command, window_state
from evaluator.viewmodel import Decision, Screen
from hallbus.bus import RecordingBus
from hallbus.messages import ConfigPush, SubmitRating
from hallbus.topics import Command, RequestKind
from tests.evaluator.conftest import FakeClock, make_view_model


def stored(store: PendingRatings) -> list[SubmitRating]:
    return [item.rating for item in store.all()]


def test_idle_shows_clerk_window_state_and_stars(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    assert views.last.screen is Screen.IDLE
    assert not views.last.has_clerk
    view_model.apply_window_state(window_state("3", seq=5))
    view = views.last
    assert (view.clerk_name, view.clerk_no, view.department) == (
        "王芳",
        "工号 0107",
        "市场监督管理局",
    )
    assert "4.8" in view.stars and view.window_state == "正在办理"
    # a retained copy with an older seq (redelivered after a reconnect) is ignored
    assert not view_model.apply_window_state(window_state("3", seq=4, state="closed"))
    assert views.last.window_state == "正在办理"
    paused = window_state(
        "3",
        seq=6,
        state="paused",
        pause_reason="会议",
        expected_back=clock.now + timedelta(minutes=30),
    )
    view_model.apply_window_state(paused)
    assert views.last.window_state == "暂停服务 · 会议 · 预计 10:00 恢复"


def test_good_rating_without_dimensions_is_stored_once(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, views = make_view_model(store, clock)
    command = rate_now_command("3", now=clock.now, ticket="A012")
    assert view_model.rate_now(command) is Decision.ACCEPTED
    view = views.last
    assert view.screen is Screen.ASK_LEVEL and view.lamp_on
    assert view.ask_title == "请您对本次服务进行评价"
    assert [c.label for c in view.levels] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]
    assert view.seconds_left == "剩余 30 秒"
    assert view_model.choose_level(5)
    assert views.last.screen is Screen.THANKS and not views.last.lamp_on
    assert not view_model.choose_level(4)  # a second touch after the rating is ignored
    (rating,) = stored(store)
    assert (rating.level, rating.ticket_number, rating.window) == (5, "A012", "3")
    assert rating.request_id == command.request_id and rating.reasons == []
    assert rating.rated_at == clock.now
    # the same rate_now delivered again (QoS 1 redelivery / replay) opens nothing
    assert view_model.rate_now(command) is Decision.ALREADY_ANSWERED
    clock.advance(5)
    view_model.tick()
    assert views.last.screen is Screen.IDLE
    assert len(stored(store)) == 1


def test_bad_rating_needs_a_reason_then_asks_dimensions(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, views = make_view_model(store, clock, dimensions=("服务态度", "办事效率"))
    view_model.rate_now(rate_now_command("3", now=clock.now))
    view_model.choose_level(2)
    assert views.last.screen is Screen.BAD_REASONS
    assert not views.last.can_submit_reasons and views.last.submit_hint == "请至少选择一项原因"
    assert not view_model.submit_reasons()
    view_model.toggle_reason("办事效率低")
    view_model.toggle_reason("多次跑动")
    view_model.toggle_reason("多次跑动")  # toggled off again
    view_model.toggle_reason("not in the list")  # ignored
    view_model.set_note("材料清单与窗口要求不一致")
    assert [c.value for c in views.last.reasons if c.selected] == ["办事效率低"]
    assert view_model.submit_reasons()
    assert views.last.screen is Screen.DIMENSIONS
    assert (views.last.dimension_name, views.last.dimension_progress) == (
        "服务态度",
        "第 1 项，共 2 项",
    )
    view_model.score_dimension(4)
    assert views.last.dimension_name == "办事效率"
    assert stored(store) == []  # nothing is sent until the flow ends
    view_model.score_dimension(2)
    assert views.last.screen is Screen.THANKS
    assert "回访" in views.last.result_body
    (rating,) = stored(store)
    assert rating.level == 2 and rating.reasons == ["办事效率低"]
    assert rating.note == "材料清单与窗口要求不一致"
    assert rating.dimensions == {"服务态度": 4, "办事效率": 2}


def test_back_from_reasons_allows_a_new_level(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    view_model.rate_now(rate_now_command("3", now=clock.now))
    view_model.choose_level(1)
    view_model.toggle_reason("服务态度差")
    view_model.back_to_levels()
    assert views.last.screen is Screen.ASK_LEVEL
    view_model.choose_level(3)
    (rating,) = stored(store)
    assert rating.level == 3 and rating.reasons == [] and rating.note is None


def test_expiry_records_nothing_ever(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    command = rate_now_command("3", now=clock.now, expires_in_s=120)
    view_model.rate_now(command)
    clock.advance(29.5)
    view_model.tick()
    assert views.last.screen is Screen.ASK_LEVEL and views.last.seconds_left == "剩余 1 秒"
    clock.advance(0.5)  # timeout_s (30) is sooner than expires_at (120)
    view_model.tick()
    assert views.last.screen is Screen.EXPIRED
    assert views.last.result_title == "本次评价已超时"
    assert not view_model.choose_level(5)  # a late touch does not rate
    assert view_model.rate_now(command) is Decision.ALREADY_ANSWERED  # nor does a replay
    clock.advance(10)
    view_model.tick()
    assert views.last.screen is Screen.IDLE
    assert store.all() == []


def test_bad_rating_left_without_reasons_expires_unrecorded(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, views = make_view_model(store, clock)
    view_model.rate_now(rate_now_command("3", now=clock.now))
    view_model.choose_level(1)
    view_model.toggle_reason("服务态度差")  # chosen but never submitted
    clock.advance(31)
    view_model.tick()
    assert views.last.screen is Screen.EXPIRED
    assert store.all() == []


def test_walking_away_during_dimensions_keeps_the_given_rating(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, views = make_view_model(store, clock, dimensions=("服务态度", "办事效率"))
    view_model.rate_now(rate_now_command("3", now=clock.now))
    view_model.choose_level(4)
    clock.advance(20)
    view_model.score_dimension(5)  # each answer gives the person the full time again
    clock.advance(25)
    view_model.tick()
    assert views.last.screen is Screen.DIMENSIONS
    clock.advance(6)
    view_model.tick()
    assert views.last.screen is Screen.THANKS
    (rating,) = stored(store)
    assert rating.level == 4 and rating.dimensions == {"服务态度": 5}


def test_commands_that_must_not_open_a_rating(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    assert view_model.rate_now(rate_now_command("4", now=clock.now)) is Decision.FOREIGN_WINDOW
    stale = rate_now_command("3", now=clock.now - timedelta(minutes=5), expires_in_s=60)
    assert view_model.rate_now(stale) is Decision.ALREADY_EXPIRED
    nothing = rate_now_command("3", now=clock.now).model_copy(update={"ticket_number": None})
    assert view_model.rate_now(nothing) is Decision.NOTHING_TO_RATE
    assert views.last.screen is Screen.IDLE
    command = rate_now_command("3", now=clock.now)
    assert view_model.rate_now(command) is Decision.ACCEPTED
    assert view_model.rate_now(command) is Decision.ALREADY_ACTIVE
    assert store.all() == []


def test_answered_request_is_remembered_across_restarts(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, _ = make_view_model(store, clock)
    command = rate_now_command("3", now=clock.now)
    view_model.rate_now(command)
    view_model.choose_level(5)
    restarted, _ = make_view_model(store, clock)  # same store file, fresh memory
    assert restarted.rate_now(command) is Decision.ALREADY_ANSWERED


def test_newer_request_supersedes_an_unanswered_one(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, views = make_view_model(store, clock)
    first = rate_now_command("3", now=clock.now, ticket="A001")
    second = rate_now_command("3", now=clock.now, ticket="A002")
    view_model.rate_now(first)
    view_model.rate_now(second)
    assert views.last.service_text.startswith("A002")
    view_model.choose_level(5)
    assert view_model.rate_now(first) is Decision.ALREADY_ANSWERED
    (rating,) = stored(store)
    assert rating.ticket_number == "A002" and rating.request_id == second.request_id


def test_offline_screen_and_banner(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    view_model.set_connection(connected=False, hub_online=True)
    assert views.last.screen is Screen.OFFLINE
    view_model.set_pending_count(2)
    assert "待上传评价 2 条" in views.last.banner
    view_model.set_connection(connected=True, hub_online=False)  # broker up, hub down
    assert views.last.screen is Screen.OFFLINE
    view_model.set_connection(connected=True, hub_online=True)
    assert views.last.screen is Screen.IDLE


def test_english_toggle(store: PendingRatings, clock: FakeClock) -> None:
    view_model, views = make_view_model(store, clock)
    view_model.toggle_language()
    view_model.rate_now(rate_now_command("3", now=clock.now))
    assert views.last.ask_title == "Please rate this service"
    assert views.last.levels[0].label == "Very satisfied"
    assert views.last.language_toggle == "中文"


def test_config_push_sets_timeout_dimensions_and_reasons(
    store: PendingRatings, clock: FakeClock
) -> None:
    view_model, _views = make_view_model(store, clock)
    push = ConfigPush(
        seq=3,
        hall_name="滨海新区政务服务中心",
        settings={
            "timeout_s": 45,
            "dimensions": "服务态度|办事效率",
            "bad_reasons": "服务态度差\n办事效率低",
            "unknown_knob": 1,
        },
    )
    view_model.apply_config(push)
    assert view_model.settings.timeout_s == 45
    assert view_model.settings.dimensions == ("服务态度", "办事效率")
    assert view_model.settings.bad_reasons == ("服务态度差", "办事效率低")
    assert not view_model.apply_config(push.model_copy(update={"seq": 2}))


def test_service_routes_bus_messages(store: PendingRatings, clock: FakeClock) -> None:
    """Through RecordingBus: bad payloads are dropped; good ones reach the view-model."""
    view_model, views = make_view_model(store, clock)
    bus = RecordingBus()
    device = evaluator_ref("evaluator-3", "bh")
    service = EvaluatorService(device, view_model, bus, hub_ref("bh").device_id)
    service.attach()
    service.set_connected(True)
    bus.inject(hub_ref("bh").status_topic(), b"online")
    bus.inject(device.command_topic(Command.RATE_NOW), b'{"v": 1, "request_id": "nope"}')
    bus.inject(device.command_topic(Command.RATE_NOW), b"\xff not json")
    assert views.last.screen is Screen.IDLE
    bus.inject(device.state_topic(), window_state("3"), retain=True)
    bus.inject(device.command_topic(Command.RATE_NOW), rate_now_command("3", now=clock.now))
    assert views.last.screen is Screen.ASK_LEVEL and views.last.clerk_name == "王芳"
    bus.inject(hub_ref("bh").status_topic(), b"offline")
    assert views.last.banner.startswith("网络中断")
    # the view-model never publishes by itself: delivery is the pending store's job
    view_model.choose_level(5)
    assert bus.on_topic(device.request_topic(RequestKind.SUBMIT_RATING)) == []
    assert len(store.all()) == 1
