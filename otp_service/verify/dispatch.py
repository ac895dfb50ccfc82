"""
Dispatcher: renders a code's message, hands it to the channel's sender, and records the outcome.

A failed delivery leaves nothing half-written: the verification is marked ``failed`` and its
destination index released, so a new start for the destination begins afresh.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from otp_service.core.errors import DeliveryFailed, InvalidDestination
from otp_service.core.events import EventKind, EventSink, verification_event
from otp_service.core.models import Channel, Client, Clock, Verification, seconds_until
from otp_service.delivery import Sender
from otp_service.verify.messages import render_message
from otp_service.verify.store import RedisStore


class Dispatcher:
    """Delivers codes through the sender of each channel."""

    def __init__(
        self, store: RedisStore, senders: Mapping[Channel, Sender], clock: Clock, events: EventSink
    ) -> None:
        self._store = store
        self._senders = senders
        self._clock = clock
        self._events = events

    def deliver(
        self,
        client: Client,
        verification: Verification,
        code: str,
        code_hash: str,
        destination_key: str,
    ) -> Verification:
        """
        Send ``code`` for ``verification``; the verification with its delivery status.

        Raises:
            DeliveryFailed, InvalidDestination: the provider did not take the message (the
                verification is then ``failed`` and the error names it).
        """
        message = render_message(
            channel=verification.channel,
            to=verification.to,
            code=code,
            verification_id=verification.id,
            policy=client.policy,
            locale=verification.locale,
            transaction=verification.transaction,
        )
        left = seconds_until(verification.expires_ms, self._clock.now_ms())
        message = replace(message, valid_seconds=left)
        sender = self._senders[verification.channel]
        started = time.perf_counter()
        try:
            receipt = sender.send(message)
        except (DeliveryFailed, InvalidDestination) as error:
            error.verification_id = verification.id
            now_ms = self._clock.now_ms()
            self._store.mark_failed(verification.id, code_hash, now_ms)
            self._store.release_destination(destination_key, verification.id)
            self._record(
                EventKind.DELIVERY_FAILED,
                client,
                verification,
                sender.provider,
                started,
                retryable=getattr(error, "retryable", False),
            )
            raise
        with self._store.batched_writes():  # the status and the figures: one round trip
            self._record(EventKind.DELIVERED, client, verification, sender.provider, started)
            self._store.note_delivery(verification.id, receipt.status)
        return replace(verification, delivery_status=receipt.status)

    def _record(
        self,
        kind: EventKind,
        client: Client,
        verification: Verification,
        provider: str,
        started: float,
        retryable: bool | None = None,
    ) -> None:
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        event = verification_event(
            kind,
            client.name,
            verification,
            provider=provider,
            latency_ms=latency_ms,
            # Attempt listings filter by destination (ChannelData.To) through this keyed hash.
            to_digest=self._store.destination_digest(verification.to),
        )
        if retryable is not None:
            event = replace(event, detail={**event.detail, "retryable": retryable})
        self._events.record(event)
