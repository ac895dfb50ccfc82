"""
VerificationService: start, resend, check, get and cancel verifications (docs/architecture.md).

Plain Python: it takes its store, hasher, senders and clock as arguments; starts and checks are
their own modules (``starts.py``, ``checks.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otp_service.abuse import AbuseGuard
from otp_service.core.codes import CodeHasher
from otp_service.core.errors import (
    VerificationNotFound,
)
from otp_service.core.events import EventKind, EventSink, FanOut, VerificationEvents
from otp_service.core.models import (
    Channel,
    CheckResult,
    Client,
    Clock,
    Verification,
)
from otp_service.core.transactions import Transaction
from otp_service.delivery import Sender
from otp_service.jobs import JobQueue
from otp_service.verify.checks import Checks
from otp_service.verify.starts import StartResult, Starts
from otp_service.verify.store import RedisStore


class VerificationService:
    """
    The engine behind every API face: one store, one hasher, one sender per channel.
    """

    def __init__(
        self,
        store: RedisStore,
        hasher: CodeHasher,
        senders: Mapping[Channel, Sender],
        clock: Clock,
        events: EventSink | None = None,
        guard: AbuseGuard | None = None,
        jobs: JobQueue | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._events = events or FanOut()
        self._emit = VerificationEvents(self._events).emit
        self._starts = Starts(store, hasher, senders, clock, self._events, guard, jobs)
        self._checks = Checks(store, hasher, clock, self._events, guard)

    def start(
        self,
        client: Client,
        channel: Channel,
        to: str,
        locale: str | None = None,
        *,
        country: str | None = None,
        ip: str | None = None,
        transaction: Transaction | None = None,
        fallbacks: tuple[Channel, ...] = (),
        fallback_after_seconds: int | None = None,
    ) -> StartResult:
        """
        Start a verification for ``to``, or resend the pending one (new code, same id); with
        ``fallback_after_seconds``, a timer falls back to the next of ``fallbacks`` when that long
        passes without an approval.

        Raises:
            InvalidRequest: a timed fallback, and no job queue to run its timer.
            ChannelNotAllowed: the client's policy or the configuration has no such channel.
            CountryNotAllowed: SMS to the number's country is not allowed.
            RateLimited: a client, IP, destination or country limit tripped.
            ResendTooSoon, MaxSendsReached, TooManyAttempts: a pending one cannot be resent now.
            DeliveryFailed, InvalidDestination: the provider did not take the message, nor did
                those of the ``fallbacks`` channels (tried in order, each with a new code).
            StoreUnavailable: Redis failed.
        """
        return self._starts.start(
            client,
            channel,
            to,
            locale,
            country=country,
            ip=ip,
            transaction=transaction,
            fallbacks=fallbacks,
            fallback_after_seconds=fallback_after_seconds,
        )

    def check(
        self,
        client: Client,
        verification_id: str,
        code: str,
        transaction: Transaction | None = None,
    ) -> CheckResult:
        """
        Check ``code`` against a pending verification; a wrong code is ``valid=False``, and so is
        one checked with another ``transaction`` (amount and payee) than it was sent for.

        Raises:
            InvalidRequest: the code does not have the client's code length.
            VerificationNotFound: unknown, foreign, expired, approved, canceled or failed.
            TooManyAttempts: every check has been used.
            StoreUnavailable: Redis failed.
        """
        return self._checks.check(client, verification_id, code, transaction)

    def check_destination(
        self,
        client: Client,
        channel: Channel | None,
        to: str,
        code: str,
        transaction: Transaction | None = None,
    ) -> CheckResult:
        """
        Check ``code`` against the pending verification of ``to`` on ``channel``.

        Raises:
            the same as ``check``.
        """
        return self._checks.check_destination(client, channel, to, code, transaction)

    # Read and cancel -------------------------------------------------------------------------

    def get(self, client: Client, verification_id: str) -> Verification:
        """
        The verification with this id, as this client may see it.

        Raises:
            VerificationNotFound: unknown, gone or another client's.
        """
        verification = self._store.load(verification_id)
        if verification is None or verification.client != client.name:
            raise VerificationNotFound("No verification has this id.")
        return verification

    def cancel(self, client: Client, verification_id: str) -> Verification:
        """
        Cancel a pending verification: its code stops working at once.

        Raises:
            VerificationNotFound: nothing pending of this client has this id.
        """
        canceled = self._store.cancel(verification_id, client.name, self._clock.now_ms())
        if canceled is None:
            raise VerificationNotFound("No pending verification has this id.")
        destination_key = self._store.destination_key(client.name, canceled.channel, canceled.to)
        self._store.release_destination(destination_key, canceled.id)
        self._emit(EventKind.CANCELED, client.name, canceled)
        return canceled

    def approve_without_code(self, client: Client, verification_id: str) -> Verification:
        """
        Approve a pending verification without a code, when the client vouches for the person.

        Counts no check and costs no argon2; like a right code, it succeeds at most once.

        Raises:
            VerificationNotFound: nothing pending of this client, with checks left, has this id.
        """
        approved = self._store.approve_without_code(
            verification_id, client.name, self._clock.now_ms()
        )
        if approved is None:
            raise VerificationNotFound("No pending verification has this id.")
        self._emit(EventKind.APPROVED, client.name, approved, outcome="without_code")
        return approved

    def fall_back_if_undelivered(self, client: Client, verification_id: str) -> None:
        """
        After the provider reported the message of ``verification_id`` undelivered: send a new
        code on the next channel of its start's ``channels``, if any is left (else nothing).

        Raises:
            DeliveryFailed, InvalidDestination: every channel left refused the message.
            StoreUnavailable: Redis failed.
        """
        verification = self._store.load(verification_id)
        if verification is not None and verification.client == client.name:
            self._starts.fallback.after_undelivered(client, verification)

    def fall_back_on_time(self, client: Client, payload: Mapping[str, Any]) -> None:
        """
        The timed fallback's job (``FALL_BACK``): the next channel gets a new code if the
        verification is still pending after the very send the timer was set after.

        Raises:
            StoreUnavailable: Redis failed (the job is tried again).
        """
        self._starts.timers.run(client, payload)

    def now_ms(self) -> int:
        """The service clock (for rendering statuses as of now)."""
        return self._clock.now_ms()
