"""
Writes whose replies nobody waits for (a delivery status, the counts behind the conversion
figures and the pumping guard) made as a request finishes. Inside ``batched_writes(client)``,
``ScriptRunner.write`` queues them; when the block ends they go to Redis together, in one
pipeline: one round trip, with one ``WAIT`` when replicas must acknowledge. On a Cluster (their
keys lie on several nodes), or outside a batch, each runs at once.

A write marked ``required`` fails the request closed (``StoreUnavailable``) when it fails, as it
would have alone; the failure of any other is logged and forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from otp_service.core.errors import StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueuedWrite:
    """One script queued in a batch: its name (for logs), body, keys, arguments."""

    name: str
    script: Script
    keys: Sequence[str]
    args: Sequence[Any]
    required: bool


@dataclass
class WriteBatch:
    """The writes queued on one client, and how many replicas must acknowledge them."""

    client: redis.Redis
    writes: list[QueuedWrite] = field(default_factory=list)
    wait: tuple[int, int] = (0, 0)

    def flush(self) -> None:
        """
        Send every queued write in one pipeline.

        Raises:
            StoreUnavailable: Redis failed, or a required write failed or was not acknowledged.
        """
        if not self.writes:
            return
        try:
            replies = self._send("EVALSHA", self.writes)
            unknown = [w for w, r in zip(self.writes, replies, strict=False) if _no_script(r)]
            if unknown:  # a Redis that restarted has no script cached: send those in full
                again = iter(self._send("EVAL", unknown))
                replies = [next(again) if _no_script(r) else r for r in replies]
        except StoreUnavailable:
            if any(write.required for write in self.writes):
                raise
            log.warning("%d unread writes lost: Redis is unavailable", len(self.writes))
            return
        acknowledged = replies.pop() if self.wait[0] > 0 else None
        failed_required = False
        for write, reply in zip(self.writes, replies, strict=True):
            if isinstance(reply, Exception):
                log.warning("script %s failed in a batch: %s", write.name, reply)
                failed_required = failed_required or write.required
        if failed_required:
            raise StoreUnavailable("Redis is unavailable")
        if acknowledged is not None and (
            isinstance(acknowledged, Exception) or int(acknowledged) < self.wait[0]
        ):
            raise StoreUnavailable(f"{acknowledged} of {self.wait[0]} replicas acknowledged")

    def _send(self, command: str, writes: Sequence[QueuedWrite]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for write in writes:
            body = write.script.sha if command == "EVALSHA" else write.script.script
            pipe.execute_command(  # type: ignore[no-untyped-call]
                command, body, len(write.keys), *write.keys, *write.args
            )
        if self.wait[0] > 0:
            pipe.execute_command("WAIT", *self.wait)  # type: ignore[no-untyped-call]
        try:
            return list(pipe.execute(raise_on_error=False))
        except redis.RedisError as error:
            raise StoreUnavailable("Redis is unavailable") from error


def _no_script(reply: Any) -> bool:
    return isinstance(reply, NoScriptError)


_BATCH: ContextVar[WriteBatch | None] = ContextVar("otp_write_batch", default=None)


def current_batch(client: redis.Redis) -> WriteBatch | None:
    """The batch open on ``client`` in this context, if any."""
    batch = _BATCH.get()
    return batch if batch is not None and batch.client is client else None


@contextmanager
def batched_writes(client: redis.Redis, cluster: bool) -> Iterator[None]:
    """
    Queue the writes made inside on ``client`` and send them in one round trip at the end (at
    once, one by one, on a Cluster: ``cluster``).

    Raises:
        StoreUnavailable: when the block ends, Redis failed or a required write failed.
    """
    if cluster or _BATCH.get() is not None:
        yield
        return
    batch = WriteBatch(client)
    token = _BATCH.set(batch)
    try:
        yield
    finally:
        _BATCH.reset(token)
    batch.flush()
