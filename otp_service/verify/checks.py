"""
Checks: a code checked against a pending verification, each check reserved before it is judged.
"""

from __future__ import annotations

from typing import Final

from otp_service.abuse import AbuseGuard
from otp_service.core.codes import CodeHasher
from otp_service.core.errors import (
    FieldError,
    InvalidRequest,
    StoreUnavailable,
    TooManyAttempts,
    VerificationNotFound,
)
from otp_service.core.events import Event, EventKind, EventSink, VerificationEvents, send_facts
from otp_service.core.models import (
    Channel,
    CheckResult,
    Client,
    Clock,
    Status,
    mask_destination,
    seconds_until,
)
from otp_service.core.transactions import Transaction
from otp_service.verify.late_checks import late_check_error
from otp_service.verify.records import Reservation
from otp_service.verify.store import RedisStore

#: The channels a phone number's pending verification is looked up on, when none is named.
PHONE_ORDER: Final = (Channel.SMS, Channel.WHATSAPP, Channel.VOICE)


class Checks:
    """Checks of codes: 2 Redis round trips and 1 argon2 verify each (more after failures)."""

    def __init__(
        self,
        store: RedisStore,
        hasher: CodeHasher,
        clock: Clock,
        events: EventSink,
        guard: AbuseGuard | None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._events = events
        self._emit = VerificationEvents(events).emit
        self._guard = guard

    def check(
        self,
        client: Client,
        verification_id: str,
        code: str,
        transaction: Transaction | None = None,
    ) -> CheckResult:
        """
        Check ``code`` against a pending verification: 2 Redis round trips and 1 argon2 verify.

        A wrong code is a result (``valid=False``), not an error; so is a code checked with
        another ``transaction`` than the one it was sent for (PSD2), and it uses an attempt.

        Raises:
            InvalidRequest: the code does not have the client's code length.
            VerificationNotFound: unknown, foreign, expired, approved, canceled or failed.
            TooManyAttempts: every check has been used.
            StoreUnavailable: Redis failed.
        """
        if len(code) != client.policy.code_length:
            raise InvalidRequest(
                [FieldError("code", f"must be {client.policy.code_length} digits")]
            )
        now_ms = self._clock.now_ms()
        reservation = self._store.reserve_attempt(verification_id, client.name, now_ms)
        if reservation.outcome in ("missing", "gone", "expired"):
            kind = (
                EventKind.EXPIRED_ON_CHECK
                if reservation.outcome == "expired"
                else EventKind.NOT_FOUND
            )
            self._emit(kind, client.name, verification_id=verification_id)
            raise late_check_error(reservation.reason)
        if reservation.outcome == "locked":
            self._emit(EventKind.LOCKED, client.name, verification_id=verification_id)
            raise TooManyAttempts(
                "Every check of this verification has been used.",
                seconds_until(reservation.expires_ms, now_ms),
                locked_until_ms=reservation.expires_ms,
            )
        remaining = reservation.max_attempts - reservation.attempts
        if self._hasher.verify(reservation.code_hash, verification_id, code, transaction):
            return self._approve(client, verification_id, reservation, remaining)
        self._emit(
            EventKind.CHECKED,
            client.name,
            verification_id=verification_id,
            outcome="wrong_code",
            attempts_remaining=remaining,
        )
        if self._guard is not None and self._guard.record_failure(client, reservation.to):
            # The destination failed too often across verifications: no more checks for it.
            self._store.lock(verification_id, self._clock.now_ms())
            self._emit(EventKind.LOCKED, client.name, verification_id=verification_id)
            lock = Event(
                EventKind.LOCK_APPLIED,
                client.name,
                verification_id=verification_id,
                to=mask_destination(reservation.to),
                outcome="destination",
            )
            self._events.record(lock)
            remaining = 0
        status = Status.MAX_ATTEMPTS_REACHED if remaining == 0 else Status.PENDING
        return CheckResult(verification_id, status, False, remaining)

    def _approve(
        self, client: Client, verification_id: str, reservation: Reservation, remaining: int
    ) -> CheckResult:
        outcome = self._store.approve(verification_id, reservation.code_hash, self._clock.now_ms())
        self._emit(EventKind.CHECKED, client.name, verification_id=verification_id, outcome=outcome)
        if outcome == "gone":
            raise VerificationNotFound("No pending verification has this id.")
        if outcome == "stale":
            # A resend replaced this code while it was checked: it is no longer valid.
            return CheckResult(verification_id, Status.PENDING, False, remaining)
        if outcome != "approved":
            raise StoreUnavailable(f"approve answered {outcome!r}")
        with self._store.batched_writes():  # the conversion counts: one round trip
            self._emit(
                EventKind.APPROVED,
                client.name,
                verification_id=verification_id,
                channel=reservation.channel,
                **send_facts(reservation.to, reservation.sends, reservation.sent_ms),
            )
            if self._guard is not None and reservation.channel:
                # A code that reached a person: the pumping guard's figure of conversion (phones).
                self._guard.record_approval(Channel(reservation.channel), reservation.to)
        had_failures = reservation.attempts > 1 or reservation.dest_failures > 0
        if self._guard is not None and had_failures:
            # Only after failures is there a run of them to end.
            self._guard.record_success(client, reservation.to)
        return CheckResult(verification_id, Status.APPROVED, True, remaining)

    def check_destination(
        self,
        client: Client,
        channel: Channel | None,
        to: str,
        code: str,
        transaction: Transaction | None = None,
    ) -> CheckResult:
        """
        Check ``code`` against the pending verification of ``to`` on ``channel`` (on any of the
        destination's channels when None: SMS, then WhatsApp, then voice for a phone number).

        Raises:
            the same as ``check``.
        """
        channels = [channel] if channel else [Channel.EMAIL] if "@" in to else PHONE_ORDER
        for candidate in channels:
            key = self._store.destination_key(client.name, candidate, to)
            pending_id = self._store.pending_id(key)
            if pending_id is not None:
                return self.check(client, pending_id, code, transaction)
        raise VerificationNotFound("No pending verification for this destination.")
