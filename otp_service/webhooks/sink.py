"""
WebhookSink: an ``EventSink`` that turns each webhook event into one delivery job per endpoint
that wants it, and watches verifications for their expiry (``WATCH_EXPIRY`` jobs).

The message is built when the event happens: ``data`` is the resource as the API returns it then
(a verification with its masked ``to``; never a code, hash or full destination). A failure to
enqueue (Redis down) is logged and never fails the request that caused the event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from otp_service.core.errors import OTPError
from otp_service.core.events import Event, EventKind
from otp_service.core.models import Status, Verification, mask_destination
from otp_service.jobs import Job, JobQueue
from otp_service.webhooks.delivery import DELIVER
from otp_service.webhooks.endpoints import Endpoint
from otp_service.webhooks.types import resource_id, webhook_id, webhook_type

WATCH_EXPIRY = Job("webhooks.watch_expiry", "webhooks")
#: A watch runs this long after the expiry it waits for (clocks of hosts differ a little).
EXPIRY_MARGIN_SECONDS = 1.0
log = logging.getLogger(__name__)

#: The API's rendering of one resource by id, or None when it is gone.
Render = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Resources:
    """How the API renders each resource a webhook carries (given by the composition)."""

    verification: Render
    factor: Render
    passkey: Render


class WebhookSink:
    """Enqueues the webhooks of each event; schedules and runs expiry watches."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        jobs: JobQueue,
        resources: Resources,
        load_verification: Callable[[str], Verification | None],
        now_ms: Callable[[], int],
        emit: Callable[[Event], None],
    ) -> None:
        self._endpoints = tuple(endpoints)
        self._jobs = jobs
        self._resources = resources
        self._load = load_verification
        self._now_ms = now_ms
        self._emit = emit

    def record(self, event: Event) -> None:
        """Enqueue ``event``'s webhooks (the ``EventSink`` protocol); never raises OTPError."""
        event_type = webhook_type(event)
        if event_type is None:
            return
        try:
            if event.kind is EventKind.STARTED and self._wanted(
                event.client, "verification.expired"
            ):
                self._watch(event.client, event.verification_id or "")
            endpoints = self._wanted(event.client, event_type)
            if endpoints:
                self._enqueue(event_type, event, endpoints)
        except OTPError as error:
            log.error("webhook %s of %s not queued: %s", event_type, event.client, error)

    def watch_expiry(self, payload: Mapping[str, Any], attempt: int) -> None:
        """
        The ``WATCH_EXPIRY`` job: record ``verification.expired`` if the verification's code
        expired unused; watch again if a resend moved its expiry; else nothing (idempotent).

        Raises:
            StoreUnavailable: Redis failed (the job is tried again).
        """
        verification = self._load(str(payload["verification_id"]))
        if verification is None or verification.client != payload["client"]:
            return
        now_ms = self._now_ms()
        status = verification.status_at(now_ms)
        if verification.status is Status.PENDING and status is Status.EXPIRED:
            self._emit(
                Event(
                    EventKind.EXPIRED,
                    verification.client,
                    verification_id=verification.id,
                    channel=verification.channel.value,
                    to=mask_destination(verification.to),
                )
            )
        elif status is Status.PENDING:
            self._watch(verification.client, verification.id, verification)

    def _wanted(self, client: str, event_type: str) -> list[Endpoint]:
        return [endpoint for endpoint in self._endpoints if endpoint.wants(client, event_type)]

    def _watch(self, client: str, verification_id: str, known: Verification | None = None) -> None:
        verification = known or self._load(verification_id)
        if verification is None:
            return
        delay = (verification.expires_ms - self._now_ms()) / 1000 + EXPIRY_MARGIN_SECONDS
        payload = {"client": client, "verification_id": verification_id}
        self._jobs.send(WATCH_EXPIRY, payload, max(delay, 0.0))

    def _enqueue(self, event_type: str, event: Event, endpoints: Sequence[Endpoint]) -> None:
        now = datetime.fromtimestamp(self._now_ms() / 1000, UTC)
        body = json.dumps(
            {
                "type": event_type,
                "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "data": self._data(event_type, event),
            },
            separators=(",", ":"),
        )
        message_id = webhook_id(event_type, event)
        for endpoint in endpoints:
            payload = {"endpoint": endpoint.id, "webhook_id": message_id, "body": body}
            self._jobs.send(DELIVER, payload)

    def _data(self, event_type: str, event: Event) -> Mapping[str, Any]:
        resource = resource_id(event)
        if event_type == "lock.applied":
            return {
                "what": event.outcome or "destination",
                "channel": event.channel,
                "to": event.to,
                "verification_id": event.verification_id,
            }
        if event_type == "totp.factor.verified":
            rendered = self._resources.factor(resource)
        elif event_type == "passkey.registered":
            rendered = self._resources.passkey(resource)
        else:
            rendered = self._resources.verification(resource)
        return rendered if rendered is not None else {"id": resource}
