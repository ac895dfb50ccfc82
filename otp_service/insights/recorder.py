"""
InsightsRecorder: the event sink that counts conversion figures, one script per counted event.

- A code handed to a provider (``delivery.sent``) is ``sent`` and an attempt record; the first
  send of a verification is also ``started``.
- A code the provider refused (``delivery.failed``) is ``failed`` (and ``started`` if first).
- An approval (``verification.approved``) is ``approved``, and converts its send's attempt.

Each is counted in the hour of the send it is about, so that conversion (approved per code sent)
in any window compares approvals with the very sends they came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from otp_service.core.events import Event, EventKind
from otp_service.core.models import Clock
from otp_service.insights.models import (
    DAY_MS,
    HOUR_MS,
    Attempt,
    Counter,
    Metric,
    attempt_id,
    hour_of,
)
from otp_service.insights.store import InsightsStore

log = logging.getLogger(__name__)
#: What each counted event adds to; the first send of a verification also starts it.
COUNTED: Final = {
    EventKind.DELIVERED: Metric.SENT,
    EventKind.DELIVERY_FAILED: Metric.FAILED,
    EventKind.APPROVED: Metric.APPROVED,
}


@dataclass(frozen=True, slots=True)
class Retention:
    """Days the counters and the attempt records are kept (0 attempt days: no records)."""

    count_days: int = 35
    attempt_days: int = 30


@dataclass(frozen=True, slots=True)
class _Send:
    """The facts of the send an event is about (``send_facts``)."""

    number: int
    sent_ms: int
    country: str
    prefix: str
    to_digest: str

    @classmethod
    def of(cls, event: Event) -> _Send | None:
        detail = event.detail
        number, sent_ms = detail.get("send"), detail.get("sent_ms")
        if not isinstance(number, int) or not isinstance(sent_ms, int):
            return None
        return cls(
            number,
            sent_ms,
            str(detail.get("country", "")),
            str(detail.get("prefix", "")),
            str(detail.get("to_digest", "")),
        )


class InsightsRecorder:
    """An ``EventSink`` counting started, sent, approved and failed by the hour."""

    def __init__(self, store: InsightsStore, clock: Clock, retention: Retention) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention

    def record(self, event: Event) -> None:
        """Count ``event`` if it is one of ``COUNTED``; a Redis failure is logged, not raised."""
        metric = COUNTED.get(event.kind)
        send = _Send.of(event)
        if metric is None or send is None or event.verification_id is None:
            return
        channel = event.channel or ""
        metrics = [metric]
        if send.number == 1 and metric is not Metric.APPROVED:
            metrics.append(Metric.STARTED)
        counters = [Counter(m, channel, send.country, send.prefix) for m in metrics]
        now_ms = self._clock.now_ms()
        hour = hour_of(send.sent_ms)
        keep_ms = self._keep_ms(hour, now_ms)
        if keep_ms[0] <= 0:
            return  # older than what is kept
        the_id = attempt_id(event.verification_id, send.number, send.sent_ms)
        # Counted after what it counts happened: a Redis failure is logged by the store, and the
        # caller's request stands.
        if metric is Metric.APPROVED:
            self._store.convert(event.client, hour, counters, keep_ms, the_id, now_ms)
        elif metric is Metric.SENT:
            attempt = _attempt(event, the_id, send, channel)
            self._store.add(event.client, hour, counters, keep_ms, attempt)
        else:
            self._store.add(event.client, hour, counters, keep_ms)

    def _keep_ms(self, hour: int, now_ms: int) -> tuple[int, int]:
        """How long from now an hour's counters and records are kept (from the hour's end)."""
        hour_end = (hour + 1) * HOUR_MS
        counts = hour_end + self._retention.count_days * DAY_MS - now_ms
        attempts = hour_end + self._retention.attempt_days * DAY_MS - now_ms
        return counts, max(attempts, 0) if self._retention.attempt_days > 0 else 0


def _attempt(event: Event, the_id: str, send: _Send, channel: str) -> Attempt:
    return Attempt(
        id=the_id,
        client=event.client,
        verification_id=event.verification_id or "",
        send=send.number,
        channel=channel,
        created_ms=send.sent_ms,
        to=event.to or "",
        to_digest=send.to_digest,
        country=send.country,
        prefix=send.prefix,
    )
