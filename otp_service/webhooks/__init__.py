"""
Outbound webhooks (Standard Webhooks): endpoints per client, the sink that queues a signed message
for each event an endpoint wants, and the jobs that deliver them and watch for expiries.
"""

from __future__ import annotations

from otp_service.webhooks.delivery import DELIVER, WebhookDelivery
from otp_service.webhooks.endpoints import EVENT_TYPES, RETRY_SCHEDULE, Endpoint
from otp_service.webhooks.signing import secret_problem
from otp_service.webhooks.sink import WATCH_EXPIRY, Resources, WebhookSink
from otp_service.webhooks.store import WebhookStore

__all__ = [
    "DELIVER",
    "EVENT_TYPES",
    "RETRY_SCHEDULE",
    "WATCH_EXPIRY",
    "Endpoint",
    "Resources",
    "WebhookDelivery",
    "WebhookSink",
    "WebhookStore",
    "secret_problem",
]
