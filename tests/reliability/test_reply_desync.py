"""
A call that times out must never leave its reply for the next caller: after a timed-out call on a
pooled connection, the next call on the same pool gets its own answer or an error, never the
timed-out call's reply (which, for a script, can be another verification's ``['ok', ...]``).

Deterministic: ``CLIENT PAUSE`` holds the server a little past the client's timeout; the next call
is sent while it is still paused, so the late reply is not yet on the socket when the pool hands
the connection out again, and arrives first once the pause ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import EmbeddedRedis
from tests.servers.topologies import PASSWORD, LocalSentinel

pytestmark = pytest.mark.slow

TIMEOUT_SECONDS = 0.4
#: Ends after the first call's timeout and before the second call's.
PAUSE_MS = 600


@pytest.fixture(name="topology", scope="module", params=["redis", "redis+sentinel"])
def _topology(request: pytest.FixtureRequest) -> Iterator[tuple[str, redis.Redis]]:
    """A URL of each kind, and an admin client of the server it writes to."""
    if request.param == "redis":
        with EmbeddedRedis() as server, redis.Redis(port=server.port) as admin:
            yield server.url, admin
        return
    sentinel = LocalSentinel().start()
    try:
        with redis.Redis(port=sentinel.master_port(), password=PASSWORD) as admin:
            yield sentinel.url, admin
    finally:
        sentinel.stop()


def test_a_timed_out_reply_never_reaches_the_next_call(
    topology: tuple[str, redis.Redis],
) -> None:
    """GET a times out during a pause; GET b, sent at once, answers b's value or fails."""
    url, admin = topology
    client = connect(url, TIMEOUT_SECONDS)
    client.set("desync:a", "value of a")
    client.set("desync:b", "value of b")
    admin.client_pause(PAUSE_MS, all=True)
    with pytest.raises(redis.TimeoutError):
        client.get("desync:a")
    try:
        answer = client.get("desync:b")
    except redis.RedisError:
        return  # failing is allowed; answering with a's reply is not
    assert answer == "value of b"
