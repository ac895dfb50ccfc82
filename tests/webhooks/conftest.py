"""Fixtures of the webhook tests: a verifying receiver, an app that sends to it, a worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import cast

import pytest
import redis
from flask import Flask

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from otp_service.services import Services
from otp_service.webhooks import EVENT_TYPES, Endpoint
from otp_service.worker import start_worker
from tests.support import CapturingSender, FakeClock
from tests.webhooks.receiver import SECRET, Receiver, receiving


@pytest.fixture(name="receiver")
def _receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


@pytest.fixture(name="hook_settings")
def _hook_settings(settings: Settings, receiver: Receiver) -> Settings:
    """Every event type of client acme to the receiver; a destination locks after 3 failures."""
    endpoint = Endpoint("acme", receiver.url, SECRET, frozenset(EVENT_TYPES))
    return replace(
        settings, webhooks=(endpoint,), webhooks_allow_private=True, max_consecutive_failures=3
    )


@pytest.fixture(name="hook_app")
def _hook_app(
    hook_settings: Settings, clock: FakeClock, sender: CapturingSender, redis_client: redis.Redis
) -> Flask:
    senders = {Channel.SMS: sender, Channel.EMAIL: sender}
    return create_app(hook_settings, clock=clock, senders=senders)


@pytest.fixture(name="hook_services")
def _hook_services(hook_app: Flask) -> Services:
    return cast(Services, hook_app.extensions["otp_service"])


@pytest.fixture(name="worker")
def _worker(hook_services: Services) -> Iterator[None]:
    """A job worker in this process, on the app's services."""
    worker = start_worker(hook_services, threads=2)
    yield
    worker.stop()
