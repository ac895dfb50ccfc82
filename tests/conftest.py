"""
Fixtures: a real redis-server for the session (or REDIS_URL), per-test key prefixes, the app.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Client, Policy, Scope
from otp_service.storage.breaker import BREAKER
from otp_service.storage.embedded_redis import EmbeddedRedis, free_port
from tests.support import KEYS, PEPPER, SCOPES, Api, CapturingSender, FakeClock, key_sha256


@pytest.fixture(name="redis_url", scope="session")
def _redis_url() -> Iterator[str]:
    """A real Redis: REDIS_URL when given, else a throwaway redis-server on a free port."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(autouse=True)
def _no_otp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's OTP_* variables."""
    for name in list(os.environ):
        if name.startswith("OTP_"):
            monkeypatch.delenv(name)


@pytest.fixture(name="prefix")
def _prefix() -> str:
    """A key prefix of this test's own: tests never touch each other's keys."""
    return "t" + secrets.token_hex(6)


@pytest.fixture(name="redis_client")
def _redis_client(redis_url: str, prefix: str) -> Iterator[redis.Redis]:
    """A client of the test Redis; deletes this test's keys afterwards (and only those)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def make_clients(policy: Policy | None = None) -> tuple[Client, ...]:
    """The test clients, with one shared policy."""
    return tuple(
        Client(name, key_sha256(key), frozenset(SCOPES[name]), policy or Policy())
        for name, key in KEYS.items()
    )


@pytest.fixture(name="settings")
def _settings(redis_url: str, prefix: str) -> Settings:
    """Development settings on the test Redis, with the cheapest argon2 profile."""
    return Settings(
        env="development",
        redis_url=redis_url,
        redis_prefix=prefix,
        pepper=PEPPER,
        api_keys=make_clients(),
        sms_provider="dev",
        email_provider="dev",
        argon2_profile="test",
    )


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="sender")
def _sender() -> CapturingSender:
    return CapturingSender()


@pytest.fixture(name="app")
def _app(
    settings: Settings, clock: FakeClock, sender: CapturingSender, redis_client: redis.Redis
) -> Flask:
    return create_app(settings, clock=clock, senders={Channel.SMS: sender, Channel.EMAIL: sender})


@pytest.fixture(name="http")
def _http(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(name="api")
def _api(http: FlaskClient, sender: CapturingSender) -> Api:
    return Api(http, sender)


__all__ = ["Scope", "make_clients"]


@pytest.fixture(name="down_app")
def _down_app(settings: Settings, clock: FakeClock, sender: CapturingSender) -> Flask:
    """The app on a Redis URL where nothing listens (making the app does no I/O)."""
    down = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    return create_app(down, clock=clock, senders={Channel.SMS: sender, Channel.EMAIL: sender})


@pytest.fixture(name="down_http")
def _down_http(down_app: Flask) -> FlaskClient:
    return down_app.test_client()


@pytest.fixture(autouse=True)
def _fresh_breakers() -> None:
    """Each test starts with every node's breaker closed (servers reuse freed ports)."""
    BREAKER.reset()
