"""
A new start's limits in one script (``admission.lua``): the ``limits`` library's moving windows,
kept exactly as the library keeps them, and a refused start that counts nothing.
"""

from __future__ import annotations

import dataclasses
import random
import time

import pytest
import redis
from limits.strategies import MovingWindowRateLimiter

from otp_service import create_app
from otp_service.abuse import admission_lua, limits_key_prefix, limits_storage, parse_limits
from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Policy, destination_digest
from tests.conftest import make_clients
from tests.support import NAME_KEY, Api, CapturingSender, FakeClock

#: ``admission`` run alone on one window (no lockout, a run of wrong codes never locking).
_ONE_WINDOW = admission_lua() + "return admission(KEYS, ARGV, ARGV[9] == 'count', false)"


class TestMovingWindow:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_it_decides_and_keeps_hits_as_the_library_does(
        self,
        seed: int,
        redis_client: redis.Redis,
        redis_url: str,
        prefix: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The same hits at the same times: the same answers and the same lists, 3 per 10 s."""
        storage = limits_storage(redis_url, prefix, 1.0)
        library = MovingWindowRateLimiter(storage)
        (item,) = parse_limits("3/10second")
        script = redis_client.register_script(_ONE_WINDOW)
        key_prefix = limits_key_prefix(prefix)
        ours, theirs = f"{key_prefix}:{item.key_for('ours')}", item.key_for("theirs")
        rng = random.Random(seed)
        now = 1_800_000_000.0
        answers: list[tuple[bool, bool]] = []
        for _ in range(200):
            now += rng.choice((0.0, 0.4, 1.7, 3.3, 9.99, 10.0, 12.5))
            monkeypatch.setattr(time, "time", lambda at=now: at)
            args: list[str | int] = [repr(now), "", 100, 86_400, 0, "ours"]
            args += [item.amount, item.get_expiry()]
            reply = script(keys=["no-lock", "no-run", ours], args=[*args, "count"])
            answers.append((reply[0] == "ok", library.hit(item, "theirs")))
            assert redis_client.lrange(ours, 0, -1) == redis_client.lrange(
                f"{key_prefix}:{theirs}", 0, -1
            )
            assert library.get_window_stats(item, "ours") == library.get_window_stats(
                item, "theirs"
            )
        assert all(mine == library_answer for mine, library_answer in answers)
        assert {True, False} == {mine for mine, _ in answers}  # both answers were exercised

    def test_a_refusal_says_when_the_window_frees_a_hit(self, redis_client: redis.Redis) -> None:
        """The reset time is the oldest hit in the full window plus its length, as the library's."""
        script = redis_client.register_script(_ONE_WINDOW)
        args: list[str | int] = ["", 100, 86_400, 0, "w", 2, 60]
        for at in (100.0, 130.0):
            assert ["ok", 0] == script(keys=["l", "r", "win"], args=[repr(at), *args, "count"])
        refused = script(keys=["l", "r", "win"], args=["150.0", *args, "count"])
        assert ["limited", "w", "160"] == refused
        assert ["ok", 0] == script(keys=["l", "r", "win"], args=["160.5", *args, "test"])


def _policy_app(settings: Settings, policy: Policy, sender: CapturingSender) -> Api:
    limited = dataclasses.replace(settings, api_keys=make_clients(policy))
    app = create_app(limited, clock=FakeClock(), senders={Channel.SMS: sender})
    return Api(app.test_client(), sender)


class TestRefusedStarts:
    def test_a_start_refused_by_a_later_limit_counts_none_of_the_earlier_ones(
        self, settings: Settings, redis_url: str, prefix: str
    ) -> None:
        """
        The country's SMS cap refuses the second number: the client's starts and the second
        number's sends are not counted (each limit used to be counted as it was passed).
        """
        settings = dataclasses.replace(settings, sms_country_limits=(("US", "1/hour"),))
        api = _policy_app(settings, Policy(client_starts="2/hour"), CapturingSender())
        assert 201 == api.start("+14155550101").status_code
        refused = api.start("+14155550102")
        assert (429, "sms_country_sends") == (refused.status_code, refused.get_json()["limit"])
        library = MovingWindowRateLimiter(limits_storage(redis_url, prefix, 1.0))
        (client_starts,) = parse_limits("2/hour")
        assert 1 == library.get_window_stats(client_starts, "client_starts", "acme").remaining
        assert 201 == api.start("+447911123456").status_code  # the start refused used none

    def test_a_resend_refused_by_a_later_limit_counts_none_of_the_earlier_ones(
        self, settings: Settings, redis_url: str, prefix: str
    ) -> None:
        """A resend that the country's cap refuses leaves the client's starts as they were."""
        settings = dataclasses.replace(settings, sms_country_limits=(("US", "2/hour"),))
        clock = FakeClock()
        sender = CapturingSender()
        limited = dataclasses.replace(
            settings, api_keys=make_clients(Policy(client_starts="9/hour"))
        )
        app = create_app(limited, clock=clock, senders={Channel.SMS: sender})
        api = Api(app.test_client(), sender)
        api.started("+14155550105")
        api.started("+14155550106")
        clock.advance(31)  # past the resend cooldown
        refused = api.start("+14155550105")
        assert (429, "sms_country_sends") == (refused.status_code, refused.get_json()["limit"])
        library = MovingWindowRateLimiter(limits_storage(redis_url, prefix, 1.0))
        (client_starts,) = parse_limits("9/hour")
        assert 7 == library.get_window_stats(client_starts, "client_starts", "acme").remaining
        assert 2 == len(sender.sent)

    def test_a_locked_destination_is_refused_before_any_hash_or_count(
        self, settings: Settings, redis_client: redis.Redis, prefix: str
    ) -> None:
        """A destination's lockout refuses a new start: nothing sent, the client's starts free."""
        sender = CapturingSender()
        api = _policy_app(settings, Policy(client_starts="1/hour"), sender)
        to = "+14155550103"
        lock = f"{prefix}:lock:{{acme:{destination_digest(to, NAME_KEY)}}}"
        redis_client.hset(lock, mapping={"locked_until_ms": 10**14, "level": 1})
        refused = api.start(to)
        assert (429, "destination_failures") == (refused.status_code, refused.get_json()["limit"])
        assert [] == redis_client.keys(f"{limits_key_prefix(prefix)}:*")
        assert [] == redis_client.keys(f"{prefix}:vf:*")
        assert [] == sender.sent


def test_a_start_the_pumping_guard_refuses_counts_no_limit(
    settings: Settings, redis_client: redis.Redis, redis_url: str, prefix: str
) -> None:
    """A blocked prefix refuses the start (403) and leaves the client's starts untouched."""
    settings = dataclasses.replace(settings, fraud_guard="block")
    sender = CapturingSender()
    api = _policy_app(settings, Policy(client_starts="2/hour"), sender)
    block = f"{prefix}:fraud:{{+1}}:b:+1415"
    redis_client.hset(block, mapping={"until": 10**14, "mode": "block"})
    refused = api.start("+14155550104")
    assert (403, "/problems/suspected-fraud") == (
        refused.status_code,
        refused.get_json()["type"],
    )
    library = MovingWindowRateLimiter(limits_storage(redis_url, prefix, 1.0))
    (client_starts,) = parse_limits("2/hour")
    assert 2 == library.get_window_stats(client_starts, "client_starts", "acme").remaining
    assert [] == sender.sent
