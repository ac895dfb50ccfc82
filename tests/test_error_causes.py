"""Errors that name their cause: Redis down, a channel without a provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from otp_service.storage.embedded_redis import EmbeddedRedis
from tests.conftest import make_clients
from tests.support import EMAIL, PEPPER, PHONE, CapturingSender, auth


@pytest.fixture(name="app_on_stopped_redis")
def _app_on_stopped_redis() -> Flask:
    """The app on the address of a Redis that was started, then stopped."""
    with EmbeddedRedis() as stopped:
        url = stopped.url
    settings = Settings(
        env="development",
        redis_url=url,
        pepper=PEPPER,
        api_keys=make_clients(),
        argon2_profile="test",
        redis_timeout_seconds=0.5,
    )
    return create_app(settings, senders={Channel.SMS: CapturingSender()})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/verifications", {"to": PHONE, "channel": "sms"}),
        ("/v1/verifications/vf_4b3286a6d247c89354c6d91b4e3f3673/check", {"code": "123456"}),
    ],
)
def test_redis_down_is_redis_is_unavailable(
    app_on_stopped_redis: Flask, path: str, body: dict[str, str]
) -> None:
    """The caller reads that Redis is down, not that some 'rate-limit store' is."""
    response = app_on_stopped_redis.test_client().post(path, json=body, headers=auth())
    assert 503 == response.status_code
    assert "Redis is unavailable" == response.get_json()["detail"]


def test_a_channel_without_a_provider_says_so(settings: Settings) -> None:
    """The client may use email, but no email provider is configured: say that."""
    app = create_app(settings, senders={Channel.SMS: CapturingSender()})
    response = app.test_client().post(
        "/v1/verifications", json={"to": EMAIL, "channel": "email"}, headers=auth()
    )
    assert 403 == response.status_code
    assert "The email channel has no provider configured." == response.get_json()["detail"]


def test_a_unix_socket_url_serves(tmp_path: Path) -> None:
    """unix:// is an accepted scheme: the store and the rate limits both work on it."""
    socket_path = tmp_path / "redis.sock"
    extra = ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    with EmbeddedRedis(extra_args=extra):
        settings = Settings(
            env="development",
            redis_url=f"unix://{socket_path}",
            redis_prefix="unixtest",
            pepper=PEPPER,
            api_keys=make_clients(),
            argon2_profile="test",
        )
        app = create_app(settings, senders={Channel.SMS: CapturingSender()})
        response = app.test_client().post(
            "/v1/verifications", json={"to": PHONE, "channel": "sms"}, headers=auth()
        )
    assert 201 == response.status_code, response.get_json()
