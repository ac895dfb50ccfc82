"""The per-node circuit breaker: a node that just failed is not waited on again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import redis

from otp_service.storage.breaker import BREAKER, COOL_DOWN_SECONDS, NodeBreaker
from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import EmbeddedRedis

TIMEOUT = 0.5


class FakeTime:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_node_is_refused_then_probed_once() -> None:
    """Open after a failure; after the cool-down one probe goes, the others wait for it."""
    clock = FakeTime()
    breaker = NodeBreaker(1.0, clock)
    assert breaker.allow("a:1", 2.0)
    breaker.failed("a:1")
    assert not breaker.allow("a:1", 2.0)
    assert breaker.allow("b:1", 2.0)  # other nodes are not affected
    clock.now += 1.0
    probe, other = object(), object()
    assert breaker.allow("a:1", 2.0, probe)
    assert breaker.allow("a:1", 2.0, probe)  # its handshake is several commands
    assert not breaker.allow("a:1", 2.0, other)  # the others, while the probe is out
    breaker.succeeded("a:1")
    assert breaker.allow("a:1", 2.0)


def test_a_lost_probe_lets_another_probe_go() -> None:
    """A probe that never answers does not keep the node closed forever."""
    clock = FakeTime()
    breaker = NodeBreaker(1.0, clock)
    breaker.failed("a:1")
    clock.now += 1.0
    assert breaker.allow("a:1", 2.0)
    clock.now += 2.0
    assert breaker.allow("a:1", 2.0)


def test_a_failed_probe_opens_it_again() -> None:
    """The probe's failure starts a new cool-down."""
    clock = FakeTime()
    breaker = NodeBreaker(1.0, clock)
    breaker.failed("a:1")
    clock.now += 1.0
    assert breaker.allow("a:1", 2.0)
    breaker.failed("a:1")
    assert breaker.is_open("a:1")
    assert not breaker.allow("a:1", 2.0)


@pytest.fixture(name="server")
def _server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


def _timed(call: object) -> tuple[type[BaseException] | None, float]:
    started = time.monotonic()
    try:
        call()  # type: ignore[operator]
    except redis.RedisError as error:
        return type(error), time.monotonic() - started
    return None, time.monotonic() - started


def test_a_paused_server_is_waited_on_once(server: EmbeddedRedis) -> None:
    """
    Against a real SIGSTOPped redis-server: the first command times out, the next fails at once;
    once the server is back and the cool-down over, commands succeed again.
    """
    client = connect(server.url, TIMEOUT)
    client.ping()
    os.kill(server.pid, signal.SIGSTOP)
    try:
        first, first_took = _timed(client.ping)
        second, second_took = _timed(client.ping)
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert redis.TimeoutError is first
    assert first_took >= TIMEOUT * 0.9
    assert redis.ConnectionError is second
    assert second_took < 0.1
    time.sleep(COOL_DOWN_SECONDS)
    assert client.ping()
    assert not BREAKER.is_open(f"127.0.0.1:{server.port}")
    client.close()
