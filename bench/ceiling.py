"""
The physical ceiling: bare argon2 hash+verify pairs per second on every core of this machine.

One process per core runs ``CodeHasher(pepper, profile).hash`` then ``.verify`` in a loop until a
shared deadline: a start+check flow costs exactly one of each, so no service can beat this rate.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from otp_service.core.codes import CodeHasher

PEPPER = b"bench-pepper-0123456789abcdef0123456789"


@dataclass(frozen=True, slots=True)
class Ceiling:
    """Pairs per second on every core, and the CPU seconds one pair took."""

    pairs_per_second: float
    cpu_ms_per_pair: float


def _pairs_until(profile: str, start_at: float, stop_at: float) -> tuple[int, float]:
    hasher = CodeHasher(PEPPER, profile)
    hasher.verify(hasher.hash("vf_warmup", "000000"), "vf_warmup", "000000")
    while time.time() < start_at:
        time.sleep(0.001)
    pairs = 0
    cpu_before = time.process_time()
    while time.time() < stop_at:
        scope = f"vf_{pairs:032x}"
        encoded = hasher.hash(scope, "123456")
        if not hasher.verify(encoded, scope, "123456"):
            raise AssertionError("a right code did not verify")
        pairs += 1
    return pairs, time.process_time() - cpu_before


def argon2_ceiling(profile: str, seconds: float, processes: int | None = None) -> Ceiling:
    """
    Hash+verify pairs per second of ``profile`` over ``processes`` (default: every core), and
    the CPU time per pair (which, unlike the rate, does not depend on what else runs meanwhile).
    """
    processes = processes or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=processes) as pool:
        start_at = time.time() + 1.0  # every process is up and warm before the clock starts
        futures = [
            pool.submit(_pairs_until, profile, start_at, start_at + seconds)
            for _ in range(processes)
        ]
        results = [future.result(timeout=seconds + 60) for future in futures]
    pairs = sum(count for count, _ in results)
    cpu_seconds = sum(cpu for _, cpu in results)
    return Ceiling(pairs / seconds, cpu_seconds / max(pairs, 1) * 1e3)
