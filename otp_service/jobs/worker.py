"""
JobWorker: runs jobs with a pool of threads, each job through its handler.

A handler takes the job's payload and its attempt number (1 for the first run). It raises
``RetryLater`` to be run again after a delay of its choosing (a webhook's retry schedule),
``GiveUp`` to fail for good, and anything else to be tried again with the broker's backoff.
Handlers must be idempotent: a job whose worker died is run again (at-least-once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from otp_service.jobs.queue import Job

#: A job's handler: its payload, and which attempt this is (1 for the first run).
Handler = Callable[[Mapping[str, Any], int], None]
#: How long a stopping worker lets the jobs in hand finish (ms); the rest go back to the queue.
STOP_TIMEOUT_MS: Final = 20_000
log = logging.getLogger(__name__)


class RetryLater(Exception):
    """Run this job again after ``delay_seconds``."""

    def __init__(self, delay_seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay_seconds} s")
        self.delay_seconds = delay_seconds


class GiveUp(Exception):
    """This job failed for good: never run it again (it is kept as dead-lettered)."""


def _attempt() -> int:
    message = CurrentMessage.get_current_message()
    return 1 + int(message.options.get("retries", 0)) if message is not None else 1


def _run_with(handler: Handler) -> Callable[[dict[str, Any]], None]:
    def run(payload: dict[str, Any]) -> None:
        try:
            handler(payload, _attempt())
        except RetryLater as later:
            log.info("job retried in %s s: %s", later.delay_seconds, later)
            raise dramatiq.Retry(delay=int(later.delay_seconds * 1000)) from None

    return run


class JobWorker:
    """Consumes the queues of ``handlers``' jobs on ``broker`` with ``threads`` threads."""

    def __init__(self, broker: RedisBroker, handlers: Mapping[Job, Handler], threads: int) -> None:
        self.broker = broker
        for job, handler in handlers.items():
            dramatiq.Actor(
                _run_with(handler),
                broker=broker,
                actor_name=job.name,
                queue_name=job.queue,
                priority=0,
                options={"throws": (GiveUp,)},
            )
        self._worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=1000)

    def start(self) -> None:
        """Start consuming (returns at once; the threads run the jobs)."""
        self._worker.start()

    def stop(self) -> None:
        """Stop: jobs in hand finish (up to 20 s), jobs taken but not started go back."""
        self._worker.stop(timeout=STOP_TIMEOUT_MS)
        self.broker.close()
        self.broker.client.connection_pool.disconnect()  # the broker's close leaves it open
