"""
Starts: start a verification (one code sent), or resend the pending one of the same destination.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from otp_service.abuse import AbuseGuard
from otp_service.core.codes import CodeHasher, generate_code
from otp_service.core.errors import (
    FieldError,
    InvalidRequest,
    MaxSendsReached,
    ResendTooSoon,
    StoreUnavailable,
    TooManyAttempts,
)
from otp_service.core.events import EventKind, EventSink, VerificationEvents
from otp_service.core.models import Channel, Client, Clock, Status, Verification, seconds_until
from otp_service.core.transactions import Transaction
from otp_service.delivery import Sender
from otp_service.jobs import JobQueue
from otp_service.verify.dispatch import Dispatcher
from otp_service.verify.fallback import Fallback, refuse_unusable
from otp_service.verify.locales import resolve_locale
from otp_service.verify.records import ResendOutcome
from otp_service.verify.scripted_starts import ScriptedStarts, StartRequest, new_verification
from otp_service.verify.start_scripts import StartScripts
from otp_service.verify.store import RedisStore
from otp_service.verify.timers import FallbackTimers

#: How long a finished verification stays readable (GET shows expired/approved/canceled) after
#: its code expired. Checks never see it: only a pending, unexpired verification can be checked.
RECORD_GRACE_SECONDS = 300
_START_ROUNDS = 3
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StartResult:
    """A started verification, and whether it was created (201) or resent (200)."""

    verification: Verification
    created: bool


class Starts:
    """Starts and resends of verifications; the abuse guard admits and counts each."""

    def __init__(
        self,
        store: RedisStore,
        hasher: CodeHasher,
        senders: Mapping[Channel, Sender],
        clock: Clock,
        events: EventSink,
        guard: AbuseGuard | None,
        jobs: JobQueue | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._senders = senders
        self._clock = clock
        self._events = events
        self._emit = VerificationEvents(events).emit
        self._guard = guard
        self._dispatcher = Dispatcher(store, senders, clock, events)
        self.fallback = Fallback(
            store, hasher, self._dispatcher, clock, self._emit, guard, RECORD_GRACE_SECONDS
        )
        self.timers = FallbackTimers(store, self.fallback, jobs, clock)
        scripts = store.beside(StartScripts)
        self._scripted: ScriptedStarts | None = None
        if guard is not None and scripts.usable:
            grace_ms = RECORD_GRACE_SECONDS * 1000
            self._scripted = ScriptedStarts(store, scripts, hasher, guard, self.fallback, grace_ms)

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
        ``fallback_after_seconds``, the next of ``fallbacks`` gets a new code when that long
        passes without an approval.

        Raises:
            InvalidRequest: a timed fallback, and no job queue to run its timer.
            ChannelNotAllowed: the client's policy or the configuration has no such channel.
            CountryNotAllowed: SMS to the number's country is not allowed.
            RateLimited: a client, IP, destination or country limit tripped.
            ResendTooSoon, MaxSendsReached, TooManyAttempts: a pending one cannot be resent now.
            DeliveryFailed, InvalidDestination: the provider did not take the message.
            StoreUnavailable: Redis failed.
        """
        refuse_unusable(client, (channel, *fallbacks), self._senders)
        if fallback_after_seconds is not None:
            self._refuse_timer(client, fallback_after_seconds)
        request = StartRequest(
            client, channel, to, locale, country, ip, transaction, tuple(fallbacks)
        )
        if self._guard is not None:
            self._guard.admit_destination(client, channel, country)
        destination_key = self._store.destination_key(client.name, channel, to)
        known: str | None = None  # the index, as the admission read it
        if self._scripted is not None:
            new = self._scripted.start(request, destination_key, self._clock.now_ms())
            if isinstance(new, Verification):
                return self._started(new, fallback_after_seconds)
            known = new
        elif self._guard is not None:
            # Only a test here: a start is counted once it is admitted (see _create).
            self._guard.admit_start(client, ip)
        for _ in range(_START_ROUNDS):
            now_ms = self._clock.now_ms()
            current_id = known or self._store.pending_id(destination_key)
            known = None
            stale_id = ""
            if current_id is not None:
                existing = self._store.load(current_id)
                if existing is not None and _is_resendable(existing, client, now_ms, transaction):
                    resent = self._resend(existing, destination_key, now_ms, request)
                    if resent is not None:
                        self._emit(EventKind.RESENT, client.name, resent)
                        return StartResult(resent, created=False)
                    continue
                stale_id = current_id
            created = self._create(request, destination_key, stale_id, now_ms)
            if created is not None:
                return self._started(created, fallback_after_seconds)
        raise StoreUnavailable("too much contention on one destination")

    def _started(self, created: Verification, fallback_after_seconds: int | None) -> StartResult:
        self._emit(EventKind.STARTED, created.client, created)
        if fallback_after_seconds is not None:
            self._set_timer(created, fallback_after_seconds)
        return StartResult(created, created=True)

    def _refuse_timer(self, client: Client, after_seconds: int) -> None:
        reason = None
        if self.timers.jobs is None:
            reason = "needs the job queue (OTP_JOBS_REDIS_URL on a Redis Cluster)"
        elif after_seconds >= client.policy.code_ttl_seconds:
            reason = (
                f"must be shorter than the code's lifetime ({client.policy.code_ttl_seconds} s)"
            )
        if reason is not None:
            raise InvalidRequest([FieldError("fallback_after_seconds", reason)])

    def _set_timer(self, verification: Verification, after_seconds: int) -> None:
        try:
            self.timers.set(verification, after_seconds)
        except StoreUnavailable:
            # The code is sent: answer with the verification; only the timed fallback is lost.
            log.error("fallback timer of %s not set: the job queue is down", verification.id)

    def _create(
        self, request: StartRequest, destination_key: str, stale_id: str, now_ms: int
    ) -> Verification | None:
        client, to = request.client, request.to
        dest_failures = 0
        if self._guard is not None:
            dest_failures = self._guard.admit_checks(client, to)
            self._guard.count_start(client, request.ip)
            self._guard.admit_send(client, request.channel, to, request.country)
        verification = new_verification(request, now_ms, dest_failures)
        code = generate_code(client.policy.code_length)
        code_hash = self._hasher.hash(verification.id, code, request.transaction)
        ttl_ms = verification.expires_ms - now_ms
        self._store.create(verification, code_hash, ttl_ms + RECORD_GRACE_SECONDS * 1000)
        # The hash exists before the index points at it, so an index that points at nothing is
        # always stale. Losing the claim means a concurrent start won: drop ours and resend theirs.
        if not self._store.claim_destination(destination_key, verification.id, stale_id, ttl_ms):
            self._store.cancel(verification.id, client.name, now_ms)
            return None
        return self.fallback.deliver(
            client, verification, code, code_hash, destination_key, request.fallbacks
        )

    def _resend(
        self, existing: Verification, destination_key: str, now_ms: int, request: StartRequest
    ) -> Verification | None:
        client, policy = request.client, request.client.policy
        # Refuse before hashing, so a rejected resend costs no argon2; the script re-checks.
        _refuse_resend(existing, now_ms)
        if self._scripted is not None:
            outcome, code, code_hash = self._scripted.resend(
                client, existing, destination_key, now_ms, request
            )
        else:
            outcome, code, code_hash = self._resend_step_by_step(
                existing, destination_key, now_ms, request
            )
        if outcome.verification is None:
            if outcome.outcome == "missing":
                return None
            _raise_resend_refusal(outcome.outcome, outcome.until_ms, now_ms)
        assert outcome.verification is not None  # noqa: S101 (narrowing for mypy)
        verification = outcome.verification
        if request.locale:
            locale = resolve_locale(request.locale, policy, request.country)
            verification = replace(verification, locale=locale)
        return self._dispatcher.deliver(client, verification, code, code_hash, destination_key)

    def _resend_step_by_step(
        self, existing: Verification, destination_key: str, now_ms: int, request: StartRequest
    ) -> tuple[ResendOutcome, str, str]:
        client, policy = request.client, request.client.policy
        if self._guard is not None:
            self._guard.admit_checks(client, existing.to)
            self._guard.count_start(client, request.ip)
            self._guard.admit_send(client, existing.channel, existing.to, request.country)
        code = generate_code(policy.code_length)
        code_hash = self._hasher.hash(existing.id, code, existing.transaction)
        outcome = self._store.resend(
            existing.id,
            client.name,
            now_ms,
            code_hash,
            cooldown_ms=policy.resend_cooldown_seconds * 1000,
            ttl_ms=policy.code_ttl_seconds * 1000,
            grace_ms=RECORD_GRACE_SECONDS * 1000,
        )
        if outcome.verification is not None:
            # The index lives as long as the resent code, not the first one: else a check by
            # destination misses the code, and a new start could make a second verification.
            ttl_ms = policy.code_ttl_seconds * 1000
            self._store.claim_destination(destination_key, existing.id, existing.id, ttl_ms)
        return outcome, code, code_hash


def _is_resendable(
    existing: Verification, client: Client, now_ms: int, transaction: Transaction | None
) -> bool:
    # One whose checks are used up is replaced by a new verification, as Twilio does; the
    # destination's failure window and run of consecutive failures still bound the guessing.
    # A code authorises one PSD2 transaction: another one needs a new verification.
    pending = existing.client == client.name and existing.status_at(now_ms) is Status.PENDING
    return pending and existing.transaction == transaction


def _refuse_resend(existing: Verification, now_ms: int) -> None:
    if existing.sends >= existing.max_sends:
        _raise_resend_refusal("max_sends", existing.expires_ms, now_ms)
    if now_ms < existing.next_send_ms:
        _raise_resend_refusal("cooldown", existing.next_send_ms, now_ms)


def _raise_resend_refusal(outcome: str, until_ms: int, now_ms: int) -> None:
    retry_after = seconds_until(until_ms, now_ms)
    if outcome == "locked":
        raise TooManyAttempts(
            "Every check of the pending verification has been used; wait for it to expire.",
            retry_after,
        )
    if outcome == "max_sends":
        raise MaxSendsReached(retry_after, "The pending verification has used all its sends.")
    raise ResendTooSoon(retry_after, f"A new code can be sent in {retry_after} seconds.")
