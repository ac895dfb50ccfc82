"""
Redis memory and check latency with a million pending verifications.

Fills a throwaway ``redis-server`` (``EmbeddedRedis``, 127.0.0.1, stopped on the way out) with
``--count`` pending verifications written as the service writes them (the ``create`` script with
the store's field names, the destination index, the delivery status the sender's receipt adds),
then reports ``used_memory`` per pending verification, ``MEMORY USAGE`` of a sample (hash and
destination index), and the latency of right checks (``POST /v1/verifications/{id}/check``
through the in-process app: the ``reserve_attempt`` and ``approve`` scripts and the pipelined
counts; and the two scripts alone, on records ``fill`` wrote) on the empty server and on the full
one. Every code is hashed alike (one argon2 hash, reused: its length is what counts), so
a million records take about a minute, not an hour of argon2.

    .venv/bin/python bench/pending_million.py --count 1000000
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.diagnose import MemorySender
from bench.environment import KEYS, PREFIX, service_environ
from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.codes import CodeHasher
from otp_service.core.models import Channel, Status, Verification, key_name_key
from otp_service.storage.embedded_redis import EmbeddedRedis
from otp_service.storage.script_store import lua_source
from otp_service.verify.records import creation_args
from otp_service.verify.store import RedisStore, index_value

_BATCH = 2000
_TTL_MS = 600_000
_NAME_KEY = key_name_key(b"unused-pepper-0123456789abcdef")


def _destination(n: int) -> str:
    """The phone number of the ``n``-th verification ``fill`` writes."""
    return f"+1415{n % 9_000_000:07d}"


def fill(store: RedisStore, count: int, profile: str, budget_s: float) -> int:
    """Write ``count`` pending verifications (or as many as ``budget_s`` allows); how many."""
    client = store.client
    create = client.register_script(
        store.script_prelude() + lua_source(store.SCRIPT_PACKAGE, "create")
    )
    code_hash = CodeHasher(b"p" * 32, profile).hash("vf_" + "0" * 32, "123456")
    now = int(time.time() * 1000)
    deadline = time.monotonic() + budget_s
    written = 0
    while written < count and time.monotonic() < deadline:
        pipe = client.pipeline(transaction=False)
        for n in range(written, min(written + _BATCH, count)):
            verification_id = f"vf_{n:032x}"
            to = _destination(n)
            verification = Verification(
                id=verification_id, client="bench", channel=Channel.SMS, to=to,
                status=Status.PENDING, attempts=0, max_attempts=5, sends=1, max_sends=5,
                created_ms=now, expires_ms=now + _TTL_MS, next_send_ms=now + 30_000,
            )  # fmt: skip
            key = store.verification_key(verification_id)
            args = [_TTL_MS + 300_000, "", *creation_args(verification, code_hash)]
            create(keys=[key], args=args, client=pipe)
            pipe.hset(key, "y", "delivered")  # what the sender's receipt adds
            destination = store.destination_key("bench", Channel.SMS, to)
            pipe.set(destination, index_value(verification_id), px=_TTL_MS)
        pipe.execute()
        written = min(written + _BATCH, count)
    return written


def check_latencies(redis_url: str, profile: str, runs: int) -> list[float]:
    """Milliseconds of ``runs`` right checks, each of its own new verification."""
    environ = {**service_environ(redis_url, profile, "ERROR")}
    sender = MemorySender()
    app = create_app(Settings.from_env(environ), senders={Channel.SMS: sender})
    http = app.test_client()
    headers = {"Authorization": f"Bearer {KEYS['bench']}"}
    started = []
    for n in range(runs + 20):
        to = f"+1415{9_500_000 + n:07d}"
        reply = http.post("/v1/verifications", json={"to": to, "channel": "sms"}, headers=headers)
        if reply.status_code != 201:
            raise RuntimeError(f"a start answered {reply.status_code}: {reply.get_json()}")
        code = next(word for word in sender.newest[to].text.split() if word.isdigit())
        started.append((reply.get_json()["id"], code))
    took = []
    for verification_id, code in started:
        begin = time.perf_counter()
        reply = http.post(
            f"/v1/verifications/{verification_id}/check", json={"code": code}, headers=headers
        )
        took.append((time.perf_counter() - begin) * 1000)
        if not reply.get_json().get("valid"):
            raise RuntimeError(f"a right code was refused: {reply.get_json()}")
    return took[20:]  # the first ones load scripts and warm caches


def script_latencies(store: RedisStore, numbers: range) -> list[float]:
    """Milliseconds of the check scripts alone (``reserve_attempt``, then ``approve`` with the hash
    it answered) on the verifications ``fill`` wrote with these numbers: Redis without HTTP."""
    took = []
    for n in numbers:
        verification_id, now = f"vf_{n:032x}", int(time.time() * 1000)
        begin = time.perf_counter()
        reserved = store.reserve_attempt(verification_id, "bench", now)
        approved = store.approve(verification_id, reserved.code_hash, now)
        took.append((time.perf_counter() - begin) * 1000)
        if (reserved.outcome, approved) != ("ok", "approved"):
            raise RuntimeError(f"{verification_id}: {reserved.outcome}, {approved}")
    return took


def _quantiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:.2f} / p99 {cuts[98]:.2f} ms"


def _sizes(client: redis.Redis, keys: list[str]) -> list[int]:
    """``MEMORY USAGE`` of each key, exactly (``SAMPLES 0``)."""
    return [int(cast(int, client.memory_usage(key, samples=0)) or 0) for key in keys]


def _memory(client: redis.Redis) -> int:
    return int(cast(dict[str, Any], client.info("memory"))["used_memory"])


def main() -> None:
    """Fill, measure, report; everything stopped on the way out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=2000, help="right checks timed per size")
    parser.add_argument("--profile", default="test", help="argon2 profile of the checks")
    parser.add_argument("--hash-profile", default="otp", help="argon2 profile of the records")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds for the whole run")
    options = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("time budget exhausted"))
    signal.alarm(int(options.budget))
    server = EmbeddedRedis()
    server.start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        empty = check_latencies(server.url, options.profile, options.checks)
        store = RedisStore(client, PREFIX, name_key=_NAME_KEY)
        fill(store, options.checks, options.hash_profile, options.budget)
        empty_scripts = script_latencies(store, range(options.checks))
        client.flushdb()  # our own server: the checks' records out of the figure
        before = _memory(client)
        began = time.monotonic()
        written = fill(store, options.count, options.hash_profile, options.budget * 0.6)
        filled_s = time.monotonic() - began
        after = _memory(client)
        sample = range(0, written, max(written // 1000, 1))
        sizes = _sizes(client, [f"{PREFIX}:vf:{{vf_{n:032x}}}" for n in sample])
        indexes = [store.destination_key("bench", Channel.SMS, _destination(n)) for n in sample]
        index_sizes = _sizes(client, indexes)
        full = check_latencies(server.url, options.profile, options.checks)
        full_scripts = script_latencies(store, range(1, written, max(written // options.checks, 1)))
        print(f"pending verifications written: {written} in {filled_s:.0f} s (pid {os.getpid()})")
        print(
            f"used_memory: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB, "
            f"{(after - before) / max(written, 1):.0f} B per pending verification (everything)"
        )
        print(
            f"MEMORY USAGE of {len(sizes)} sampled verifications: hash {statistics.mean(sizes):.0f}"
            f" B + destination index {statistics.mean(index_sizes):.0f} B = "
            f"{statistics.mean(sizes) + statistics.mean(index_sizes):.0f} B each"
        )
        print(f"right checks, empty Redis:  {_quantiles(empty)} ({len(empty)} checks)")
        print(f"right checks, {written} pending: {_quantiles(full)} ({len(full)} checks)")
        print(f"check scripts alone, empty Redis:  {_quantiles(empty_scripts)}")
        print(f"check scripts alone, {written} pending: {_quantiles(full_scripts)}")
        print(
            f"ratio of medians (full / empty): "
            f"{statistics.median(full) / statistics.median(empty):.2f}"
        )
    finally:
        server.stop()
        signal.alarm(0)


if __name__ == "__main__":
    main()
