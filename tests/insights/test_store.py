"""
The insights store and recorder on a real Redis: one slot per client and hour, memory bounded by
the retention, figures lost (never a request) when Redis fails, nothing counted when switched off.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.events import Event, EventKind
from otp_service.core.models import Channel
from otp_service.insights import InsightsRecorder, InsightsStore, Retention
from otp_service.insights.models import DAY_MS, HOUR_MS
from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import free_port
from tests.support import NAME_KEY, PHONE, Api, CapturingSender, FakeClock


def _api(settings: Settings, clock: FakeClock, **overrides: Any) -> Api:
    sender = CapturingSender()
    changed = dataclasses.replace(settings, **overrides)
    return Api(
        create_app(changed, clock=clock, senders={Channel.SMS: sender}).test_client(), sender
    )


def _approve(api: Api) -> None:
    verification_id, code = api.started()
    assert 200 == api.check(verification_id, code).status_code


def _insight_keys(client: redis.Redis, prefix: str) -> list[str]:
    return sorted(client.scan_iter(match=f"{prefix}:ins:*"))


def test_an_hours_keys_share_one_slot_and_expire(
    settings: Settings, clock: FakeClock, redis_client: redis.Redis, prefix: str
) -> None:
    """Counters and attempt records of a client's hour: one hash tag, kept at most the retention
    (from the end of the hour), the records for their shorter one."""
    _approve(_api(settings, clock))
    counts, attempts = f"{prefix}:ins:{{acme:2027011508}}:n", f"{prefix}:ins:{{acme:2027011508}}:a"
    assert [attempts, counts] == _insight_keys(redis_client, prefix)
    assert key_slot(counts.encode()) == key_slot(attempts.encode())
    assert 35 * DAY_MS < int(redis_client.pttl(counts)) <= 35 * DAY_MS + HOUR_MS  # type: ignore[arg-type]
    assert 29 * DAY_MS < int(redis_client.pttl(attempts)) <= 30 * DAY_MS + HOUR_MS  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "suffixes"),
    [({"insights_retention_days": 0}, []), ({"insights_attempt_days": 0}, [":n"])],
    ids=["nothing-counted", "no-attempt-records"],
)
def test_retention_zero_keeps_nothing(
    settings: Settings,
    clock: FakeClock,
    redis_client: redis.Redis,
    prefix: str,
    overrides: dict[str, int],
    suffixes: list[str],
) -> None:
    """A retention of 0 days keeps no counters (or no attempt records)."""
    _approve(_api(settings, clock, **overrides))
    assert suffixes == [key[-2:] for key in _insight_keys(redis_client, prefix)]


def test_a_redis_failure_loses_the_figure_not_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The recorder logs a Redis failure and returns: what it counts already happened."""
    down = connect(f"redis://127.0.0.1:{free_port()}/0", 0.5)
    recorder = InsightsRecorder(
        InsightsStore(down, "p", name_key=NAME_KEY), FakeClock(), Retention()
    )
    event = Event(
        EventKind.DELIVERED,
        "acme",
        "vf_" + "0" * 32,
        channel="sms",
        to=PHONE,
        detail={"send": 1, "sent_ms": FakeClock().ms},
    )
    with caplog.at_level(logging.WARNING):
        recorder.record(event)
    assert "script insights_record failed: Redis is unavailable" in caplog.text
    down.close()
