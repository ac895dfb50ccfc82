"""
The app factory: settings → logging → services → blueprints → problems (practice 2). No I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import redis
from flask import Flask

from otp_service.codes import CodeHasher
from otp_service.delivery import Sender
from otp_service.delivery.build import build_senders
from otp_service.events import FanOut
from otp_service.models import Channel, Clock, SystemClock
from otp_service.observability import configure_logging
from otp_service.services import Services
from otp_service.settings import Settings
from otp_service.store import RedisStore, connect
from otp_service.verifications import VerificationService
from otp_service.web import register_blueprints
from otp_service.web.problems import register_problem_handlers


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    senders: Mapping[Channel, Sender] | None = None,
    redis_client: redis.Redis | None = None,
) -> Services:
    """Wire the collaborators; tests pass their own clock or senders."""
    store = RedisStore(
        redis_client or connect(settings.redis_url, settings.redis_timeout_seconds),
        settings.redis_prefix,
    )
    hasher = CodeHasher(settings.pepper, settings.argon2_profile)
    senders = build_senders(settings, store) if senders is None else senders
    clock = clock or SystemClock()
    events = FanOut()
    return Services(
        settings=settings,
        store=store,
        hasher=hasher,
        senders=senders,
        verifications=VerificationService(store, hasher, senders, clock, events),
        clients_by_key_hash={client.key_sha256: client for client in settings.api_keys},
        events=events,
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    senders: Mapping[Channel, Sender] | None = None,
    redis_client: redis.Redis | None = None,
) -> Flask:
    """
    Build the Flask app.

    Raises:
        ConfigError: the environment is not a valid configuration (when ``settings`` is None).
    """
    settings = settings or Settings.from_env(os.environ)
    configure_logging(settings.log_level, allow_dev_delivery=settings.is_development)
    services = build_services(settings, clock=clock, senders=senders, redis_client=redis_client)
    app = Flask("otp_service")
    register_blueprints(app, services)
    register_problem_handlers(app)
    return app
