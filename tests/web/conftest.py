"""
Fixtures of the web tests: an app whose Redis is down, and its test client.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from otp_service.storage.embedded_redis import free_port
from tests.support import CapturingSender, FakeClock


@pytest.fixture(name="down_app")
def _down_app(settings: Settings, clock: FakeClock, sender: CapturingSender) -> Flask:
    """The app on a Redis URL where nothing listens (making the app does no I/O)."""
    down = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    return create_app(down, clock=clock, senders={Channel.SMS: sender, Channel.EMAIL: sender})


@pytest.fixture(name="down_http")
def _down_http(down_app: Flask) -> FlaskClient:
    return down_app.test_client()
