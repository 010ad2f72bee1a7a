"""The simulated devices and the day profile."""

from __future__ import annotations

import random
from datetime import time

from simulators.devices import RatingChoice
from simulators.traffic import TrafficGenerator, arrivals_per_hour
from tests.hub.conftest import WAIT_S, Hall


def test_day_profile_has_morning_peak_lunch_dip_and_afternoon_peak() -> None:
    morning = arrivals_per_hour(time(10, 0))
    lunch = arrivals_per_hour(time(12, 30))
    late_lunch = arrivals_per_hour(time(13, 15))
    afternoon = arrivals_per_hour(time(14, 30))
    assert morning > afternoon > lunch
    assert late_lunch == lunch  # the dip lasts until 13:30
    assert arrivals_per_hour(time(13, 45)) > lunch
    assert arrivals_per_hour(time(18, 0)) == 0


def test_evaluator_levels_come_from_the_seeded_generator(hall: Hall) -> None:
    hall.start_hub()
    first = hall.evaluator(rng_seed=42, auto_answer=False)
    levels = [first.rng.choices([5, 4, 3, 2, 1], [70, 18, 7, 3, 2])[0] for _ in range(20)]
    again = random.Random(42)
    assert levels == [again.choices([5, 4, 3, 2, 1], [70, 18, 7, 3, 2])[0] for _ in range(20)]
    assert RatingChoice().answer_probability == 1.0


def test_traffic_generator_plays_a_morning(hall: Hall) -> None:
    hall.start_hub()
    hall_display = hall.hall_display()
    kiosks = [hall.kiosk("kiosk-1"), hall.kiosk("kiosk-2")]
    clerk = hall.clerk("1", "BH0101")
    generator = TrafficGenerator(kiosks, [clerk], ["A"], random.Random(3), speed=1200.0, scale=0.5)
    report = generator.run(time(9, 0), time(9, 30))
    assert report.tickets > 0 and report.calls > 0 and report.refused == 0
    last_call = hall_display.calls.wait_for(lambda c: True, WAIT_S)
    assert last_call.window == "1"
