"""
The app factory: settings → logging → services → blueprints → problems. No I/O.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from otp_service.abuse import AbuseGuard, DestinationLockouts, limits_key_prefix, limits_storage
from otp_service.config.settings import Settings
from otp_service.core.codes import CodeHasher
from otp_service.core.events import FanOut
from otp_service.core.ip_addresses import Network, is_in, parse_networks
from otp_service.core.models import Channel, Clock, SystemClock, key_name_key
from otp_service.delivery import Sender
from otp_service.delivery.build import build_senders
from otp_service.fraud import FraudGuard, FraudMode, FraudStore
from otp_service.insights import Insights, InsightsRecorder, InsightsStore, Retention
from otp_service.ops.audit import AuditTrail
from otp_service.ops.logs import configure_logging
from otp_service.ops.metrics import Metrics
from otp_service.outbound import Renderers, build_job_queue, build_outbound
from otp_service.passkeys import PasskeyService, PasskeyStore, RelyingParty
from otp_service.services import Services
from otp_service.storage.audit_stream import AuditStream
from otp_service.storage.connection import connect, default_wait_replicas
from otp_service.storage.dev_outbox import DevOutbox
from otp_service.storage.scripts import Durability
from otp_service.storage.server_clock import ServerClock
from otp_service.totp.keys import TotpKeyring, new_key
from otp_service.totp.service import TotpService
from otp_service.totp.store import TotpStore
from otp_service.tracing import start_tracing
from otp_service.verify.idempotency import RETENTION, Idempotency
from otp_service.verify.idempotency_store import IdempotencyStore
from otp_service.verify.service import VerificationService
from otp_service.verify.store import RedisStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
from otp_service.web import register_blueprints
from otp_service.web.metrics import register_metrics
from otp_service.web.problems import register_problem_handlers
from otp_service.web.resources import factor_data, passkey_data, verification_data

#: How webhooks render the resources they carry: as the API does.
RENDERERS = Renderers(verification_data, factor_data, passkey_data)


def _audit_trail(settings: Settings, store: RedisStore) -> AuditTrail:
    if not settings.audit_stream:
        return AuditTrail()
    stream = AuditStream(store.client, settings.redis_prefix, settings.audit_stream_maxlen)
    return AuditTrail(stream.append)


def durability(settings: Settings) -> Durability:
    """How many replicas acknowledge each write: the setting, else what the URL's topology has."""
    replicas = settings.redis_wait_replicas
    if replicas is None:
        replicas = default_wait_replicas(settings.redis_url)
    timeout_ms = settings.redis_wait_timeout_ms
    if timeout_ms is None:
        timeout_ms = min(500, int(settings.redis_timeout_seconds * 500))
    return Durability(replicas, max(timeout_ms, 1))


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
        durability(settings),
        name_key=key_name_key(settings.pepper),
        # The system clock (of any host) defers to Redis's TIME inside the scripts; a test's own
        # clock is the one the scripts use.
        server_time=clock is None or isinstance(clock, SystemClock),
    )
    hasher = CodeHasher(settings.pepper, settings.argon2_profile)
    outbox = DevOutbox(store.client, settings.redis_prefix)
    senders = build_senders(settings, outbox) if senders is None else senders
    clock = clock or SystemClock()
    if store.server_time:
        clock = ServerClock(store, clock)
    events = FanOut([_audit_trail(settings, store)])
    jobs = build_job_queue(settings)
    fraud = FraudGuard(
        FraudStore(
            store.client,
            settings.redis_prefix,
            store.durability,
            name_key=key_name_key(settings.pepper),
            server_time=store.server_time,
        ),
        FraudMode(settings.fraud_guard),
        settings.fraud_safe_list,
        events,
        clock,
    )
    guard = AbuseGuard(
        lambda: limits_storage(
            settings.redis_url,
            settings.redis_prefix,
            settings.redis_timeout_seconds,
            store.durability,
        ),
        events,
        sms_country_limit=settings.sms_country_limit,
        sms_country_limits=dict(settings.sms_country_limits),
        max_consecutive_failures=settings.max_consecutive_failures,
        lockouts=DestinationLockouts(
            store.client,
            settings.redis_prefix,
            store.durability,
            name_key=key_name_key(settings.pepper),
            server_time=store.server_time,
        ),
        lockout_schedule=settings.lockout_schedule,
        name_key=key_name_key(settings.pepper),
        fraud=fraud,
        key_prefix=limits_key_prefix(settings.redis_prefix),
    )
    return Services(
        settings=settings,
        store=store,
        abuse=guard,
        fraud=fraud,
        outbox=outbox,
        hasher=hasher,
        senders=senders,
        verifications=VerificationService(store, hasher, senders, clock, events, guard, jobs),
        clients_by_key_hash={client.key_sha256: client for client in settings.api_keys},
        events=events,
        totp=_totp_service(settings, store, hasher, clock, events),
        idempotency=_idempotency(settings, store, clock),
        passkeys=_passkey_service(settings, store, clock, events),
        insights=_insights(settings, store, clock, events),
        jobs=jobs,
        outbound=build_outbound(settings, store, jobs, events, clock, RENDERERS) if jobs else None,
    )


def _passkey_service(
    settings: Settings, store: RedisStore, clock: Clock, events: FanOut
) -> PasskeyService:
    name_key = key_name_key(settings.pepper)
    passkeys = PasskeyStore(
        store.client,
        settings.redis_prefix,
        store.durability,
        name_key=name_key,
        server_time=store.server_time,
    )
    relying_party = RelyingParty(
        settings.webauthn_rp_id or "localhost",
        settings.webauthn_rp_name or settings.brand_name,
        settings.webauthn_origins,
    )
    return PasskeyService(
        passkeys,
        relying_party,
        clock,
        events,
        name_key=name_key,
        max_consecutive_failures=settings.max_consecutive_failures,
        lockout_schedule=settings.lockout_schedule,
    )


def _insights(settings: Settings, store: RedisStore, clock: Clock, events: FanOut) -> Insights:
    """The conversion figures: counted from the events unless their retention is 0."""
    insights_store = InsightsStore(
        store.client,
        settings.redis_prefix,
        name_key=key_name_key(settings.pepper),
        server_time=store.server_time,
    )
    retention = Retention(settings.insights_retention_days, settings.insights_attempt_days)
    if retention.count_days > 0:
        events.add(InsightsRecorder(insights_store, clock, retention))
    return Insights(insights_store, clock, retention)


def _idempotency(settings: Settings, store: RedisStore, clock: Clock) -> Idempotency:
    keys = IdempotencyStore(
        store.client,
        settings.redis_prefix,
        store.durability,
        name_key=key_name_key(settings.pepper),
        retention=RETENTION,
        server_time=store.server_time,
    )
    return Idempotency(keys, clock)


def _totp_service(
    settings: Settings, store: RedisStore, hasher: CodeHasher, clock: Clock, events: FanOut
) -> TotpService:
    # Settings from the environment always hold a key (required in production, random in
    # development); settings built in code without one (tests of other features) get a random one.
    keyring = TotpKeyring(settings.totp_encryption_keys or (new_key(),))
    return TotpService(
        TotpStore(
            store.client,
            settings.redis_prefix,
            store.durability,
            name_key=key_name_key(settings.pepper),
            server_time=store.server_time,
        ),
        keyring,
        hasher,
        clock,
        events,
        max_consecutive_failures=settings.max_consecutive_failures,
        lockout_schedule=settings.lockout_schedule,
    )


class TrustedProxyFix:
    """ProxyFix only for requests whose peer is a trusted proxy; others are taken as they came."""

    def __init__(self, plain: WSGIApplication, fixed: WSGIApplication, trusted: Iterable[Network]):
        self._plain = plain
        self._fixed = fixed
        self._trusted = tuple(trusted)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        peer = str(environ.get("REMOTE_ADDR") or "")
        chosen = self._fixed if is_in(peer, self._trusted) else self._plain
        return chosen(environ, start_response)


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
    metrics = Metrics()
    services.events.add(metrics)
    if services.jobs is not None:
        metrics.watch_queues(services.jobs.stats)
    app = Flask("otp_service")
    if settings.trusted_proxies:
        # Behind N proxies, the end user's address is the Nth from the right of X-Forwarded-For.
        n = settings.trusted_proxies
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n),
            parse_networks(settings.trusted_proxy_cidrs),
        )
    register_blueprints(app, services)
    register_metrics(app, metrics)
    register_problem_handlers(app)
    start_tracing(app)  # only with OTEL_EXPORTER_OTLP_ENDPOINT
    return app
