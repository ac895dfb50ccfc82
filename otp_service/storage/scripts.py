"""
Running the Lua scripts that change state: acknowledged by replicas, failures closed, replies
read strictly.

- With ``wait_replicas`` > 0 each script is followed by ``WAIT <replicas> <timeout>`` in one
  pipeline on the same connection (on a Cluster: the node that owns the key), and fewer
  acknowledgements than asked is ``StoreUnavailable``: the caller answers 503, never "approved".
  With 0, the script is one ``EVALSHA`` as before, at no extra cost.
- Any Redis failure (a timeout, a dropped connection, READONLY, NOREPLICAS, a failed WAIT) drops
  a Sentinel pool's connections, so the next command asks the Sentinels where the master is.
- ``parse`` turns the reply into a value; a reply of any other shape is ``StoreUnavailable`` and
  an error log line naming the script, never a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from otp_service.core.errors import StoreUnavailable
from otp_service.storage.connection import forget_master
from otp_service.storage.write_batch import QueuedWrite, current_batch

_T = TypeVar("_T")
log = logging.getLogger(__name__)


class ReplicasMissing(redis.RedisError):
    """Fewer replicas acknowledged a write than ``OTP_REDIS_WAIT_REPLICAS`` asks."""


class MalformedReply(ValueError):
    """A script answered something its caller does not know."""


@dataclass(frozen=True, slots=True)
class Durability:
    """How many replicas acknowledge each write, and how long to wait for them."""

    wait_replicas: int = 0
    wait_timeout_ms: int = 500


def one_of(*values: str) -> Callable[[Any], str]:
    """A parser that accepts only these literal replies."""

    def parse(reply: Any) -> str:
        if reply not in values:
            raise MalformedReply(f"expected one of {values}")
        return cast(str, reply)

    return parse


def flag(reply: Any) -> bool:
    """A script's 1 / 0 answer."""
    if reply not in (0, 1):
        raise MalformedReply("expected 0 or 1")
    return bool(reply)


def string_list(reply: Any) -> list[str]:
    """A flat list of strings (possibly empty)."""
    if not isinstance(reply, list) or not all(isinstance(item, str) for item in reply):
        raise MalformedReply("expected a list of strings")
    return reply


class ScriptRunner:
    """Runs registered scripts on ``client`` with the durability asked."""

    def __init__(self, client: redis.Redis, durability: Durability) -> None:
        self.client = client
        self.durability = durability

    def run(
        self,
        name: str,
        script: Script,
        keys: Sequence[str],
        args: Sequence[Any],
        parse: Callable[[Any], _T],
    ) -> _T:
        """
        Run ``script`` (named ``name`` in logs) and parse its reply.

        Raises:
            StoreUnavailable: Redis failed, too few replicas acknowledged, or the reply is not one
                ``parse`` knows.
        """
        try:
            if self.durability.wait_replicas <= 0:
                reply = script(keys=list(keys), args=list(args))
            else:
                reply = self._acknowledged(script, keys, args)
        except redis.RedisError as error:
            self._forget(keys[0])
            raise StoreUnavailable("Redis is unavailable") from error
        try:
            return parse(reply)
        except (MalformedReply, IndexError, KeyError, TypeError, ValueError) as error:
            log.error("script %s answered an unexpected reply: %r (%s)", name, reply, error)
            raise StoreUnavailable("the store answered an unexpected reply") from error

    def write(
        self,
        name: str,
        script: Script,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        required: bool,
    ) -> None:
        """
        Run a script whose reply nobody reads: queued in the open ``batched_writes`` on this
        client (sent when it ends), else at once.

        Raises:
            StoreUnavailable: run at once, Redis failed (a write not ``required`` never raises).
        """
        batch = current_batch(self.client)
        if batch is not None:
            wait = (self.durability.wait_replicas, self.durability.wait_timeout_ms)
            batch.wait = max(batch.wait, wait)
            batch.writes.append(QueuedWrite(name, script, keys, args, required))
            return
        try:
            self.run(name, script, keys, args, lambda reply: reply)
        except StoreUnavailable:
            if required:
                raise
            log.warning("script %s failed: Redis is unavailable", name)

    def _forget(self, key: str) -> None:
        forget_node = getattr(self.client, "forget_node", None)
        if forget_node is None:
            forget_master(self.client)
        elif self.durability.wait_replicas > 0:  # else RedisCluster has done it itself
            forget_node(key)

    def _acknowledged(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        reply, acknowledged = self._pipeline(keys[0], "EVALSHA", script.sha, keys, args)
        if isinstance(reply, NoScriptError):
            reply, acknowledged = self._pipeline(keys[0], "EVAL", script.script, keys, args)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(acknowledged, Exception):
            raise acknowledged
        if int(acknowledged) < self.durability.wait_replicas:
            raise ReplicasMissing(
                f"{acknowledged} of {self.durability.wait_replicas} replicas acknowledged"
            )
        return reply

    def _pipeline(
        self, key: str, command: str, body: Any, keys: Sequence[str], args: Sequence[Any]
    ) -> list[Any]:
        pipe = node_for(self.client, key).pipeline(transaction=False)
        wait = ("WAIT", self.durability.wait_replicas, self.durability.wait_timeout_ms)
        pipe.execute_command(command, body, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
        pipe.execute_command(*wait)  # type: ignore[no-untyped-call]
        return pipe.execute(raise_on_error=False)


def is_cluster(client: redis.Redis) -> bool:
    """Whether ``client`` talks to a Redis Cluster (where one script reaches one slot only)."""
    return isinstance(client, RedisCluster) or hasattr(client, "node_client")


def node_for(client: redis.Redis, key: str) -> redis.Redis:
    """The client that talks to the node holding ``key``: ``client`` itself but on a Cluster."""
    if isinstance(client, RedisCluster):  # the ``limits`` library's own Cluster client
        node = client.get_node_from_key(key)
        return client.get_redis_connection(node)
    cluster_node = getattr(client, "node_client", None)
    if cluster_node is None:
        return client
    return cast(redis.Redis, cluster_node(key))


#: The scripts through which a ``limits`` Redis storage writes (``limits`` 5).
LIMITS_WRITE_SCRIPTS: Final = (
    "lua_acquire_moving_window",
    "lua_acquire_sliding_window",
    "lua_incr_expire",
)


def acknowledge_limit_writes(storage: Any, durability: Durability) -> None:
    """
    Make a ``limits`` Redis storage's writes acknowledged like the service's own: each of its
    write scripts runs through a ``ScriptRunner`` (``WAIT`` in the same pipeline, on the node of
    the key). Reads and ``clear`` (a reset: losing one only limits more) stay as they are.

    Raises:
        TypeError: the storage has not the scripts this relies on (another ``limits`` version).
    """
    if durability.wait_replicas <= 0:
        return
    runner = ScriptRunner(storage.get_connection(), durability)
    for name in LIMITS_WRITE_SCRIPTS:
        script = getattr(storage, name, None)
        if not isinstance(script, Script):
            raise TypeError(f"the limits storage has no script {name}")
        setattr(storage, name, _AcknowledgedScript(runner, name, script))


@dataclass(frozen=True, slots=True)
class _AcknowledgedScript:
    """A ``limits`` script, called as ``limits`` calls it, run acknowledged."""

    runner: ScriptRunner
    name: str
    script: Script

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self.runner.run(f"limits {self.name}", self.script, keys, args, _any_reply)


def _any_reply(reply: Any) -> Any:
    return reply
