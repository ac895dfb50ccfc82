"""
Through timeouts and failovers a reply reaches only its own caller, and writes are acknowledged
by replicas before the service answers: on a real Sentinel topology and, for comparison, on one
server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from otp_service.embedded_redis import EmbeddedRedis
from otp_service.redis_connection import connect
from tests.ops.topologies import PASSWORD, LocalSentinel


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
