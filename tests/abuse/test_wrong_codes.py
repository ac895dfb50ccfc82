"""
A wrong code counted in one script (``wrong_code.lua``) against the call-by-call path a Cluster
takes (the ``limits`` library's hit and window stats): the same locks at the same moments.
"""

from __future__ import annotations

import random
import time

import pytest
import redis

from otp_service.abuse import (
    AbuseGuard,
    DestinationLockouts,
    limits_key_prefix,
    limits_storage,
)
from otp_service.core.models import Client, Policy, Scope
from tests.support import NAME_KEY, PHONE

POLICY = Policy(destination_failures="3/10second;5/minute")


def _guard(redis_client: redis.Redis, redis_url: str, prefix: str, scripted: bool) -> AbuseGuard:
    lockouts = DestinationLockouts(redis_client, prefix, name_key=NAME_KEY)
    lockouts.scripted = scripted
    return AbuseGuard(
        lambda: limits_storage(redis_url, prefix, 1.0),
        lockouts=lockouts,
        lockout_schedule=(20, 60, 300),
        max_consecutive_failures=9,
        name_key=NAME_KEY,
        key_prefix=limits_key_prefix(prefix),
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_one_script_locks_where_the_library_calls_do(
    seed: int,
    redis_client: redis.Redis,
    redis_url: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Wrong codes at random times: each path locks, escalates and reports alike."""
    scripted = _guard(redis_client, redis_url, prefix, scripted=True)
    called = _guard(redis_client, redis_url, prefix, scripted=False)
    one, other = (Client(name, "0" * 64, frozenset(Scope), POLICY) for name in ("one", "other"))
    rng = random.Random(seed)
    now = 1_800_000_000.0
    locks = 0
    for step in range(120):
        now += rng.choice((0.5, 1.0, 2.5, 6.0, 11.0, 25.0))
        monkeypatch.setattr(time, "time", lambda at=now: at)
        if step % 37 == 36:  # a right code ends the run now and then
            scripted.record_success(one, PHONE)
            called.record_success(other, PHONE)
        locked = scripted.record_failure(one, PHONE)
        assert locked == called.record_failure(other, PHONE), step
        locks += locked
        mine, theirs = scripted.destination_lock(one, PHONE), called.destination_lock(other, PHONE)
        assert mine == theirs, step
    assert locks >= 3  # the windows filled, and the escalation was exercised
