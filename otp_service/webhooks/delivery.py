"""
WebhookDelivery: the job that sends one message to one endpoint, on Standard Webhooks' schedule.

A 2xx answer delivers; 410 Gone disables the endpoint; any other answer, no answer, or a refused
address is a failure, tried again after the next delay of the schedule, and given up after the
last. Each try is signed afresh with the time of that try (receivers refuse old timestamps).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from otp_service.jobs import GiveUp, Job, RetryLater
from otp_service.webhooks.endpoints import RETRY_SCHEDULE, Endpoint
from otp_service.webhooks.signing import signed_headers
from otp_service.webhooks.store import WebhookStore
from otp_service.webhooks.transport import NoAnswer, RefusedDestination, post, resolve

DELIVER = Job("webhooks.deliver", "webhooks")
log = logging.getLogger(__name__)


class WebhookDelivery:
    """Delivers messages (``DELIVER`` jobs) to the configured endpoints."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        store: WebhookStore,
        *,
        allow_private: bool,
        timeout_seconds: float,
        schedule: Sequence[float] = RETRY_SCHEDULE,
        clock_seconds: Callable[[], float] = time.time,
    ) -> None:
        self._endpoints = {endpoint.id: endpoint for endpoint in endpoints}
        self._store = store
        self._allow_private = allow_private
        self._timeout_seconds = timeout_seconds
        self._schedule = tuple(schedule)
        self._clock_seconds = clock_seconds

    def deliver(self, payload: Mapping[str, Any], attempt: int) -> None:
        """
        Try once to deliver the message of ``payload`` (``endpoint``, ``webhook_id``, ``body``).

        Raises:
            RetryLater: it failed; the next try is due after the schedule's next delay.
            GiveUp: it failed on the schedule's last try.
            StoreUnavailable: Redis failed (the job is tried again).
        """
        endpoint = self._endpoints.get(str(payload["endpoint"]))
        webhook_id, body = str(payload["webhook_id"]), str(payload["body"])
        if endpoint is None:
            log.warning("webhook %s: its endpoint is no longer configured; dropped", webhook_id)
            return
        if self._store.is_disabled(endpoint) or self._store.was_delivered(endpoint, webhook_id):
            return
        status, reason = self._post(endpoint, webhook_id, body)
        if status is not None and 200 <= status < 300:
            self._store.mark_delivered(endpoint, webhook_id)
            return
        if status == 410:
            log.warning("webhook endpoint %s answered 410 Gone: disabled", endpoint.id)
            self._store.disable(endpoint, webhook_id, int(self._clock_seconds() * 1000))
            return
        where = f"webhook {webhook_id} to {endpoint.id} (try {attempt}): {reason}"
        if attempt >= len(self._schedule):
            raise GiveUp(f"{where}; given up after {attempt} tries")
        raise RetryLater(self._schedule[attempt], where)

    def _post(self, endpoint: Endpoint, webhook_id: str, body: str) -> tuple[int | None, str]:
        timestamp = int(self._clock_seconds())
        headers = signed_headers(endpoint.secret, webhook_id, timestamp, body)
        try:
            target = resolve(endpoint.url, allow_private=self._allow_private)
            status = post(target, headers, body, self._timeout_seconds)
        except RefusedDestination as error:
            return None, f"refused: {error}"
        except NoAnswer as error:
            return None, f"no answer ({error})"
        return status, f"answered {status}"
