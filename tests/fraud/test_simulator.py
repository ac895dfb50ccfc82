"""The pumping simulator (``bench/pumping.py``) runs the guard and reports in its contract form."""

from __future__ import annotations

import re

import redis

from bench.pumping import report
from bench.pumping_scenario import parse_scenario
from bench.pumping_sim import simulate

SMALL = {
    "hours": 3,
    "legit": {"per_hour": 600, "countries": {"US": 0.6, "GB": 0.4}, "conversion": 0.8},
    "safe_list": ["+2348031"],
    "safe_per_hour": 60,
    "attacks": [
        {"start_hour": 1, "hours": 1, "per_hour": 600, "numbers": "+88213{6}"},
        {"start_hour": 0.5, "hours": 2, "per_hour": 200, "numbers": "+2348031{6}"},
    ],
}
LINE = re.compile(r"attack=\d+ pumped_delivered=\d+ pumped_refused=\d+ time_to_block_s=(\d+|inf)")


def test_a_burst_is_blocked_and_people_and_the_safe_list_pass(
    redis_client: redis.Redis, prefix: str
) -> None:
    result = simulate(parse_scenario(SMALL), redis_client, prefix, seed=3)
    burst, safe_range = result.attacks
    assert 15 <= burst.delivered <= 50
    assert burst.refused > 400
    assert burst.time_to_block_s is not None
    assert 0 == safe_range.refused  # the safe-listed range is never refused
    assert 0 == result.safe_refused
    assert result.safe_sends > 100
    assert result.legit_sends > 1500
    assert 0 == result.legit_refused

    lines = report(result)  # the contract's lines
    assert all(LINE.fullmatch(line) for line in lines[:2]), lines
    assert re.fullmatch(r"safe_refused=\d+", lines[2])
    assert re.fullmatch(r"pumped_delivered=\d+ legit_refused_pct=\d+\.\d{3}", lines[3])
