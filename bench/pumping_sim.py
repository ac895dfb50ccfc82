"""
The pumping simulator's run: a scenario's sends and approvals, in time order on a simulated
clock, through the real ``FraudGuard`` on a real Redis; what was delivered and refused.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import redis

from bench.pumping_numbers import CountryNumbers, pattern_numbers, safe_numbers
from bench.pumping_scenario import Scenario
from otp_service.core.errors import SuspectedFraud
from otp_service.core.events import Event
from otp_service.core.models import Channel, Client, Policy
from otp_service.fraud import FraudGuard, FraudMode, FraudStore

START_MS: Final = 1_800_000_000_000
HOUR_S: Final = 3600.0
#: When a person types the code after it was sent: lognormal, median 25 s (p95 about 3 min),
#: never after the code's 10 minutes.
CHECK_MEDIAN_S: Final = 25.0
CHECK_SIGMA: Final = 0.9
CODE_LIFETIME_S: Final = 590.0
LEGIT: Final = -1
SAFE: Final = -2


class SimulatedClock:
    """The guard's clock: moved by the simulation, never by the wall."""

    def __init__(self) -> None:
        self.ms = START_MS

    def now_ms(self) -> int:
        """The simulated time."""
        return self.ms


class _Ignore:
    """The guard's event sink: decisions are read from the guard, not its events."""

    def record(self, event: Event) -> None:
        """Drop ``event``."""


@dataclass
class AttackResult:
    """One attack's figures: sends delivered and refused, and when it was first refused."""

    delivered: int = 0
    refused: int = 0
    first_send_s: float | None = None
    first_refusal_s: float | None = None

    @property
    def time_to_block_s(self) -> float | None:
        """Seconds from the attack's first send to its first refusal (None: never refused)."""
        if self.first_send_s is None or self.first_refusal_s is None:
            return None
        return self.first_refusal_s - self.first_send_s


@dataclass
class Result:
    """A run's figures."""

    attacks: list[AttackResult]
    legit_sends: int = 0
    legit_refused: int = 0
    safe_sends: int = 0
    safe_refused: int = 0
    blocks: list[str] = field(default_factory=list)

    @property
    def legit_refused_pct(self) -> float:
        """Legitimate sends refused, in percent."""
        return 100.0 * self.legit_refused / max(self.legit_sends, 1)


def _rate(scenario: Scenario, t: float) -> float:
    """Legitimate sends per second at ``t``: with ``diurnal``, 0.3x at 03:00 to 1.7x at 15:00."""
    base = scenario.legit.per_hour / HOUR_S
    if not scenario.legit.diurnal:
        return base
    return base * (1 - 0.7 * math.cos(2 * math.pi * (t / 86_400.0 - 3 / 24)))


def _poisson(
    draw: random.Random,
    start: float,
    end: float,
    peak: float,
    rate: Callable[[float], float] | None = None,
) -> list[float]:
    """Times of a Poisson process in [start, end): ``peak`` per second, thinned by ``rate``."""
    times: list[float] = []
    t = start
    while peak > 0:
        t += draw.expovariate(peak)
        if t >= end:
            return times
        if rate is None or draw.random() * peak < rate(t):
            times.append(t)
    return times


def _sends(scenario: Scenario, draw: random.Random) -> list[tuple[float, int, str, float]]:
    """Every send (time, source, number, conversion): LEGIT, SAFE or the attack's index."""
    end = scenario.hours * HOUR_S
    legit = scenario.legit
    countries = {code: CountryNumbers(code, draw) for code in legit.countries}
    codes, weights = list(legit.countries), list(legit.countries.values())
    peak = legit.per_hour / HOUR_S * (1.7 if legit.diurnal else 1.0)
    sends = [
        (t, LEGIT, countries[draw.choices(codes, weights)[0]].number(), legit.conversion)
        for t in _poisson(draw, 0.0, end, peak, lambda t: _rate(scenario, t))
    ]
    for index, attack in enumerate(scenario.attacks):
        number = pattern_numbers(attack.patterns, draw)
        begin = attack.start_hour * HOUR_S
        stop = min(begin + attack.hours * HOUR_S, end)
        sends += [
            (t, index, number(), attack.conversion)
            for t in _poisson(draw, begin, stop, attack.per_hour / HOUR_S)
        ]
    if scenario.safe_per_hour:
        number = safe_numbers(scenario.safe_list, draw)
        per_s = scenario.safe_per_hour / HOUR_S
        sends += [(t, SAFE, number(), 0.0) for t in _poisson(draw, 0, end, per_s)]
    return sends


def simulate(scenario: Scenario, client: redis.Redis, key_prefix: str, seed: int) -> Result:
    """Run ``scenario`` through the guard on ``client``'s Redis, under ``key_prefix``."""
    draw = random.Random(seed)
    clock = SimulatedClock()
    mode = FraudMode(scenario.mode)
    store = FraudStore(client, key_prefix, name_key=b"pumping-simulator")
    guard = FraudGuard(store, mode, scenario.safe_list, _Ignore(), clock)
    overrides = scenario.policy.model_dump(exclude_none=True)
    policy = Policy(**overrides)
    most_clients = max([attack.clients for attack in scenario.attacks] or [1])
    clients = [Client(f"client-{n}", "0" * 64, frozenset(), policy) for n in range(most_clients)]
    result = Result([AttackResult() for _ in scenario.attacks])
    # (time, order, kind, number, source, conversion): kind 0 a send, 1 an approval
    queue = [
        (t, n, 0, to, source, conversion)
        for n, (t, source, to, conversion) in enumerate(_sends(scenario, draw))
    ]
    heapq.heapify(queue)
    order = len(queue)
    while queue:
        t, _, kind, to, source, conversion = heapq.heappop(queue)
        clock.ms = START_MS + int(t * 1000)
        if kind == 1:
            guard.record_approval(Channel.SMS, to)
            continue
        attack = scenario.attacks[source] if source >= 0 else None
        sender = clients[draw.randrange(attack.clients)] if attack else clients[0]
        try:
            guard.admit(sender, Channel.SMS, to)
            delivered = True
        except SuspectedFraud:
            delivered = False
        _count(result, source, t, delivered)
        if delivered and draw.random() < conversion:
            delay = min(draw.lognormvariate(math.log(CHECK_MEDIAN_S), CHECK_SIGMA), CODE_LIFETIME_S)
            order += 1
            heapq.heappush(queue, (t + delay, order, 1, to, source, conversion))
    result.blocks = [f"{block.prefix}({block.figures.window})" for block in guard.blocks()]
    return result


def _count(result: Result, source: int, t: float, delivered: bool) -> None:
    if source == LEGIT:
        result.legit_sends += 1
        result.legit_refused += not delivered
    elif source == SAFE:
        result.safe_sends += 1
        result.safe_refused += not delivered
    else:
        attack = result.attacks[source]
        if attack.first_send_s is None:
            attack.first_send_s = t
        if delivered:
            attack.delivered += 1
        else:
            attack.refused += 1
            if attack.first_refusal_s is None:
                attack.first_refusal_s = t
