"""
JobQueue: enqueue a job now or after a delay, and read how the queues are doing.

Senders (the web process) only enqueue: a job is a message naming its job and carrying one JSON
object. Only a worker (``JobWorker``) runs them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from otp_service.storage.script_store import guard


@dataclass(frozen=True, slots=True)
class Job:
    """A kind of job: its name (the Dramatiq actor) and the queue it waits in."""

    name: str
    queue: str


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue as Redis holds it now."""

    queue: str
    #: Jobs ready to run (not yet taken by a worker).
    ready: int
    #: Jobs waiting for their time (retries and timers), including those a worker holds.
    delayed: int
    #: Jobs taken by a worker and not yet finished.
    running: int
    #: Jobs that failed for good (dead-lettered, kept 7 days).
    dead: int
    #: Seconds the oldest ready job has waited since it became due (0 when none is ready).
    oldest_age_seconds: float


class JobQueue:
    """Enqueues jobs on the broker; ``stats`` reads the queues."""

    def __init__(self, broker: RedisBroker, queues: Iterable[str] = ()) -> None:
        self.broker = broker
        self.queues = tuple(queues)

    def send(self, job: Job, payload: Mapping[str, Any], delay_seconds: float = 0) -> str:
        """
        Enqueue ``job`` with ``payload`` (JSON), to run after ``delay_seconds``; its message id.

        Raises:
            StoreUnavailable: Redis failed: the job is not queued.
        """
        message: Message[Any] = Message(
            queue_name=job.queue, actor_name=job.name, args=(dict(payload),), kwargs={}, options={}
        )
        delay_ms = int(delay_seconds * 1000)
        with guard():
            sent = self.broker.enqueue(message, delay=delay_ms if delay_ms > 0 else None)
        return str(sent.message_id)

    def stats(self) -> list[QueueStats]:
        """
        Every queue's figures, read from Redis.

        Raises:
            StoreUnavailable: Redis failed.
        """
        with guard():
            return [self._stats(queue) for queue in self.queues]

    def workers_alive(self) -> int:
        """
        Workers that sent a heartbeat within the broker's heartbeat timeout.

        Raises:
            StoreUnavailable: Redis failed.
        """
        since_ms = time.time() * 1000 - self.broker.heartbeat_timeout
        key = f"{self.broker.namespace}:__heartbeats__"
        with guard():
            return int(cast(int, self.broker.client.zcount(key, since_ms, "+inf")))

    def _stats(self, queue: str) -> QueueStats:
        key = f"{self.broker.namespace}:{queue}"
        pipe = self.broker.client.pipeline(transaction=False)
        pipe.llen(key)
        pipe.hlen(f"{key}.DQ.msgs")
        pipe.hlen(f"{key}.msgs")
        pipe.zcard(f"{key}.XQ")
        pipe.lindex(key, 0)
        ready, delayed, held, dead, head = cast(list[Any], pipe.execute())
        return QueueStats(
            queue=queue,
            ready=int(ready),
            delayed=int(delayed),
            running=max(int(held) - int(ready), 0),
            dead=int(dead),
            oldest_age_seconds=self._age(key, head) if head is not None else 0.0,
        )

    def _age(self, key: str, head: bytes) -> float:
        data = cast(bytes | None, self.broker.client.hget(f"{key}.msgs", head))  # type: ignore[arg-type]
        if data is None:  # taken by a worker meanwhile
            return 0.0
        message: Message[Any] = Message.decode(data)
        # A delayed job (a retry, a timer) is due at its eta, not when it was first sent.
        due_ms = max(int(message.options.get("eta", 0)), message.message_timestamp)
        return max(time.time() * 1000 - due_ms, 0.0) / 1000
