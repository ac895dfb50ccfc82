"""
Events: one structured record per state change of a verification (or factor), fanned out to the
sinks that care (the audit trail, metrics). Plain Python; no codes, hashes or full destinations.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, cast

from otp_service.core.models import Verification, mask_destination
from otp_service.core.phone_areas import phone_area


class EventKind(enum.StrEnum):
    """What happened."""

    STARTED = "verification.started"
    RESENT = "verification.resent"
    CHECKED = "verification.checked"  # outcome: approved | wrong_code | stale_code
    APPROVED = "verification.approved"
    LOCKED = "verification.locked"  # a check refused: no attempts left
    NOT_FOUND = "verification.not_found"  # a check of something unknown, used or canceled
    EXPIRED_ON_CHECK = "verification.expired_on_check"
    EXPIRED = "verification.expired"  # a pending verification's code expired unused
    CANCELED = "verification.canceled"
    DELIVERED = "delivery.sent"  # provider, latency_ms
    DELIVERY_FAILED = "delivery.failed"  # provider, retryable, latency_ms
    LIMIT_TRIPPED = "limit.tripped"  # limit
    TOTP = "totp"  # outcome: enrolled | activated | valid | invalid | replayed | deleted
    LOCK_APPLIED = "lock.applied"  # outcome: destination (too many failures: checks refused)
    LOCK_CLEARED = "lock.cleared"  # an admin cleared a factor's or a destination's lockout
    #: outcome: blocked | monitored | refused | unblocked; prefix, country, until, the figures
    FRAUD_GUARD = "fraud_guard"
    PASSKEY_REGISTERED = "passkey.registered"  # passkey_id, device_type, backed_up
    PASSKEY = (
        "passkey"  # outcome: valid | invalid | counter_regression | locked | deleted | rejected
    )


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the HTTP layer knows of the current request (set per request, read by sinks)."""

    request_id: str | None = None
    ip: str | None = None


current_request: ContextVar[RequestInfo] = ContextVar("current_request", default=RequestInfo())  # noqa: B039 (frozen)


@dataclass(frozen=True, slots=True)
class Event:
    """
    One thing that happened. ``to`` is already masked; ``detail`` holds small extra facts.
    """

    kind: EventKind
    client: str
    verification_id: str | None = None
    channel: str | None = None
    to: str | None = None
    outcome: str | None = None
    detail: Mapping[str, str | int | float | bool] = field(default_factory=dict)


class SendFacts(TypedDict, total=False):
    """The facts of a send in an event's ``detail`` (see ``send_facts``)."""

    send: int
    sent_ms: int
    country: str
    prefix: str


def send_facts(to: str, send: int, sent_ms: int) -> SendFacts:
    """
    What conversion insights count a send by: its number (1: the first send of a verification),
    when it was made, and its destination's country and prefix (none for an email address).
    """
    area = phone_area(to)
    if not area.country:
        return SendFacts(send=send, sent_ms=sent_ms)
    return SendFacts(send=send, sent_ms=sent_ms, country=area.country, prefix=area.prefix)


def verification_event(
    kind: EventKind,
    client: str,
    verification: Verification | None = None,
    *,
    verification_id: str | None = None,
    channel: str | None = None,
    outcome: str | None = None,
    **detail: str | int | float | bool,
) -> Event:
    """
    An event about a verification (its destination masked, the facts of its latest send in
    ``detail``), or about just its id (and ``channel``, when known).
    """
    if verification is not None:
        _, sent_ms = verification.sends_made[-1]
        facts = send_facts(verification.to, verification.sends, sent_ms)
        detail = {**cast(Mapping[str, str | int], facts), **detail}
    return Event(
        kind=kind,
        client=client,
        verification_id=verification.id if verification else verification_id,
        channel=verification.channel.value if verification else channel,
        to=mask_destination(verification.to) if verification else None,
        outcome=outcome,
        detail=detail,
    )


class EventSink(Protocol):
    """Receives every event (must not raise for ordinary failures of its own)."""

    def record(self, event: Event) -> None:
        """Take one event."""
        ...


class FanOut:
    """Sends each event to every sink."""

    def __init__(self, sinks: Iterable[EventSink] = ()) -> None:
        self._sinks = list(sinks)

    def add(self, sink: EventSink) -> None:
        """Also send events to ``sink``."""
        self._sinks.append(sink)

    def record(self, event: Event) -> None:
        """Send ``event`` to every sink."""
        for sink in self._sinks:
            sink.record(event)


class VerificationEvents:
    """Records events about verifications on one sink."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def emit(
        self,
        kind: EventKind,
        client: str,
        verification: Verification | None = None,
        *,
        verification_id: str | None = None,
        channel: str | None = None,
        outcome: str | None = None,
        **detail: str | int | float | bool,
    ) -> None:
        """Record a ``verification_event``."""
        event = verification_event(
            kind,
            client,
            verification,
            verification_id=verification_id,
            channel=channel,
            outcome=outcome,
            **detail,
        )
        self._sink.record(event)
