"""
Replicated Redis topologies that a test can break the way production breaks, on free 127.0.0.1
ports: a master with two replicas watched by three Sentinels, and a Cluster of three masters and
three replicas. Faults are signals to a node's own process (SIGKILL, SIGSTOP/SIGCONT) and
``SENTINEL FAILOVER``; the test never runs ``WAIT`` before one, so unreplicated writes stay exposed.
"""

from __future__ import annotations

import functools
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from otp_service.storage.embedded_redis import find_redis_server, free_port, stop_process
from tests.servers.topologies import cluster_port, find_redis_cli, wait_until

SERVICE = "otp-failover"
DOWN_AFTER_MS = 2000
#: How long a topology may take to settle (a failover done, every replica in sync).
SETTLE_SECONDS = 45


class RedisNode:
    """
    One ``redis-server`` (or Sentinel) child process with a directory that survives restarts
    (so a Cluster node keeps its ``nodes.conf``; no data is persisted).
    """

    def __init__(self, port: int, args: list[str], config: str | None = None) -> None:
        self.port = port
        self.args = args
        self._dir = tempfile.TemporaryDirectory(prefix="otp-ha-")
        self._config = config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self, extra: list[str] | None = None) -> RedisNode:
        """Start the server in its directory and wait until it answers PING."""
        command = [find_redis_server()]
        if self._config is not None:
            conf = Path(self._dir.name) / "sentinel.conf"
            conf.write_text(self._config, encoding="utf-8")
            command += [str(conf), "--sentinel"]
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self._dir.name]
        command += ["--save", "", "--appendonly", "no", *self.args, *(extra or [])]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._answers, 10, f"redis on port {self.port}")
        return self

    def _answers(self) -> bool:
        with self.client(timeout=0.5) as client:
            return bool(client.ping())

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A new client of this node, for the test's own commands."""
        return redis.Redis(port=self.port, socket_timeout=timeout, decode_responses=True)

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the server's process."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: nothing flushed, every connection drops."""
        self.send(signal.SIGKILL)
        if self._process is not None:
            self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        """Stop the process (resumed first if it was stopped)."""
        if self._process is not None:
            self.send(signal.SIGCONT)
            stop_process(self._process)
        self._process = None

    def cleanup(self) -> None:
        """Stop and remove the directory."""
        self.stop()
        self._dir.cleanup()


def stop_all(nodes: list[RedisNode]) -> None:
    """Stop and clean up every node, even if one of them fails to."""
    for node in nodes:
        try:
            node.cleanup()
        except (OSError, subprocess.SubprocessError):
            continue


def pause(node: RedisNode, seconds: float) -> None:
    """SIGSTOP ``node`` for ``seconds``, then SIGCONT: its clients' commands queue meanwhile."""
    node.send(signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        node.send(signal.SIGCONT)


def _sentinel_config(master: int, replicas: list[int], port: int) -> str:
    lines = [
        f"port {port}",
        f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2",
        *(f"sentinel known-replica {SERVICE} 127.0.0.1 {replica}" for replica in replicas),
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {SERVICE} 6000",
    ]
    return "\n".join(lines) + "\n"


def _fields(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class SentinelGroup:
    """A master and two replicas, watched by three Sentinels (quorum 2)."""

    def __init__(self) -> None:
        sync = ["--repl-diskless-sync-delay", "0"]
        self.servers = [RedisNode(free_port(), sync) for _ in range(3)]
        master = self.servers[0].port
        for replica in self.servers[1:]:
            replica.args = [*sync, "--replicaof", "127.0.0.1", str(master)]
        ports = [free_port() for _ in range(3)]
        replicas = [server.port for server in self.servers[1:]]
        self.sentinels = [RedisNode(p, [], _sentinel_config(master, replicas, p)) for p in ports]

    @property
    def url(self) -> str:
        """The service's ``redis+sentinel://`` URL naming the three Sentinels."""
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}"

    def start(self) -> SentinelGroup:
        """Start everything and wait until it has settled."""
        try:
            for node in [*self.servers, *self.sentinels]:
                node.start()
            self.wait_settled()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process by its pid."""
        stop_all([*self.sentinels, *self.servers])

    def master_port(self, sentinel: RedisNode | None = None) -> int:
        """The master's port as one Sentinel names it."""
        with (sentinel or self.sentinels[0]).client() as client:
            _, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)

    def master(self) -> RedisNode:
        """The server the Sentinels name master now."""
        port = self.master_port()
        return next(server for server in self.servers if server.port == port)

    def wait_settled(self) -> None:
        """Wait until all Sentinels agree, see 2 healthy replicas and 2 peers, and all sync."""
        wait_until(self._is_settled, SETTLE_SECONDS, "Sentinel topology settled")

    def _is_settled(self) -> bool:
        ports = {self.master_port(sentinel) for sentinel in self.sentinels}
        if len(ports) != 1:
            return False
        return all(self._sentinel_is_content(s) for s in self.sentinels) and self._replicas_up()

    @staticmethod
    def _sentinel_is_content(sentinel: RedisNode) -> bool:
        with sentinel.client() as client:
            state = _fields(client.execute_command("SENTINEL", "MASTER", SERVICE))
            replicas = client.execute_command("SENTINEL", "REPLICAS", SERVICE)
        healthy = [r for r in replicas if _fields(r).get("flags") == "slave"]
        linked = [r for r in replicas if _fields(r).get("master-link-status") == "ok"]
        return (
            state["flags"] == "master"
            and state["num-other-sentinels"] == "2"
            and len(healthy) == len(linked) == 2
        )

    def _replicas_up(self) -> bool:
        master = self.master()
        for server in self.servers:
            with server.client() as client:
                info = client.info("replication")
            if server is master and info["connected_slaves"] != 2:
                return False
            if server is not master and info.get("master_link_status") != "up":
                return False
        return True

    def sentinel_failover(self) -> None:
        """``SENTINEL FAILOVER``: a replica is promoted, the master demoted."""
        with self.sentinels[0].client() as client:
            client.execute_command("SENTINEL", "FAILOVER", SERVICE)

    def kill_master(self) -> None:
        """SIGKILL the master; once a replica is promoted, restart it empty as a replica."""
        victim = self.master()
        victim.kill()
        wait_until(lambda: self.master_port() != victim.port, SETTLE_SECONDS, "promotion")
        victim.start(["--replicaof", "127.0.0.1", str(self.master_port())])

    def pause_master(self, seconds: float) -> None:
        """SIGSTOP the master for ``seconds`` (longer than down-after: a failover), SIGCONT."""
        pause(self.master(), seconds)


class ReplicatedCluster:
    """A Redis Cluster of three masters, each with one replica (node timeout 2 s)."""

    def __init__(self) -> None:
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(DOWN_AFTER_MS),
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        self.nodes = [RedisNode(cluster_port(), args) for _ in range(6)]

    @property
    def url(self) -> str:
        """The service's ``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> ReplicatedCluster:
        """Start the nodes, create the cluster with one replica per master, wait until settled."""
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = ["--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"]
            subprocess.run(
                [find_redis_cli(), *create],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_settled()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node by its pid."""
        stop_all(self.nodes)

    def masters(self) -> list[RedisNode]:
        """The nodes that are masters with slots now."""
        return [node for node in self.nodes if self._role(node) == "master"]

    @staticmethod
    def _role(node: RedisNode) -> str:
        with node.client() as client:
            return str(client.info("replication")["role"])

    def wait_settled(self) -> None:
        """Wait until every node says ok and sees 3 masters and 3 connected replicas."""
        for node in self.nodes:
            is_settled = functools.partial(self._is_settled, node)
            wait_until(is_settled, SETTLE_SECONDS, f"cluster settled at {node.port}")

    @staticmethod
    def _is_settled(node: RedisNode) -> bool:
        with node.client() as client:
            if client.cluster("INFO")["cluster_state"] != "ok":
                return False
            lines = str(client.execute_command("CLUSTER", "NODES")).splitlines()
        flags = [line.split()[2] for line in lines]
        links = [line.split()[7] for line in lines]
        masters = sum("master" in f and "fail" not in f for f in flags)
        replicas = sum("slave" in f and "fail" not in f for f in flags)
        return masters == replicas == 3 and all(link == "connected" for link in links)

    def kill_master(self, index: int) -> None:
        """SIGKILL master ``index``; once its replica has taken over, restart it (a replica)."""
        victim = self.masters()[index % 3]
        victim.kill()
        survivor = next(node for node in self.nodes if node is not victim)
        has_failed_over = functools.partial(self._has_failed_over, survivor, victim.port)
        wait_until(has_failed_over, SETTLE_SECONDS, "cluster failover")
        victim.start()

    @staticmethod
    def _has_failed_over(node: RedisNode, victim: int) -> bool:
        """Whether ``node`` serves every slot with three masters other than ``victim``."""
        with node.client() as client:
            if client.cluster("INFO")["cluster_state"] != "ok":
                return False
            lines = str(client.execute_command("CLUSTER", "NODES")).splitlines()
        masters = [
            line for line in lines
            if "master" in line.split()[2] and "fail" not in line.split()[2]
            and not line.split()[1].startswith(f"127.0.0.1:{victim}@")
        ]  # fmt: skip
        return len(masters) == 3

    def pause_master(self, index: int, seconds: float) -> None:
        """SIGSTOP master ``index`` for ``seconds`` (longer than the node timeout), SIGCONT."""
        pause(self.masters()[index % 3], seconds)
