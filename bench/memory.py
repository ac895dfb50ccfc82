"""
Redis memory of pending verifications: ``MEMORY USAGE`` of every key, by kind, and ``INFO memory``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import redis

#: Rate limits kept per destination (the rest are per client, IP or country).
_PER_DESTINATION_LIMITS = ("destination_sends", "destination_failures", "consecutive_failures")


def key_kind(key: str, prefix: str) -> str:
    """The kind of a key of the service, by its name."""
    if key.startswith(f"{prefix}:vf:"):
        return "verification hash"
    if key.startswith(f"{prefix}:dest:"):
        return "destination index"
    if key.startswith(f"{prefix}:rl:"):
        name = key.removeprefix(f"{prefix}:rl:").removeprefix("LIMITER/").split("/")[0]
        if name in _PER_DESTINATION_LIMITS:
            return "rate limit, per destination"
        return f"rate limit, {name}"
    if key.startswith(f"{prefix}:dev:"):
        return "dev outbox"
    return "other"


@dataclass(slots=True)
class KeyCensus:
    """How many keys of each kind, and their ``MEMORY USAGE`` in bytes."""

    counts: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    sample_hash_encoding: str = ""
    sample_hash_fields: dict[str, int] = field(default_factory=dict)


def census(client: redis.Redis, prefix: str) -> KeyCensus:
    """Every key under ``prefix``, measured exactly (``SAMPLES 0``)."""
    result = KeyCensus()
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    for key, size in zip(keys, pipe.execute(), strict=True):
        kind = key_kind(str(key), prefix)
        result.counts[kind] += 1
        result.bytes[kind] += int(size or 0)
    sample = next((str(k) for k in keys if key_kind(str(k), prefix) == "verification hash"), None)
    if sample is not None:
        result.sample_hash_encoding = str(client.object("ENCODING", sample))
        fields = cast(dict[str, str], client.hgetall(sample))
        result.sample_hash_fields = {name: len(value) for name, value in fields.items()}
    return result


def used_memory(client: redis.Redis) -> int:
    """``used_memory`` of ``INFO memory``, in bytes."""
    info = cast(dict[str, Any], client.info("memory"))
    return int(info["used_memory"])
