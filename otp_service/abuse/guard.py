"""
Abuse protection: rate limits on Redis (the ``limits`` library), SMS geo permissions, the SMS
pumping guard, and the per-destination failure lockout (NIST SP 800-63B 5.2.2).

Every limit fails closed: a storage error is ``StoreUnavailable`` (503), never "allow".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import NoReturn

from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from otp_service.abuse.admission import Lockout, StartAdmission, windows
from otp_service.abuse.destination_locks import (
    CONSECUTIVE_FAILURES_TTL_SECONDS,
    DestinationLock,
    clear_lock,
    consecutive_key,
    count_failure,
    read_lock,
)
from otp_service.abuse.limits_storage import fail_closed, now_ms, parse_limits
from otp_service.abuse.lockouts import DestinationLockouts
from otp_service.core.errors import CountryNotAllowed, RateLimited, StoreUnavailable
from otp_service.core.events import Event, EventKind, EventSink, FanOut
from otp_service.core.models import (
    DEFAULT_LOCKOUT_SCHEDULE,
    PHONE_CHANNELS,
    Channel,
    Client,
    destination_digest,
)
from otp_service.fraud import FraudGuard

logger = logging.getLogger("otp_service.abuse.guard")


class AbuseGuard:
    """
    The limits of invariant 5 (docs/architecture.md), each one a moving window on Redis.

    Args:
        storage: makes the ``limits`` storage (see ``limits_storage``), on first use: a Cluster
            storage connects as it is made, and making the app does no I/O.
        events: where ``limit.tripped`` events go.
        sms_country_limit: the default per-country SMS cap (e.g. ``"5000/hour"``).
        sms_country_limits: per-country overrides of that cap (ISO code → spec).
        max_consecutive_failures: failed checks in a row per destination before it is locked.
        name_key: the secret destinations are hashed under in key names (``key_name_key``).
        fraud: the adaptive pumping guard, asked about every SMS, WhatsApp message and call.
        key_prefix: the ``limits`` storage's key prefix (``<OTP_REDIS_PREFIX>:rl``).
    """

    def __init__(
        self,
        storage: Callable[[], Storage],
        events: EventSink | None = None,
        *,
        sms_country_limit: str = "5000/hour",
        sms_country_limits: Mapping[str, str] | None = None,
        max_consecutive_failures: int = 100,
        lockouts: DestinationLockouts,
        lockout_schedule: tuple[int, ...] = DEFAULT_LOCKOUT_SCHEDULE,
        name_key: bytes,
        fraud: FraudGuard | None = None,
        key_prefix: str = "otp:rl",
    ) -> None:
        self._fraud = fraud
        self._key_prefix = key_prefix
        self._make_storage = storage
        self._lockouts = lockouts
        self._lockout_schedule = lockout_schedule
        self._name_key = name_key
        self._made: tuple[Storage, MovingWindowRateLimiter] | None = None
        self._lock = threading.Lock()
        self._events = events or FanOut()
        self._sms_country_limit = sms_country_limit
        self._sms_country_limits = dict(sms_country_limits or {})
        self._max_consecutive_failures = max_consecutive_failures
        #: Every limit of a new start, for the start's scripts to test and count in one go.
        self.admission = StartAdmission(
            key_prefix,
            name_key,
            lockouts,
            Lockout(max_consecutive_failures, CONSECUTIVE_FAILURES_TTL_SECONDS),
            self._country_spec,
            self._trip,
            fraud,
        )

    def _backend(self) -> tuple[Storage, MovingWindowRateLimiter]:
        with self._lock:
            if self._made is None:
                try:
                    storage = self._make_storage()
                except Exception as error:
                    # Whatever the topology's client raises while connecting: fail closed.
                    raise StoreUnavailable("Redis is unavailable") from error
                self._made = (storage, MovingWindowRateLimiter(storage))
            return self._made

    @property
    def _storage(self) -> Storage:
        return self._backend()[0]

    @property
    def _limiter(self) -> MovingWindowRateLimiter:
        return self._backend()[1]

    def _hit(self, client: Client, name: str, spec: str, *identifiers: str) -> None:
        """Count one hit against every window of ``spec``; raise when any is exhausted."""
        for item in parse_limits(spec):
            with fail_closed():
                if self._limiter.hit(item, name, *identifiers):
                    continue
                reset_at = self._limiter.get_window_stats(item, name, *identifiers).reset_time
            self._trip(client, name, reset_at)

    def _trip(self, client: Client, name: str, reset_at: float) -> NoReturn:
        retry_after = max(int(reset_at - time.time()) + 1, 1)
        self._events.record(
            Event(
                EventKind.LIMIT_TRIPPED,
                client.name,
                detail={"limit": name, "retry_after": retry_after},
            )
        )
        raise RateLimited(
            retry_after, name, f"Too many requests ({name}); retry in {retry_after} s."
        )

    def _test(self, client: Client, name: str, spec: str, *identifiers: str) -> None:
        """Raise when any window of ``spec`` is exhausted, without counting a hit."""
        for item in parse_limits(spec):
            with fail_closed():
                if self._limiter.test(item, name, *identifiers):
                    continue
                reset_at = self._limiter.get_window_stats(item, name, *identifiers).reset_time
            self._trip(client, name, reset_at)

    def admit_start(self, client: Client, ip: str | None) -> None:
        """
        Refuse a start when the client's or the end user's IP rate is used up (counts nothing).

        Raises:
            RateLimited: a limit is exhausted. StoreUnavailable: Redis failed.
        """
        self._test(client, "client_starts", client.policy.client_starts, client.name)
        if ip:
            self._test(client, "ip_starts", client.policy.ip_starts, client.name, ip)

    def count_start(self, client: Client, ip: str | None) -> None:
        """
        Count an admitted start against the client's and the end user's IP rate: refused starts
        (resend too soon, max sends, locked) use none of it.

        Raises:
            RateLimited: a limit tripped. StoreUnavailable: Redis failed.
        """
        self._hit(client, "client_starts", client.policy.client_starts, client.name)
        if ip:
            self._hit(client, "ip_starts", client.policy.ip_starts, client.name, ip)

    def admit_destination(self, client: Client, channel: Channel, country: str | None) -> None:
        """
        Refuse SMS to countries the policy does not allow (no quota is used).

        Raises:
            CountryNotAllowed: the number's country is not in the allowed list.
        """
        allowed = client.policy.sms_allowed_countries
        if channel in PHONE_CHANNELS and allowed and (country or "") not in allowed:
            raise CountryNotAllowed("SMS to this number's country is not allowed.")

    def admit_send(self, client: Client, channel: Channel, to: str, country: str | None) -> None:
        """
        Count one message to ``to``: per destination, per client and channel, per SMS country
        (a static cap), and by the pumping guard (last: what a limit refused is not counted).

        Raises:
            RateLimited: a limit tripped. SuspectedFraud: the pumping guard blocks the number's
            prefix. StoreUnavailable: Redis failed.
        """
        digest = destination_digest(to, self._name_key)
        self._hit(client, "destination_sends", client.policy.destination_sends, client.name, digest)
        for limited, spec in client.policy.channel_sends:
            if limited is channel:
                self._hit(client, f"{channel}_sends", spec, client.name)
        if channel in PHONE_CHANNELS and country:
            try:
                self._hit(client, "sms_country_sends", self._country_spec(country), country)
            except RateLimited:
                logger.warning(
                    "SMS pumping guard tripped", extra={"country": country, "client": client.name}
                )
                raise
        if self._fraud is not None:
            self._fraud.admit(client, channel, to)

    def _country_spec(self, country: str | None) -> str:
        return self._sms_country_limits.get(country or "", self._sms_country_limit)

    def record_approval(self, channel: Channel, to: str) -> None:
        """Tell the pumping guard a code sent to ``to`` was used (never raises)."""
        if self._fraud is not None:
            self._fraud.record_approval(channel, to)

    def admit_checks(self, client: Client, to: str) -> int:
        """
        Refuse a new verification for a destination that failed too often; else the count of
        consecutive failures so far (stored with the verification).

        Raises:
            RateLimited: the destination is locked out. StoreUnavailable: Redis failed.
        """
        digest = destination_digest(to, self._name_key)
        with fail_closed():
            consecutive = self._storage.get(consecutive_key(client.name, digest))
        if consecutive >= self._max_consecutive_failures:
            reset_at = time.time() + CONSECUTIVE_FAILURES_TTL_SECONDS
            self._trip(client, "consecutive_failures", reset_at)
        locked_until_ms = self._lockouts.state(client.name, digest, now_ms()).locked_until_ms
        if locked_until_ms:
            self._trip(client, "destination_failures", locked_until_ms / 1000)
        return consecutive

    def record_failure(self, client: Client, to: str) -> bool:
        """
        Count a wrong code for ``to``; True when the destination is now locked out.

        Raises:
            StoreUnavailable: Redis failed.
        """
        digest = destination_digest(to, self._name_key)
        spec = client.policy.destination_failures
        if self._lockouts.scripted:  # one script; on a Cluster, one call at a time
            failures = windows("destination_failures", spec, client.name, digest)
            exhausted, consecutive = self._lockouts.count_wrong_code(
                [f"{self._key_prefix}:{consecutive_key(client.name, digest)}"]
                + [window.key(self._key_prefix) for window in failures],
                client.name,
                digest,
                [(window.item.amount, window.item.get_expiry()) for window in failures],
                self._lockout_schedule,
            )
        else:
            with fail_closed():
                exhausted, consecutive = count_failure(
                    self._limiter, self._storage, parse_limits(spec), client.name, digest
                )
            if exhausted:
                self._lockouts.lock(client.name, digest, self._lockout_schedule, now_ms())
        return exhausted or consecutive >= self._max_consecutive_failures

    def destination_lock(self, client: Client, to: str) -> DestinationLock:
        """
        The wrong codes for ``to`` and until when it is locked.

        Raises:
            StoreUnavailable: Redis failed.
        """
        digest = destination_digest(to, self._name_key)
        windows = parse_limits(client.policy.destination_failures)
        cap = self._max_consecutive_failures
        with fail_closed():
            lock = read_lock(self._limiter, self._storage, windows, cap, client.name, digest)
        until_ms = self._lockouts.state(client.name, digest, now_ms()).locked_until_ms
        return replace(lock, locked_until_ms=max(lock.locked_until_ms, until_ms))

    def clear_destination(self, client: Client, to: str) -> None:
        """
        End the lockout of ``to`` (an admin's decision, recorded as an event).

        Raises:
            StoreUnavailable: Redis failed.
        """
        digest = destination_digest(to, self._name_key)
        windows = parse_limits(client.policy.destination_failures)
        with fail_closed():
            clear_lock(self._limiter, self._storage, windows, client.name, digest)
        self._lockouts.forget(client.name, digest)
        self._events.record(Event(EventKind.LOCK_CLEARED, client.name, outcome="destination"))

    def record_success(self, client: Client, to: str) -> None:
        """A right code ends a run of failures for ``to``, and the escalation of its lockouts."""
        digest = destination_digest(to, self._name_key)
        with fail_closed():
            self._storage.clear(consecutive_key(client.name, digest))
        self._lockouts.forget(client.name, digest)
