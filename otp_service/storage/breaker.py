"""
A circuit breaker per Redis node, in the connections themselves.

A paused or unreachable node makes each command sent to it wait the whole socket timeout. Under
load the requests queue behind those that wait, and a request answers 503 only after two or more
timeouts (measured: 4.3 s with a Cluster master paused, 50 calls in flight on 16 threads). So the
first timeout of a node (connecting to it, or waiting for its reply) opens its breaker: commands for
that node fail at once, with ``ConnectionError`` (503), for ``COOL_DOWN_SECONDS``; then one
command probes it, and its answer closes the breaker or opens it again. Other nodes are not
affected: a Cluster keeps serving the slots of its healthy masters. A refused or dropped
connection does not open it: that failure is already immediate (and a pooled connection to a
restarted server fails once on its first use, while the server is fine).

The connection classes below are what every client of the service uses (``connection.py``, and
the ``limits`` storage through ``fail_fast_options``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.sentinel import SentinelManagedConnection

#: How long a node that just failed is not asked again.
COOL_DOWN_SECONDS: Final = 0.5


class NodeBreaker:
    """Which nodes failed just now: open for a cool-down, then one probe at a time."""

    def __init__(
        self, cool_down_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cool_down = cool_down_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._closed_at: dict[str, float] = {}  # node -> when commands may go to it again
        self._probe: dict[str, object] = {}  # node -> the connection probing it

    def allow(self, node: str, probe_seconds: float, caller: object = None) -> bool:
        """
        Whether ``caller`` (a connection) may send a command to ``node`` now. After a cool-down
        the first caller is the probe and may send what it needs (a handshake is several
        commands); others wait ``probe_seconds`` (its timeout) for its answer, then probe again.
        """
        with self._lock:
            closed_at = self._closed_at.get(node)
            if closed_at is None:
                return True
            now = self._clock()
            if now < closed_at:
                return caller is not None and self._probe.get(node) is caller
            self._closed_at[node] = now + probe_seconds
            self._probe[node] = caller
            return True

    def failed(self, node: str) -> None:
        """``node`` timed out: open its breaker."""
        with self._lock:
            self._closed_at[node] = self._clock() + self._cool_down
            self._probe.pop(node, None)

    def succeeded(self, node: str) -> None:
        """``node`` answered: close its breaker."""
        if node in self._closed_at:  # a read without the lock: the common case costs nothing
            with self._lock:
                self._closed_at.pop(node, None)
                self._probe.pop(node, None)

    def reset(self) -> None:
        """Forget every failure (tests, between servers that reuse an address)."""
        with self._lock:
            self._closed_at.clear()
            self._probe.clear()

    def is_open(self, node: str) -> bool:
        """Whether commands for ``node`` fail at once now (for health reports and tests)."""
        with self._lock:
            closed_at = self._closed_at.get(node)
            return closed_at is not None and self._clock() < closed_at


#: The breaker of this process (each gunicorn worker has its own).
BREAKER: Final = NodeBreaker(COOL_DOWN_SECONDS)


class _Breaking:
    """Mixed into a redis-py connection class: every send and read goes through ``BREAKER``."""

    def _node(self) -> str | None:
        host = getattr(self, "host", None)
        return f"{host}:{getattr(self, 'port', '')}" if host else None

    def _refuse_if_open(self, node: str | None) -> None:
        probe_seconds = getattr(self, "socket_timeout", None) or COOL_DOWN_SECONDS
        if node is not None and not BREAKER.allow(node, probe_seconds, self):
            raise redis.ConnectionError(f"Redis at {node} failed just now; not asked again yet")

    def connect(self) -> None:
        """Connect (and shake hands), counting a timeout against the node."""
        try:
            super().connect()  # type: ignore[misc]
        except redis.TimeoutError:
            node = self._node()
            if node is not None:
                BREAKER.failed(node)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._refuse_if_open(self._node())
        try:
            super().send_packed_command(command, check_health)  # type: ignore[misc]
        except redis.TimeoutError:
            node = self._node()
            if node is not None:
                BREAKER.failed(node)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        node = self._node()  # before: a failed read may disconnect
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError:
            if node is not None:
                BREAKER.failed(node)
            raise
        if node is not None:
            BREAKER.succeeded(node)
        return response


class BreakerConnection(_Breaking, redis.Connection):
    """A TCP connection to one server or Cluster node, behind the node's breaker."""


class BreakerSentinelConnection(_Breaking, SentinelManagedConnection):
    """
    A connection to the master the Sentinels name, behind that master's breaker, which, like a
    plain connection, disconnects when reading a reply fails: redis-py's
    ``SentinelManagedConnection`` reads with ``disconnect_on_error=False``, so after a socket
    timeout the connection went back to the pool still owing its reply, and the next caller on
    it read that reply instead of its own.
    """

    connection_pool: Any

    def _node(self) -> str | None:
        # Until it connects, the connection does not know the master's address.
        return super()._node() if self._sock is not None else None

    def connect(self) -> None:
        """Connect to the master the Sentinels name, unless that master failed just now."""
        host, port = self.connection_pool.get_master_address()
        node = f"{host}:{port}"
        self._refuse_if_open(node)
        try:
            super().connect()
        except redis.TimeoutError:
            BREAKER.failed(node)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["disconnect_on_error"] = True
        return super().read_response(*args, **kwargs)
