"""
Prometheus metrics by outcome, fed by the engine's events and by the HTTP layer.

The only modules that import ``prometheus_client`` are this one and ``web/metrics.py``. Under
gunicorn with several workers, each worker writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape of any worker merges every worker's files
(prometheus-client's multiprocess mode; ``gunicorn_config.py`` prepares the directory). Without
that variable, the process answers from a registry of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from otp_service.core.events import Event, EventKind
from otp_service.jobs import QueueStats
from otp_service.ops.queue_metrics import QueueCollector

MULTIPROCESS_DIR_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# Seconds. Deliveries wait on Twilio or SMTP (up to the delivery timeout); requests mostly on
# argon2 (a few ms) and Redis round trips.
DELIVERY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REQUEST_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: What the approve script (or the comparison) answered → the ``outcome`` label of a check.
CHECK_OUTCOMES: Final = {
    "approved": "approved",
    "wrong_code": "wrong_code",
    "stale": "stale_code",
    "gone": "not_found",
}
UNKNOWN: Final = "unknown"
#: The ``country`` label of a destination that has none (an email address).
NO_COUNTRY: Final = "none"
#: Event kinds that count nothing (none today: a new kind must be counted, or named here).
UNCOUNTED: Final[frozenset[EventKind]] = frozenset()


class Metrics:
    """
    The service's metrics, in a registry of their own, so that several apps in one process (the
    tests) never collide. It is an ``EventSink``: add it to ``Services.events``.
    """

    def __init__(self) -> None:
        self.is_multiprocess = MULTIPROCESS_DIR_VARIABLE in os.environ
        if self.is_multiprocess and values.ValueClass is values.MutexValue:
            # prometheus-client chooses where values live when it is first imported, and gunicorn's
            # master imports this package (hence it) before its configuration sets the variable.
            # Choose again, in the worker, before the first metric exists.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        self._queues: QueueCollector | None = None
        if not self.is_multiprocess:
            # Per-process CPU and memory only make sense for a single process.
            ProcessCollector(registry=registry)
        self.started = Counter(
            "otp_verifications_started",
            "Verifications started (a first code sent), by channel.",
            ["channel"],
            registry=registry,
        )
        self.resent = Counter(
            "otp_verifications_resent",
            "Codes resent for a pending verification, by channel.",
            ["channel"],
            registry=registry,
        )
        self.canceled = Counter(
            "otp_verifications_canceled",
            "Verifications canceled, by channel.",
            ["channel"],
            registry=registry,
        )
        self.approved = Counter(
            "otp_verifications_approved",
            "Verifications approved, by the channel and destination country of the approved code.",
            ["channel", "country"],
            registry=registry,
        )
        self.codes_sent = Counter(
            "otp_codes_sent",
            "Codes a provider took, by channel and destination country: conversion is approved "
            "per code sent.",
            ["channel", "country"],
            registry=registry,
        )
        self.expired = Counter(
            "otp_verifications_expired",
            "Verifications whose code expired unused (seen by a check or an expiry watch).",
            ["channel"],
            registry=registry,
        )
        self.checks = Counter(
            "otp_checks",
            "Checks of a code, by outcome: approved, wrong_code, stale_code, expired, not_found, "
            "locked.",
            ["outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "otp_deliveries",
            "Messages handed to a provider, by channel, provider and outcome (sent, failed).",
            ["channel", "provider", "outcome"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "otp_delivery_duration_seconds",
            "Time the provider took to take (or refuse) a message.",
            ["channel", "provider", "outcome"],
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )
        self.limits_tripped = Counter(
            "otp_limits_tripped",
            "Requests refused by a rate limit, by limit name.",
            ["limit"],
            registry=registry,
        )
        self.totp = Counter(
            "otp_totp_events",
            "TOTP factor events, by outcome (enrolled, activated, valid, invalid, replayed, ...).",
            ["outcome"],
            registry=registry,
        )
        self.passkeys = Counter(
            "otp_passkey_events",
            "Passkey events, by outcome (registered, valid, invalid, counter_regression, ...).",
            ["outcome"],
            registry=registry,
        )
        self.fraud_decisions = Counter(
            "otp_fraud_guard_decisions",
            "Pumping guard decisions (blocked, monitored, refused, unblocked), by country.",
            ["country", "decision"],
            registry=registry,
        )
        self.locks_applied = Counter(
            "otp_locks_applied",
            "Lockouts applied, by what was locked (destination).",
            ["what"],
            registry=registry,
        )
        self.locks_cleared = Counter(
            "otp_locks_cleared",
            "Lockouts an admin cleared, by what was locked (factor, destination).",
            ["what"],
            registry=registry,
        )
        self.http_requests = Counter(
            "otp_http_requests",
            "HTTP requests, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "otp_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.redis_errors = Counter(
            "otp_redis_errors",
            "Redis failures: each answered 503 (fail closed) or failed a readiness probe.",
            registry=registry,
        )

    def watch_queues(self, stats: Callable[[], Sequence[QueueStats]]) -> None:
        """Also expose the job queue's figures, read from Redis at each scrape."""
        self._queues = QueueCollector(stats, self.count_redis_error)
        self.registry.register(self._queues)

    def record(self, event: Event) -> None:
        """Count one engine event (the ``EventSink`` protocol)."""
        channel = event.channel or UNKNOWN
        match event.kind:
            case EventKind.STARTED:
                self.started.labels(channel).inc()
            case EventKind.RESENT:
                self.resent.labels(channel).inc()
            case EventKind.CANCELED:
                self.canceled.labels(channel).inc()
            case EventKind.APPROVED:
                self.approved.labels(channel, _country(event)).inc()
            case EventKind.CHECKED:
                self.checks.labels(CHECK_OUTCOMES.get(event.outcome or "", UNKNOWN)).inc()
            case EventKind.LOCKED:
                self.checks.labels("locked").inc()
            case EventKind.NOT_FOUND:
                self.checks.labels("not_found").inc()
            case EventKind.EXPIRED_ON_CHECK:
                self.checks.labels("expired").inc()
            case EventKind.DELIVERED | EventKind.DELIVERY_FAILED:
                self._delivery(event, channel)
            case EventKind.LIMIT_TRIPPED:
                limit = event.detail.get("limit") or event.outcome or UNKNOWN
                self.limits_tripped.labels(str(limit)).inc()
            case EventKind.TOTP:
                self.totp.labels(event.outcome or UNKNOWN).inc()
            case EventKind.PASSKEY | EventKind.PASSKEY_REGISTERED:
                self.passkeys.labels(event.outcome or UNKNOWN).inc()
            case EventKind.FRAUD_GUARD:
                self.fraud_decisions.labels(_country(event), event.outcome or UNKNOWN).inc()
            case EventKind.EXPIRED:
                self.expired.labels(channel).inc()
            case EventKind.LOCK_APPLIED:
                self.locks_applied.labels(event.outcome or UNKNOWN).inc()
            case EventKind.LOCK_CLEARED:
                self.locks_cleared.labels(event.outcome or UNKNOWN).inc()

    def _delivery(self, event: Event, channel: str) -> None:
        outcome = "sent" if event.kind is EventKind.DELIVERED else "failed"
        provider = str(event.detail.get("provider", UNKNOWN))
        if event.kind is EventKind.DELIVERED:
            self.codes_sent.labels(channel, _country(event)).inc()
        self.deliveries.labels(channel, provider, outcome).inc()
        latency_ms = event.detail.get("latency_ms")
        if isinstance(latency_ms, int | float):
            self.delivery_seconds.labels(channel, provider, outcome).observe(latency_ms / 1000)

    def observe_request(self, method: str, route: str, status: int, seconds: float | None) -> None:
        """Count one answered HTTP request (``route`` is the rule's template, never the path)."""
        self.http_requests.labels(method, route, str(status)).inc()
        if seconds is not None:
            self.http_seconds.labels(method, route).observe(seconds)

    def count_redis_error(self) -> None:
        """Count one Redis failure."""
        self.redis_errors.inc()

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """
        The samples (every worker's, in multiprocess mode) and their content type: Prometheus
        text, or OpenMetrics when the scraper's ``Accept`` asks for it.
        """
        encode, content_type = choose_encoder(accept)
        if not self.is_multiprocess:
            return encode(self.registry), content_type
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=os.environ[MULTIPROCESS_DIR_VARIABLE])  # type: ignore[no-untyped-call]
        if self._queues is not None:
            merged.register(self._queues)
        return encode(merged), content_type


def _country(event: Event) -> str:
    """The ISO country of the event's destination (``none`` for an email address)."""
    return str(event.detail.get("country") or NO_COUNTRY)
