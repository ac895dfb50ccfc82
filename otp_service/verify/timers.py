"""
Timed fallback: ``fallback_after_seconds`` at start sets a timer (a delayed job); when it runs out
with the verification still pending and unapproved, the next channel gets a new code, and a new
timer is set for the channel after it.

The timer's job is idempotent: the script falls back only from the very send the timer was set
after (compare-and-set on the count of sends), so a job run twice, a resend, a check or another
fallback in between leaves it with nothing to do. After a resend or another fallback the next
timer counts from that send.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from otp_service.core.errors import DeliveryFailed, InvalidDestination, RateLimited
from otp_service.core.models import Client, Clock, Status, Verification
from otp_service.jobs import Job, JobQueue
from otp_service.verify.fallback import Fallback
from otp_service.verify.store import RedisStore

FALL_BACK: Final = Job("verify.fall_back", "fallbacks")
log = logging.getLogger(__name__)


class FallbackTimers:
    """Sets fallback timers, and runs them (``FALL_BACK`` jobs)."""

    def __init__(
        self, store: RedisStore, fallback: Fallback, jobs: JobQueue | None, clock: Clock
    ) -> None:
        self._store = store
        self._fallback = fallback
        self.jobs = jobs
        self._clock = clock

    def set(
        self,
        verification: Verification,
        after_seconds: int,
        delay_seconds: float | None = None,
    ) -> None:
        """
        Fall back from ``verification``'s current send after ``after_seconds`` (or
        ``delay_seconds`` when given), if a channel is left to fall back to.

        Raises:
            StoreUnavailable: Redis failed: the timer is not set.
        """
        if self.jobs is None or not verification.fallback_channels:
            return
        payload = {
            "client": verification.client,
            "verification_id": verification.id,
            "sends": verification.sends,
            "after_seconds": after_seconds,
        }
        delay = after_seconds if delay_seconds is None else delay_seconds
        self.jobs.send(FALL_BACK, payload, delay)

    def run(self, client: Client, payload: Mapping[str, Any]) -> Verification | None:
        """
        The ``FALL_BACK`` job: the verification after its fallback, or None when none was due.

        Raises:
            StoreUnavailable: Redis failed (the job is tried again).
        """
        verification = self._store.load(str(payload["verification_id"]))
        now_ms = self._clock.now_ms()
        if verification is None or verification.client != client.name:
            return None
        if verification.status_at(now_ms) is not Status.PENDING:
            return None
        after_seconds = int(payload["after_seconds"])
        if verification.sends != int(payload["sends"]):
            # Sent again since the timer was set: the next timer counts from that last send.
            last_send_ms = verification.sends_made[-1][1]
            delay = (last_send_ms + after_seconds * 1000 - now_ms) / 1000
            self.set(verification, after_seconds, max(delay, 0.0))
            return None
        try:
            fallen = self._fallback.after_timeout(client, verification)
        except (DeliveryFailed, InvalidDestination, RateLimited) as error:
            log.warning(
                "timed fallback of %s: no channel took the code: %s", verification.id, error
            )
            return None
        if fallen is not None:
            self.set(fallen, after_seconds)
        return fallen
