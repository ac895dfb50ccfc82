"""
Through timeouts and failovers a reply reaches only its own caller, and writes are acknowledged
by replicas before the service answers: on a real Sentinel topology and, for comparison, on one
server.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
import redis
from flask import Flask
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from redis.sentinel import SentinelConnectionPool

from otp_service import create_app
from otp_service.abuse.limits_storage import limits_storage
from otp_service.config.settings import Settings
from otp_service.core.errors import StoreUnavailable
from otp_service.core.models import Channel
from otp_service.storage.breaker import BREAKER, COOL_DOWN_SECONDS
from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import EmbeddedRedis
from otp_service.storage.scripts import Durability, ScriptRunner, one_of
from otp_service.web.context import EXTENSION_KEY
from tests.servers.topologies import PASSWORD, LocalCluster, LocalSentinel
from tests.support import Api, CapturingSender, FakeClock, auth


@pytest.fixture(name="sentinel", scope="module")
def _sentinel() -> Iterator[LocalSentinel]:
    topology = LocalSentinel().start()
    yield topology
    topology.stop()


@pytest.fixture(name="single", scope="module")
def _single() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    yield server
    server.stop()


def pause(port: int, password: str | None, milliseconds: int) -> None:
    """Make the server hold every client's commands for ``milliseconds``."""
    with redis.Redis(port=port, password=password, socket_timeout=2) as admin:
        admin.execute_command("CLIENT", "PAUSE", milliseconds, "ALL")


def assert_replies_reach_their_callers(
    client: redis.Redis, port: int, password: str | None
) -> None:
    """A call that timed out, then another call on the same pool: it gets its own reply."""
    client.set("desync:a", "reply-of-a")
    client.set("desync:b", "reply-of-b")
    pause(port, password, 800)
    with pytest.raises(redis.TimeoutError):
        client.get("desync:a")  # times out after 0.5 s; its reply comes at 0.8 s
    BREAKER.reset()  # else the node's breaker refuses the next call at once: this is about replies
    assert client.get("desync:b") == "reply-of-b"  # sent during the pause, answered at 0.8 s
    assert client.get("desync:a") == "reply-of-a"


class TestNoReplyReachesTheWrongCaller:
    """A timed-out connection is discarded, never handed to the next caller owing a reply."""

    def test_on_one_server(self, single: EmbeddedRedis) -> None:
        """The plain connection, for comparison: it disconnects on a timeout."""
        client = connect(single.url, 0.5)
        assert_replies_reach_their_callers(client, single.port, None)

    def test_on_sentinel(self, sentinel: LocalSentinel) -> None:
        """The Sentinel-managed connection disconnects on a timeout too."""
        client = connect(sentinel.url, 0.5)
        assert_replies_reach_their_callers(client, sentinel.master_port(), PASSWORD)


def phone() -> str:
    """A destination of this test's own."""
    return f"+1415556{secrets.randbelow(10_000):04d}"


@contextmanager
def paused(server: EmbeddedRedis) -> Iterator[None]:
    """SIGSTOP the server for the block, SIGCONT after it, whatever happens."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def app_on(url: str, settings: Settings, clock: FakeClock, sender: CapturingSender) -> Flask:
    """The app on the Redis of ``url`` (its own default durability unless ``settings`` says)."""
    senders = {Channel.SMS: sender, Channel.EMAIL: sender}
    return create_app(replace(settings, redis_url=url), clock=clock, senders=senders)


class TestAcknowledgedWrites:
    """On Sentinel a write is answered only once a replica has it; else 503, never approved."""

    def test_a_check_is_503_while_no_replica_acknowledges(
        self, sentinel: LocalSentinel, settings: Settings, clock: FakeClock
    ) -> None:
        """The replica paused: the right code answers 503 with Retry-After, not approved."""
        sender = CapturingSender()
        api = Api(app_on(sentinel.url, settings, clock, sender).test_client(), sender)
        verification_id, code = api.started(phone())
        assert sentinel.replica is not None
        with paused(sentinel.replica):
            response = api.check(verification_id, code)
        assert 503 == response.status_code
        assert response.headers["Retry-After"]

    def test_a_failed_wait_makes_the_pool_ask_the_sentinels_again(
        self, sentinel: LocalSentinel
    ) -> None:
        """Too few acknowledgements: StoreUnavailable, and no pooled connection is kept."""
        client = connect(sentinel.url, 2.0)
        runner = ScriptRunner(client, Durability(wait_replicas=2, wait_timeout_ms=100))
        script = client.register_script("redis.call('SET', KEYS[1], 'x') return 'done'")
        assert "done" == ScriptRunner(client, Durability(1, 1000)).run(
            "probe", script, ["ack:probe"], [], one_of("done")
        )
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert pool.master_address is not None
        with pytest.raises(StoreUnavailable):
            runner.run("probe", script, ["ack:probe"], [], one_of("done"))
        assert pool.master_address is None
        assert not pool._available_connections


class TestRediscovery:
    """A Sentinel pool forgets its master after a failure, so the next command asks again."""

    def test_a_timeout_drops_the_pooled_connections(self, sentinel: LocalSentinel) -> None:
        """Idle connections to the master and its address are dropped after a timed-out script."""
        client = connect(sentinel.url, 0.3)
        runner = ScriptRunner(client, Durability(wait_replicas=0))
        script = client.register_script("return 'done'")
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        held = [pool.get_connection() for _ in range(3)]
        for connection in held:
            pool.release(connection)
        pause(sentinel.master_port(), PASSWORD, 600)
        with pytest.raises(StoreUnavailable):
            runner.run("probe", script, ["x"], [], one_of("done"))
        assert pool.master_address is None
        assert not pool._available_connections
        time.sleep(COOL_DOWN_SECONDS)  # the pause ends, and the master's breaker lets a probe in
        assert "done" == runner.run("probe", script, ["x"], [], one_of("done"))


class TestStrictReplies:
    """Only the literal success value approves; any other reply is a 503 and a log line."""

    def test_a_foreign_reply_to_approve_is_503_and_logged(
        self,
        single: EmbeddedRedis,
        settings: Settings,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """``approve`` answered with another script's reply (what a desynchronised connection
        delivered): the check is a 503, the log names the script, the code stays unapproved."""
        sender = CapturingSender()
        app = app_on(single.url, settings, clock, sender)
        api = Api(app.test_client(), sender)
        verification_id, code = api.started(phone())
        store = app.extensions[EXTENSION_KEY].store
        store._scripts["approve"] = store.client.register_script(
            "return {'ok', 'h', '1', '5', 'to', '0'}"
        )
        with caplog.at_level(logging.ERROR, logger="otp_service.storage.scripts"):
            response = api.check(verification_id, code)
        assert 503 == response.status_code
        assert any("approve" in record.getMessage() for record in caplog.records)
        status = api.http.get(f"/v1/verifications/{verification_id}", headers=auth())
        assert "pending" == status.get_json()["status"]


@pytest.fixture(name="cluster", scope="module")
def _cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster(replicas=1).start()
    yield cluster
    cluster.stop()


class TestClusterFailsClosedInTime:
    """A paused Cluster master: 503 with Retry-After within the Redis timeout, not after retries."""

    @pytest.mark.parametrize("wait_replicas", [0, 1])
    def test_a_paused_master_is_503_within_the_timeout(
        self, cluster: LocalCluster, settings: Settings, clock: FakeClock, wait_replicas: int
    ) -> None:
        """OTP_REDIS_TIMEOUT_SECONDS=2: the check answers 503 within 2.5 s."""
        sender = CapturingSender()
        settings = replace(settings, redis_wait_replicas=wait_replicas)
        app = app_on(cluster.url, settings, clock, sender)
        api = Api(app.test_client(), sender)
        verification_id, code = api.started(phone())
        store = app.extensions[EXTENSION_KEY].store
        with paused(cluster.master_of(store.verification_key(verification_id))):
            started = time.monotonic()
            response = api.check(verification_id, code)
            elapsed = time.monotonic() - started
        assert 503 == response.status_code
        assert response.headers["Retry-After"]
        assert elapsed < 2.5


class TestReadinessReportsReplication:
    """/readyz says what writes rely on, and is not ready when they cannot be acknowledged."""

    def test_ready_when_the_replicas_asked_for_are_connected(
        self, sentinel: LocalSentinel, settings: Settings, clock: FakeClock
    ) -> None:
        """Sentinel, one replica, the default WAIT 1: ready, and the state is shown."""
        response = app_on(sentinel.url, settings, clock, CapturingSender()).test_client()
        body = response.get("/readyz").get_json()
        assert "replication" in body["ok"]
        assert {"role": "master", "connected_replicas": 1, "wait_replicas": 1} == body[
            "replication"
        ]

    def test_not_ready_when_fewer_replicas_than_asked_are_connected(
        self, sentinel: LocalSentinel, settings: Settings, clock: FakeClock
    ) -> None:
        """OTP_REDIS_WAIT_REPLICAS=2 with one replica: 503, and ``failing`` says why."""
        settings = replace(settings, redis_wait_replicas=2)
        response = app_on(sentinel.url, settings, clock, CapturingSender()).test_client()
        ready = response.get("/readyz")
        assert 503 == ready.status_code
        assert "OTP_REDIS_WAIT_REPLICAS" in ready.get_json()["failing"]["replication"]

    def test_a_cluster_reports_its_fewest_replicas(
        self, cluster: LocalCluster, settings: Settings, clock: FakeClock
    ) -> None:
        """Every Cluster master has its replica: ready with the default WAIT 1."""
        response = app_on(cluster.url, settings, clock, CapturingSender()).test_client()
        body = response.get("/readyz").get_json()
        assert "replication" in body["ok"], body
        assert 1 == body["replication"]["connected_replicas"]


class TestRateLimitWritesAreAcknowledged:
    """The ``limits`` storage's writes wait for replicas too; reads and resets do not."""

    def test_a_hit_is_503_while_no_replica_acknowledges(self, sentinel: LocalSentinel) -> None:
        """Sentinel: a hit counts when the replica has it, and is StoreUnavailable when paused."""
        storage = limits_storage(sentinel.url, "ack", 2.0, Durability(1, 300))
        limiter = MovingWindowRateLimiter(storage)
        item = parse("5/minute")
        assert limiter.hit(item, "ack", phone())
        assert sentinel.replica is not None
        with paused(sentinel.replica), pytest.raises(StoreUnavailable):
            limiter.hit(item, "ack", phone())

    def test_counts_are_read_from_the_master(self, sentinel: LocalSentinel) -> None:
        """Sentinel: the storage reads where it writes (a replica may lag behind)."""
        storage = limits_storage(sentinel.url, "ack", 2.0, Durability(1, 300))
        master = storage.get_connection(readonly=True).connection_pool  # type: ignore[attr-defined]
        assert master.is_master

    def test_hits_on_a_cluster_wait_on_the_node_of_their_key(self, cluster: LocalCluster) -> None:
        """Cluster: each hit's WAIT goes to the master of its key (elsewhere it would fail)."""
        storage = limits_storage(cluster.url, "ack", 2.0, Durability(1, 1000))
        limiter = MovingWindowRateLimiter(storage)
        item = parse("5/minute")
        assert all(limiter.hit(item, "ack", phone()) for _ in range(12))
        assert 1 == storage.incr("consecutive/ack", 60)


class TestABrokenNodeIsWaitedOnOnce:
    """After one timeout, calls to that node fail at once (503) instead of queueing behind it."""

    def test_on_sentinel(self, sentinel: LocalSentinel) -> None:
        """A paused Sentinel master: the first call times out, the next is refused at once."""
        client = connect(sentinel.url, 0.5)
        client.set("breaker:a", "1")
        pause(sentinel.master_port(), PASSWORD, 1500)
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.get("breaker:a")
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            client.get("breaker:a")
        assert (first >= 0.45, time.monotonic() - started < 0.1) == (True, True)

    def test_on_cluster(self, cluster: LocalCluster, settings: Settings, clock: FakeClock) -> None:
        """Checks on a paused Cluster master: one waits the timeout, the next answer at once."""
        sender = CapturingSender()
        app = app_on(cluster.url, settings, clock, sender)
        api = Api(app.test_client(), sender)
        first_id, first_code = api.started(phone())
        store = app.extensions[EXTENSION_KEY].store
        master = cluster.master_of(store.verification_key(first_id))
        elapsed = []
        with paused(master):
            for _ in range(3):
                started = time.monotonic()
                assert 503 == api.check(first_id, first_code).status_code
                elapsed.append(time.monotonic() - started)
        assert elapsed[0] > 1.5
        assert max(elapsed[1:]) < 0.5
