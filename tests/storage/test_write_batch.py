"""
Unread writes made as a request finishes: queued in ``batched_writes`` and sent in one pipeline
at its end; NOSCRIPT answered for some sends those again, once; a required write fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from otp_service.core.errors import StoreUnavailable
from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import free_port
from otp_service.storage.scripts import Durability, ScriptRunner
from otp_service.storage.write_batch import batched_writes

_INCR = "return redis.call('INCR', KEYS[1])"
_FAIL = "return redis.error_reply('refused')"


class _Writes:
    count = 0


@contextmanager
def _counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Writes]:
    """Count the writes to Redis connections (a pipeline is one)."""
    writes = _Writes()
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self: redis.connection.AbstractConnection, *args: object, **kwargs: object) -> None:
        writes.count += 1
        send(self, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    yield writes


def test_the_writes_of_a_batch_go_in_one_round_trip_when_it_ends(
    redis_client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is written inside the block; at its end, every write in one round trip."""
    runner = ScriptRunner(redis_client, Durability())
    incr = redis_client.register_script(_INCR)
    redis_client.script_load(_INCR)
    keys = [f"{prefix}:a", f"{prefix}:b", f"{prefix}:c"]
    with _counted(monkeypatch) as writes:
        with batched_writes(redis_client, cluster=False):
            for key in keys:
                runner.write("incr", incr, [key], [], required=False)
            assert [None, None, None] == redis_client.mget(keys)
            inside = writes.count
        assert 1 == writes.count - inside
    assert ["1", "1", "1"] == redis_client.mget(keys)


def test_scripts_redis_does_not_know_are_sent_again_alone(
    redis_client: redis.Redis, prefix: str
) -> None:
    """After NOSCRIPT for one write, only that one is sent in full: the others count once."""
    runner = ScriptRunner(redis_client, Durability())
    known = redis_client.register_script(_INCR)
    redis_client.script_load(_INCR)
    unknown_body = _INCR + " -- never loaded " + prefix
    unknown = redis_client.register_script(unknown_body)
    with batched_writes(redis_client, cluster=False):
        runner.write("known", known, [f"{prefix}:known"], [], required=False)
        runner.write("unknown", unknown, [f"{prefix}:unknown"], [], required=True)
    assert ["1", "1"] == redis_client.mget(f"{prefix}:known", f"{prefix}:unknown")


def test_a_failed_required_write_fails_closed_and_any_other_is_logged(
    redis_client: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed write marked required is StoreUnavailable; an optional one is only logged."""
    runner = ScriptRunner(redis_client, Durability())
    fail = redis_client.register_script(_FAIL)
    with caplog.at_level(logging.WARNING), batched_writes(redis_client, cluster=False):
        runner.write("optional", fail, [f"{prefix}:x"], [], required=False)
    assert "script optional failed in a batch" in caplog.text
    with pytest.raises(StoreUnavailable), batched_writes(redis_client, cluster=False):
        runner.write("required", fail, [f"{prefix}:x"], [], required=True)


def test_on_a_cluster_each_write_runs_at_once(redis_client: redis.Redis, prefix: str) -> None:
    """Keys on several nodes cannot share a pipeline: a Cluster writes each one as it comes."""
    runner = ScriptRunner(redis_client, Durability())
    incr = redis_client.register_script(_INCR)
    with batched_writes(redis_client, cluster=True):
        runner.write("incr", incr, [f"{prefix}:now"], [], required=True)
        assert "1" == redis_client.get(f"{prefix}:now")


def test_an_unreachable_redis_loses_only_optional_writes(prefix: str) -> None:
    """With Redis down, a batch of optional writes is lost quietly; a required one is 503."""
    down = connect(f"redis://127.0.0.1:{free_port()}/0", 0.5)
    runner = ScriptRunner(down, Durability())
    incr = down.register_script(_INCR)
    with batched_writes(down, cluster=False):
        runner.write("incr", incr, [f"{prefix}:k"], [], required=False)
    with pytest.raises(StoreUnavailable), batched_writes(down, cluster=False):
        runner.write("incr", incr, [f"{prefix}:k"], [], required=True)
