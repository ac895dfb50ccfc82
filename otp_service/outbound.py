"""
Composition of what goes out of the request: the job queue, and the webhooks' sink and delivery.

``build_job_queue`` makes the queue (no I/O) when the settings name a Redis for it;
``build_outbound`` adds the webhooks on it, rendering each resource with the API's own renderers
(given by ``app.py``, which alone may reach into ``web/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from otp_service.config.settings import Settings
from otp_service.core.events import FanOut
from otp_service.core.models import Clock, Verification, key_name_key
from otp_service.jobs import JobQueue, build_broker
from otp_service.passkeys import Passkey, PasskeyStore
from otp_service.totp.models import Factor
from otp_service.totp.store import TotpStore
from otp_service.verify.store import RedisStore
from otp_service.webhooks import Resources, WebhookDelivery, WebhookSink, WebhookStore

#: Every queue a worker consumes: deliveries and expiry watches, and fallback timers.
QUEUES: Final = ("webhooks", "fallbacks")


@dataclass(frozen=True, slots=True)
class Renderers:
    """The API's rendering of each resource (``web/resources.py``)."""

    verification: Callable[[Verification, int], dict[str, Any]]
    factor: Callable[[Factor], dict[str, Any]]
    passkey: Callable[[Passkey], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Outbound:
    """The webhooks: the sink on the events (None without endpoints), and the delivery job."""

    sink: WebhookSink | None
    delivery: WebhookDelivery


def build_job_queue(settings: Settings) -> JobQueue | None:
    """The job queue on ``settings.jobs_url`` (no I/O), or None when there is no such Redis."""
    if not settings.jobs_url:
        return None
    broker = build_broker(
        settings.jobs_url,
        settings.redis_timeout_seconds,
        f"{settings.redis_prefix}:jobs",
        settings.jobs_requeue_after_seconds,
    )
    return JobQueue(broker, QUEUES)


def build_outbound(
    settings: Settings,
    store: RedisStore,
    jobs: JobQueue,
    events: FanOut,
    clock: Clock,
    renderers: Renderers,
) -> Outbound:
    """The webhooks of ``settings.webhooks``; the sink is added to ``events`` when there are any."""
    options: dict[str, Any] = {
        "durability": store.durability,
        "name_key": key_name_key(settings.pepper),
        "server_time": store.server_time,
    }
    webhook_store = WebhookStore(store.client, settings.redis_prefix, **options)
    delivery = WebhookDelivery(
        settings.webhooks,
        webhook_store,
        allow_private=settings.webhooks_allow_private,
        timeout_seconds=settings.webhooks_timeout_seconds,
    )
    if not settings.webhooks:
        return Outbound(None, delivery)
    factors = TotpStore(store.client, settings.redis_prefix, **options)
    passkeys = PasskeyStore(store.client, settings.redis_prefix, **options)

    def verification(verification_id: str) -> dict[str, Any] | None:
        found = store.load(verification_id)
        return renderers.verification(found, clock.now_ms()) if found else None

    def factor(factor_id: str) -> dict[str, Any] | None:
        found = factors.load(factor_id)
        return renderers.factor(found) if found else None

    def passkey(passkey_id: str) -> dict[str, Any] | None:
        found = passkeys.load(passkey_id)
        return renderers.passkey(found.passkey) if found else None

    resources = Resources(verification, factor, passkey)
    sink = WebhookSink(settings.webhooks, jobs, resources, store.load, clock.now_ms, events.record)
    events.add(sink)
    return Outbound(sink, delivery)
