"""
Redis connections by URL: one server, Sentinel or Cluster, with no code change.

Every client has explicit timeouts; making one does no I/O, whatever the topology.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from otp_service.storage.breaker import BreakerConnection, BreakerSentinelConnection
from otp_service.storage.urls import check_redis_url


def connect(url: str, timeout_seconds: float, *, decode_responses: bool = True) -> redis.Redis:
    """
    A Redis client for ``url`` with explicit timeouts and no silent retries beyond one reconnect.

    The URL chooses the topology, with no code change, in the forms the
    ``limits`` library (the rate limits) reads too, so one ``OTP_REDIS_URL`` serves both:

    - ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS), ``unix://``: one server.
    - ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service``: the master the
      Sentinels name for ``service``, followed across failovers. The password is the master's
      and the Sentinels'.
    - ``redis+cluster://[[user]:password@]host:port[,host:port...]``: a Redis Cluster, discovered
      from any node listed.

    Sentinel and Cluster use database 0 (tell deployments apart by ``OTP_REDIS_PREFIX``). Making
    the client does no I/O, whatever the topology. The job queue's client takes bytes
    (``decode_responses=False``): Dramatiq decodes its messages itself.

    Raises:
        ValueError: a URL that is not of these forms (``otp_service.storage.urls``' rules).
    """
    options: dict[str, Any] = {
        "decode_responses": decode_responses,
        "socket_connect_timeout": timeout_seconds,
        "socket_timeout": timeout_seconds,
        # One retry on a dropped connection (a restarted Redis, or a failover, leaves stale
        # sockets in the pool); timeouts are not retried, so a slow Redis answers 503 within the
        # socket timeout.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        "health_check_interval": 30,
    }
    check_redis_url(url)
    scheme = url.partition("://")[0].lower()
    if scheme == "redis+sentinel":
        return _sentinel_master(url, options)
    if scheme == "redis+cluster":
        return _cluster(url, options)
    if scheme == "redis":
        options["connection_class"] = BreakerConnection
    return redis.Redis.from_url(url, **options)


def fail_fast_options(url: str) -> dict[str, Any]:
    """
    Retry options for another library's client on ``url`` (the ``limits`` storage), so that it
    fails within one socket timeout as the service's own client does: a dropped connection is
    tried once more and a timeout never; on Cluster nothing is tried again; the Sentinels are
    asked once each. (redis-py's defaults retry three times with backoff, timeouts included: a
    start on a paused Cluster master answered 503 only after 6.5 s.)
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "redis+cluster":
        return {"retry": Retry(NoBackoff(), 0), **_cluster_breaker(url)}
    options: dict[str, Any] = {
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    }
    if scheme == "redis":
        options["connection_class"] = BreakerConnection
    if scheme == "redis+sentinel":
        options["sentinel_kwargs"] = {"retry": Retry(NoBackoff(), 0)}
    return options


def _cluster_breaker(url: str) -> dict[str, Any]:
    """
    What makes a Cluster client build its nodes' pools with ``BreakerConnection``: redis-py
    passes ``connection_class`` on to them only when the client was given a ``url`` (that of the
    first node listed; the others are startup nodes).
    """
    host, port = _parse_nodes(url).hosts[0]
    host = f"[{host}]" if ":" in host else host
    return {"url": f"redis://{host}:{port}", "connection_class": BreakerConnection}


@dataclass(frozen=True, slots=True)
class _Nodes:
    """What a multi-host URL says: credentials, ``(host, port)`` pairs and the path."""

    username: str | None
    password: str | None
    hosts: list[tuple[str, int]]
    path: str


def _parse_nodes(url: str) -> _Nodes:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{parts.scheme} URLs take no query or fragment")
    credentials, _, locations = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    hosts: list[tuple[str, int]] = []
    for location in locations.split(","):
        node = urlsplit(f"//{location.strip()}")
        try:
            port = node.port
        except ValueError:
            port = None
        if not node.hostname or port is None:
            raise ValueError(f"{parts.scheme} URLs list host:port pairs (got {location!r})")
        hosts.append((node.hostname, port))
    return _Nodes(unquote(username) or None, unquote(password) or None, hosts, parts.path)


def _sentinel_master(url: str, options: dict[str, Any]) -> redis.Redis:
    nodes = _parse_nodes(url)
    service = nodes.path.strip("/")
    if not service or "/" in service:
        raise ValueError("redis+sentinel URLs end with /<service name>, and name no database")
    auth = {"username": nodes.username, "password": nodes.password}
    timeouts = {key: options[key] for key in ("socket_connect_timeout", "socket_timeout")}
    # Asking the Sentinels is not retried (each one is tried in turn); redis-py's default would
    # back off for seconds per Sentinel before the request could fail closed.
    sentinel_options = {**auth, **timeouts, "retry": Retry(NoBackoff(), 0)}
    sentinel = Sentinel(nodes.hosts, sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    master = sentinel.master_for(  # type: ignore[no-untyped-call]
        service, connection_class=BreakerSentinelConnection, **auth, **options
    )
    return cast(redis.Redis, master)


#: The connection class of Sentinel pools (the ``limits`` storage takes it too).
SENTINEL_CONNECTION_CLASS: Final = BreakerSentinelConnection


def default_wait_replicas(url: str) -> int:
    """How many replicas acknowledge each write by default: 1 where the URL names replicas."""
    scheme = url.partition("://")[0].lower()
    return 1 if scheme in ("redis+sentinel", "redis+cluster") else 0


def forget_master(client: redis.Redis) -> None:
    """
    Drop a Sentinel pool's idle connections and its master address, so the next command asks
    the Sentinels again; connections in use are dropped when they come back to the pool (they
    no longer belong to its master). Other topologies need nothing: a plain connection that
    failed is already closed, and a Cluster client re-reads the slots itself.
    """
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        pool.disconnect(inuse_connections=False)
        pool.reset()  # type: ignore[no-untyped-call]


def _cluster(url: str, options: dict[str, Any]) -> redis.Redis:
    nodes = _parse_nodes(url)
    if nodes.path.strip("/"):
        raise ValueError("redis+cluster URLs take no path: a Redis Cluster has only database 0")
    node_options = {key: value for key, value in options.items() if key != "retry"}

    def build() -> RedisCluster:
        startup_nodes = [ClusterNode(*host) for host in nodes.hosts]  # type: ignore[no-untyped-call]
        return _FailFastCluster(
            startup_nodes=startup_nodes,
            retry=options["retry"],
            **_cluster_breaker(url),
            username=nodes.username,
            password=nodes.password,
            **node_options,
        )

    # RedisStore is typed for redis.Redis; a RedisCluster serves every command it sends (each
    # script touches one slot; the dev outbox is one key).
    return cast(redis.Redis, _LazyCluster(build))


class _FailFastCluster(RedisCluster):
    """
    A ``RedisCluster`` that does not try a timed-out command again: it re-reads the slots and
    fails, so a paused master answers 503 within one socket timeout, not two or more. A dropped
    connection is still tried again once, on the slots read afresh.
    """

    ERRORS_ALLOW_RETRY = tuple(  # type: ignore[assignment]
        error for error in RedisCluster.ERRORS_ALLOW_RETRY if error is not redis.TimeoutError
    )


class _LazyCluster:
    """
    A ``RedisCluster`` made on first use: its constructor already talks to the cluster, and
    making the app does no I/O (it starts while the cluster is down, answering 503 until it is
    up). Cluster errors that are not ``RedisError`` become ``redis.ConnectionError``, so
    ``_guard`` fails them closed like any other.
    """

    def __init__(self, build: Callable[[], RedisCluster]) -> None:
        self._build = build
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def register_script(self, script: str) -> Script:
        """A script bound to this client; given as bytes, its SHA needs no encoder (no I/O)."""
        return Script(cast(redis.Redis, self), script.encode())

    def node_client(self, key: str) -> redis.Redis:
        """A client of the node that holds ``key`` now (for a pipeline that must stay on it)."""
        cluster = self._cluster()
        try:
            node = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
            return cluster.get_redis_connection(node)
        except RedisClusterException as error:
            raise redis.ConnectionError(str(error)) from error

    def forget_node(self, key: str) -> None:
        """After a failure on the node of ``key``: ask the other nodes who holds which slots."""
        cluster = self._client
        if cluster is None:
            return
        try:
            node = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
            cluster.nodes_manager.move_node_to_end_of_cached_nodes(node.name)
            cluster.nodes_manager.initialize()
        except (redis.RedisError, RedisClusterException):
            pass  # the next command tries again

    def _cluster(self) -> RedisCluster:
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._build()
                except RedisClusterException as error:
                    raise redis.ConnectionError(f"Redis Cluster unreachable: {error}") from error
            return self._client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._cluster(), name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except RedisClusterException as error:
                raise redis.ConnectionError(str(error)) from error

        return call
