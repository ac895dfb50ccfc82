"""
The ``limits`` library's storage on the service's Redis: the rate limits' windows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import limits
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string

from otp_service.core.errors import StoreUnavailable
from otp_service.storage.connection import SENTINEL_CONNECTION_CLASS, fail_fast_options
from otp_service.storage.scripts import Durability, acknowledge_limit_writes


def now_ms() -> int:
    """The app host's clock (the lockout scripts read Redis's TIME instead on the server's)."""
    return int(time.time() * 1000)


@contextmanager
def fail_closed() -> Iterator[None]:
    """Turn a ``limits`` storage error into ``StoreUnavailable`` (503), never "allow"."""
    try:
        yield
    except StorageError as error:
        raise StoreUnavailable("Redis is unavailable") from error


@cache
def parse_limits(spec: str) -> tuple[limits.RateLimitItem, ...]:
    """``"5/10minutes;10/day"`` as rate-limit items (raises ValueError when malformed)."""
    return tuple(limits.parse_many(spec))


def limits_key_prefix(prefix: str) -> str:
    """The prefix of the rate limits' keys under the service's ``OTP_REDIS_PREFIX``."""
    return f"{prefix}:rl"


def limits_storage(
    redis_url: str, prefix: str, timeout_seconds: float, durability: Durability | None = None
) -> Storage:
    """
    The ``limits`` storage on the service's Redis, under ``<prefix>:rl``, errors wrapped, its
    writes acknowledged by ``durability``'s replicas, and (on Sentinel) reads from the master and
    connections that are dropped when a reply times out.
    """
    options: dict[str, Any] = fail_fast_options(redis_url)
    if redis_url.lower().startswith("redis+sentinel://"):
        options["connection_class"] = SENTINEL_CONNECTION_CLASS
        # Counts are read from the master: a replica may not have the last hits yet.
        options["use_replicas"] = False
    storage = storage_from_string(
        f"redis+{redis_url}" if redis_url.startswith("unix://") else redis_url,  # limits' name
        key_prefix=limits_key_prefix(prefix),
        wrap_exceptions=True,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        **options,
    )
    if not isinstance(storage, Storage):
        raise TypeError(f"{redis_url.split(':')[0]} is not a synchronous limits storage")
    acknowledge_limit_writes(storage, durability or Durability())
    return storage
