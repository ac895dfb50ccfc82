"""
Fixtures of the reliability tests: a Redis of the test's own (so it may crash, freeze or restart
it without touching the session's), and the app on it with short timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from tests.conftest import make_clients
from tests.reliability.support import REDIS_TIMEOUT_SECONDS, FaultyRedis
from tests.support import PEPPER, Api, CapturingSender, FakeClock


@pytest.fixture(name="faulty_redis")
def _faulty_redis() -> Iterator[FaultyRedis]:
    """A throwaway redis-server this test may kill, pause or restart (on the same port)."""
    with FaultyRedis(allows_debug=True) as server:
        yield server


@pytest.fixture(name="fault_settings")
def _fault_settings(faulty_redis: FaultyRedis, prefix: str) -> Settings:
    """Development settings on the faulty Redis, with a 0.5 s Redis timeout."""
    return Settings(
        env="development",
        redis_url=faulty_redis.url,
        redis_prefix=prefix,
        redis_timeout_seconds=REDIS_TIMEOUT_SECONDS,
        pepper=PEPPER,
        api_keys=make_clients(),
        sms_provider="dev",
        email_provider="dev",
        argon2_profile="test",
    )


@pytest.fixture(name="fault_api")
def _fault_api(fault_settings: Settings, clock: FakeClock, sender: CapturingSender) -> Api:
    """The API driver of an app on the faulty Redis."""
    app = create_app(
        fault_settings, clock=clock, senders={Channel.SMS: sender, Channel.EMAIL: sender}
    )
    return Api(app.test_client(), sender)
