"""
The Dramatiq broker on Redis: where jobs wait, and how a dead worker's jobs come back.

Dramatiq's Redis broker keeps each job a worker has taken in that worker's acknowledgement set
until the job ends; a worker that stops heartbeating for ``requeue_after_seconds`` (SIGKILL, a lost
host) is dead, and the next queue maintenance puts its jobs back in their queues: at-least-once.
"""

from __future__ import annotations

from typing import Final

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries, ShutdownNotifications, TimeLimit

from otp_service.storage.connection import connect

#: Out of a million broker calls, how many also look for the jobs of dead workers. Each worker
#: polls its queues about once a second, so a dead worker's jobs are found within seconds of its
#: heartbeat timeout (Dramatiq's default, 1 000, can leave them for many minutes).
MAINTENANCE_CHANCE: Final = 100_000
#: A job that runs longer than this is interrupted and tried again.
TIME_LIMIT_MS: Final = 60_000
#: Unexpected failures (Redis down, a bug) are tried again with Dramatiq's exponential backoff,
#: from 5 s, this many times; then the job is dead-lettered (kept 7 days, counted as failed).
MAX_RETRIES: Final = 12
MIN_BACKOFF_MS: Final = 5_000


def build_broker(
    url: str, timeout_seconds: float, namespace: str, requeue_after_seconds: int
) -> RedisBroker:
    """
    A broker on the Redis at ``url`` (no I/O): its keys start with ``namespace``.

    Raises:
        ValueError: ``url`` is not a Redis URL the service can use.
    """
    client = connect(url, timeout_seconds, decode_responses=False)
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client,
        namespace=namespace,
        heartbeat_timeout=requeue_after_seconds * 1000,
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=[
            TimeLimit(time_limit=TIME_LIMIT_MS),
            ShutdownNotifications(),
            Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS),
            CurrentMessage(),
        ],
    )
