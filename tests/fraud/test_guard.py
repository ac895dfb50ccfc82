"""
The pumping guard on a real Redis with a fake clock: what it blocks, how narrowly, what it never
blocks, and how it fails.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from otp_service.core.errors import StoreUnavailable, SuspectedFraud
from otp_service.core.events import Event, EventKind
from otp_service.core.models import Channel, Client, Policy
from otp_service.fraud import FraudGuard, FraudMode, FraudStore, number_prefixes
from otp_service.storage.embedded_redis import free_port
from tests.support import NAME_KEY, FakeClock

CLIENT = Client("acme", "0" * 64, frozenset())
MakeGuard = Callable[..., FraudGuard]


class Events:
    """An event sink that keeps what it is given."""

    def __init__(self) -> None:
        self.kept: list[Event] = []

    def record(self, event: Event) -> None:
        self.kept.append(event)

    def outcomes(self) -> list[str | None]:
        return [e.outcome for e in self.kept if e.kind is EventKind.FRAUD_GUARD]


@pytest.fixture(name="events")
def _events() -> Events:
    return Events()


@pytest.fixture(name="make_guard")
def _make_guard(
    redis_client: redis.Redis, prefix: str, clock: FakeClock, events: Events
) -> MakeGuard:
    def make(mode: FraudMode = FraudMode.BLOCK, safe: tuple[str, ...] = ()) -> FraudGuard:
        store = FraudStore(redis_client, prefix, name_key=NAME_KEY)
        return FraudGuard(store, mode, safe, events, clock)

    return make


def _numbers(pattern: str, seed: int = 7) -> Callable[[], str]:
    """Numbers of ``pattern``'s range: ``+2348031`` then random digits to 13 digits."""
    draw = random.Random(seed)
    return lambda: pattern + "".join(draw.choice("0123456789") for _ in range(14 - len(pattern)))


def _pump(guard: FraudGuard, clock: FakeClock, numbers: Callable[[], str], most: int) -> int:
    """Send to ``numbers`` every 10 s, never checked, until refused; the sends delivered."""
    for delivered in range(most):
        clock.advance(10)
        try:
            guard.admit(CLIENT, Channel.SMS, numbers())
        except SuspectedFraud:
            return delivered
    return most


def _legit(guard: FraudGuard, clock: FakeClock, to: str, conversion_every: int = 1) -> None:
    """One send that the person checks (every ``conversion_every``-th one)."""
    guard.admit(CLIENT, Channel.SMS, to)
    clock.advance(20)
    guard.record_approval(Channel.SMS, to)


class TestBlocks:
    def test_a_pumped_range_is_blocked_within_50_sends_at_its_own_prefix(
        self, make_guard: MakeGuard, clock: FakeClock, events: Events
    ) -> None:
        """Never-checked sends to one range: blocked at that range's prefix, not the country."""
        guard = make_guard()
        delivered = _pump(guard, clock, _numbers("+2348031"), 200)
        assert 15 <= delivered <= 50
        [block] = guard.blocks()
        assert ("+2348031", "NG", "block") == (block.prefix, block.country, block.mode)
        assert 12 * 3600 * 1000 == block.until_ms - block.since_ms
        assert block.figures.excess > block.figures.threshold
        assert block.figures.approvals < 1
        assert ["blocked"] == events.outcomes()
        with pytest.raises(SuspectedFraud) as refused:
            guard.admit(CLIENT, Channel.SMS, "+2348031999999")
        assert "+2348031" == refused.value.prefix
        assert block.until_ms == refused.value.until_ms

    def test_numbers_outside_the_blocked_range_still_pass(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        guard = make_guard()
        _pump(guard, clock, _numbers("+2348031"), 200)
        guard.admit(CLIENT, Channel.SMS, "+2348051234567")  # same 4 digits, another range
        guard.admit(CLIENT, Channel.SMS, "+2347031234567")

    def test_a_number_that_used_a_code_passes_a_block_of_its_range(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        """A person's number, checked before the attack, still gets codes; others do not."""
        guard = make_guard()
        _legit(guard, clock, "+2348031555555")
        _pump(guard, clock, _numbers("+2348031"), 200)
        guard.admit(CLIENT, Channel.SMS, "+2348031555555")
        with pytest.raises(SuspectedFraud):
            guard.admit(CLIENT, Channel.SMS, "+2348031555556")

    def test_a_prefix_is_judged_against_the_rest_of_its_country(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        """
        Where people check a third of their codes, a range at 27 % is normal, not pumped: the
        expected conversion comes from the rest of the country, not from a fixed prior.
        """
        guard = make_guard()
        draw = random.Random(5)
        ranges = [_numbers(f"+234{n}", seed=n) for n in range(10)]
        for _ in range(1500):
            n = draw.randrange(10)
            to = ranges[n]()
            guard.admit(CLIENT, Channel.SMS, to)
            clock.advance(10)
            if draw.random() < (0.27 if n == 0 else 0.3):
                guard.record_approval(Channel.SMS, to)
        assert [] == guard.blocks()

    def test_the_block_ends_after_its_time(self, make_guard: MakeGuard, clock: FakeClock) -> None:
        guard = make_guard()
        _pump(guard, clock, _numbers("+2348031"), 200)
        clock.advance(12 * 3600 + 1)
        assert [] == guard.blocks()
        guard.admit(CLIENT, Channel.SMS, "+2348031000000")

    def test_a_client_policy_sets_allowance_and_length(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        """A stricter allowance blocks sooner; the block lasts the policy's time."""
        guard = make_guard()
        strict = Client(
            "acme", "0" * 64, frozenset(), Policy(fraud_allowance=3, fraud_block_seconds=600)
        )
        numbers = _numbers("+2348031")
        refused: SuspectedFraud | None = None
        for delivered in range(50):  # noqa: B007 (read after the loop)
            clock.advance(10)
            try:
                guard.admit(strict, Channel.SMS, numbers())
            except SuspectedFraud as error:
                refused = error
                break
        assert refused is not None
        assert delivered <= 12
        assert clock.ms + 600_000 == refused.until_ms

    def test_a_range_whose_codes_are_used_is_never_blocked(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        """500 sends to one range, 85 % checked: no block, at any level."""
        guard = make_guard()
        numbers = _numbers("+2348031")
        draw = random.Random(3)
        for _ in range(500):
            to = numbers()
            guard.admit(CLIENT, Channel.SMS, to)
            clock.advance(7)
            if draw.random() < 0.85:
                guard.record_approval(Channel.SMS, to)
        assert [] == guard.blocks()

    def test_a_slow_drip_is_caught_by_the_day_window(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        """Four unchecked sends an hour never trip the hour window; the day's counts do."""
        guard = make_guard()
        numbers = _numbers("+2348031")
        for delivered in range(100):
            clock.advance(900)
            try:
                guard.admit(CLIENT, Channel.SMS, numbers())
            except SuspectedFraud:
                assert delivered <= 50
                assert "24h" == guard.blocks()[0].figures.window
                return
        pytest.fail("never blocked")


class TestModesAndExceptions:
    def test_monitor_mode_records_the_decision_once_and_refuses_nothing(
        self, make_guard: MakeGuard, clock: FakeClock, events: Events
    ) -> None:
        guard = make_guard(FraudMode.MONITOR)
        assert 200 == _pump(guard, clock, _numbers("+2348031"), 200)
        assert ["monitored"] == events.outcomes()
        [block] = guard.blocks()
        assert "monitor" == block.mode

    def test_switching_to_block_enforces_what_was_only_monitored(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        _pump(make_guard(FraudMode.MONITOR), clock, _numbers("+2348031"), 100)
        assert 1 >= _pump(make_guard(), clock, _numbers("+2348031", seed=8), 100)

    def test_off_counts_nothing(
        self, make_guard: MakeGuard, clock: FakeClock, redis_client: redis.Redis, prefix: str
    ) -> None:
        assert 200 == _pump(make_guard(FraudMode.OFF), clock, _numbers("+2348031"), 200)
        assert [] == list(redis_client.scan_iter(f"{prefix}:fraud:*"))

    def test_safe_listed_numbers_and_prefixes_are_never_counted_or_refused(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        guard = make_guard(safe=("+2348031", "+14155550100"))
        assert 300 == _pump(guard, clock, _numbers("+2348031"), 300)
        assert 300 == _pump(guard, clock, lambda: "+14155550100", 300)
        assert [] == guard.blocks()

    def test_safe_listed_numbers_pass_a_block_of_their_range(
        self, make_guard: MakeGuard, clock: FakeClock
    ) -> None:
        _pump(make_guard(), clock, _numbers("+2348031"), 100)
        make_guard(safe=("+2348031000000",)).admit(CLIENT, Channel.SMS, "+2348031000000")

    def test_email_is_never_guarded(self, make_guard: MakeGuard, clock: FakeClock) -> None:
        guard = make_guard()
        for n in range(200):
            guard.admit(CLIENT, Channel.EMAIL, f"user{n}@example.com")
        assert [] == guard.blocks()

    @pytest.mark.parametrize("channel", [Channel.VOICE, Channel.WHATSAPP])
    def test_voice_and_whatsapp_are_guarded_like_sms(
        self, make_guard: MakeGuard, clock: FakeClock, channel: Channel
    ) -> None:
        guard = make_guard()
        numbers = _numbers("+2348031")
        assert _pump(guard, clock, numbers, 60) <= 50
        with pytest.raises(SuspectedFraud):
            guard.admit(CLIENT, channel, numbers())


class TestAdmin:
    def test_unblock_ends_the_block_and_is_recorded(
        self, make_guard: MakeGuard, clock: FakeClock, events: Events
    ) -> None:
        guard = make_guard()
        _pump(guard, clock, _numbers("+2348031"), 100)
        ended = guard.unblock(CLIENT, "+2348031")
        assert ended is not None
        assert "+2348031" == ended.prefix
        assert ["blocked", "unblocked"] == events.outcomes()
        assert [] == guard.blocks()
        guard.admit(CLIENT, Channel.SMS, "+2348031000000")
        assert guard.unblock(CLIENT, "+2348031") is None

    @pytest.mark.parametrize("level", ["XX", "+", "+abc", "hello", "+0123"])
    def test_unblock_of_something_that_is_no_prefix_is_none(
        self, make_guard: MakeGuard, level: str
    ) -> None:
        assert make_guard().unblock(CLIENT, level) is None


class TestFailure:
    def test_a_send_fails_closed_when_redis_is_down(self, clock: FakeClock) -> None:
        down = redis.Redis(port=free_port(), decode_responses=True, retry=Retry(NoBackoff(), 0))
        guard = FraudGuard(
            FraudStore(down, "t", name_key=NAME_KEY), FraudMode.BLOCK, (), Events(), clock
        )
        with pytest.raises(StoreUnavailable):
            guard.admit(CLIENT, Channel.SMS, "+2348031000000")
        guard.record_approval(Channel.SMS, "+2348031000000")  # logged, not raised


class TestPrefixes:
    @pytest.mark.parametrize(
        ("to", "levels"),
        [
            ("+14155550100", ("US", "+1415", "+14155", "+141555", "+1415555")),
            ("+447700900123", ("GB", "+4477", "+44770", "+447700", "+4477009")),
            ("+882131234567", ("+882", "+8821", "+88213", "+882131", "+8821312")),
            ("+2348031234567", ("NG", "+2348", "+23480", "+234803", "+2348031")),
        ],
    )
    def test_levels_go_from_the_country_to_seven_digits(
        self, to: str, levels: tuple[str, ...]
    ) -> None:
        number = number_prefixes(to)
        assert number is not None
        assert levels == number.levels

    @pytest.mark.parametrize("to", ["alice@example.com", "+", "+1", "14155550100"])
    def test_what_is_no_phone_number_has_no_prefixes(self, to: str) -> None:
        assert number_prefixes(to) is None
