"""
A destination's lockout, as an admin reads and clears it: the wrong codes in its failure windows
(``OTP_LIMIT_DESTINATION_FAILURES``) and its run of consecutive failures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from limits import RateLimitItem
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True, slots=True)
class DestinationLock:
    """Wrong codes for one destination of one client, and until when it is locked (0: not)."""

    failures_in_window: int
    consecutive_failures: int
    locked_until_ms: int


#: How long a destination's run of wrong codes is kept after the last one.
CONSECUTIVE_FAILURES_TTL_SECONDS: Final = 86_400


def consecutive_key(client: str, digest: str) -> str:
    """The ``limits`` storage key of a destination's run of consecutive failures."""
    return f"consecutive_failures/{client}/{digest}"


def read_lock(
    limiter: MovingWindowRateLimiter,
    storage: Storage,
    windows: Sequence[RateLimitItem],
    max_consecutive: int,
    client: str,
    digest: str,
) -> DestinationLock:
    """What the failure ``windows`` and the consecutive count say now."""
    failures, locked_until = 0, 0.0
    for item in windows:
        stats = limiter.get_window_stats(item, "destination_failures", client, digest)
        failures = max(failures, item.amount - stats.remaining)
        if stats.remaining == 0:
            locked_until = max(locked_until, stats.reset_time)
    consecutive = storage.get(consecutive_key(client, digest))
    if consecutive >= max_consecutive:
        expiry = storage.get_expiry(consecutive_key(client, digest))
        locked_until = max(locked_until, expiry)
    locked_until_ms = int(locked_until * 1000) if locked_until > time.time() else 0
    return DestinationLock(failures, consecutive, locked_until_ms)


def clear_lock(
    limiter: MovingWindowRateLimiter,
    storage: Storage,
    windows: Sequence[RateLimitItem],
    client: str,
    digest: str,
) -> None:
    """Forget the destination's wrong codes: its windows and its run of failures."""
    for item in windows:
        limiter.clear(item, "destination_failures", client, digest)
    storage.clear(consecutive_key(client, digest))


def count_failure(
    limiter: MovingWindowRateLimiter,
    storage: Storage,
    windows: Sequence[RateLimitItem],
    client: str,
    digest: str,
) -> tuple[bool, int]:
    """
    Count a wrong code, one call at a time (the path of a Cluster): whether a failure window is
    now exhausted (then every window starts afresh: the next, longer lock takes as many wrong codes
    again), and the run of consecutive wrong codes.
    """
    exhausted = False
    for item in windows:
        hit = limiter.hit(item, "destination_failures", client, digest)
        stats = limiter.get_window_stats(item, "destination_failures", client, digest)
        exhausted = exhausted or not hit or stats.remaining == 0
    consecutive = storage.incr(consecutive_key(client, digest), CONSECUTIVE_FAILURES_TTL_SECONDS)
    if exhausted:
        for item in windows:
            limiter.clear(item, "destination_failures", client, digest)
    return exhausted, consecutive
