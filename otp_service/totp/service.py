"""
TotpService: authenticator-app factors (RFC 6238) and their backup codes.

A check accepts the code of the current 30 s step or of one step either side, and only for a step
above the last accepted one (the replay guard, a compare-and-set in Redis). Every check counts
against a failure budget before any comparison: each ``max_attempts`` consecutive failures (the
client's policy) lock the factor for the next step of ``OTP_LOCKOUT_SCHEDULE`` (1 min, 5 min,
15 min, 1 h, then 24 h each time), and from ``OTP_MAX_CONSECUTIVE_FAILURES`` (100) consecutive
failures on, every failure locks it for the last step. Backup codes have an allowance of their
own, so a locked TOTP leaves them as the way back in. A success resets it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

from otp_service.core.codes import CodeHasher
from otp_service.core.errors import (
    FactorExists,
    FactorNotFound,
    FieldError,
    InvalidRequest,
    StoreUnavailable,
)
from otp_service.core.events import Event, EventKind, EventSink, FanOut
from otp_service.core.models import DEFAULT_LOCKOUT_SCHEDULE, Client, Clock
from otp_service.totp.authenticator import new_secret, provisioning_uri, qr_svg
from otp_service.totp.backup_codes import BackupCodeBook
from otp_service.totp.checks import FactorChecks, require_totp_code
from otp_service.totp.keys import TotpKeyring
from otp_service.totp.models import (
    Algorithm,
    BackupCodes,
    Enrolment,
    Factor,
    FactorStatus,
)
from otp_service.totp.records import Allowance, SubjectEntry
from otp_service.totp.store import TotpStore
from otp_service.totp.subjects import SubjectIndex

UNVERIFIED_TTL_SECONDS: Final = 900
TOTP_DIGITS: Final = (6, 8)
_ENROL_ROUNDS: Final = 3


def new_factor_id() -> str:
    """A fresh factor id: ``tf_`` and 128 random bits in hex."""
    return "tf_" + secrets.token_hex(16)


class TotpService:
    """
    Enrol, activate, check and delete TOTP factors, and give them backup codes.

    ``secret_factory`` is injectable so tests can enrol the RFC test seeds.
    """

    def __init__(
        self,
        store: TotpStore,
        keyring: TotpKeyring,
        hasher: CodeHasher,
        clock: Clock,
        events: EventSink | None = None,
        *,
        max_consecutive_failures: int = 100,
        lockout_schedule: tuple[int, ...] = DEFAULT_LOCKOUT_SCHEDULE,
        secret_factory: Callable[[], str] = new_secret,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._backup_codes = BackupCodeBook(store, hasher)
        self._clock = clock
        self._events = events or FanOut()
        self._new_secret = secret_factory
        self._subjects = SubjectIndex(store)
        self._checks = FactorChecks(
            store,
            self._subjects,
            keyring,
            self._backup_codes,
            clock,
            self._emit,
            max_consecutive_failures,
            lockout_schedule,
        )

    def _emit(self, client: str, factor_id: str, outcome: str, **detail: str | int | bool) -> None:
        detail = {"factor_id": factor_id, **detail}
        self._events.record(Event(EventKind.TOTP, client, outcome=outcome, detail=detail))

    # Enrol -----------------------------------------------------------------------------------

    def enroll(
        self,
        client: Client,
        subject: str,
        label: str | None = None,
        algorithm: Algorithm = Algorithm.SHA1,
        digits: int = 6,
    ) -> Enrolment:
        """
        A new unverified factor for ``subject``, replacing an unverified one.

        Raises:
            FactorExists: the subject has a verified factor (or one being activated).
            StoreUnavailable: Redis failed.
        """
        index_key, current = self._subjects.find(client, subject)
        for attempt in range(_ENROL_ROUNDS):
            if attempt:
                current = self._store.subject_entry(index_key)
            if current is not None:
                self._refuse_if_taken(client, current)
            enrolment = self._create(client, subject, label or subject, algorithm, digits)
            ttl_ms = UNVERIFIED_TTL_SECONDS * 1000
            new = SubjectEntry(enrolment.factor.id, FactorStatus.UNVERIFIED)
            if self._store.claim_subject(index_key, current, new, ttl_ms):
                if current is not None:
                    self._store.delete(current.factor_id, client.name, FactorStatus.UNVERIFIED)
                self._emit(client.name, enrolment.factor.id, "enrolled")
                return enrolment
            # A concurrent enrolment or activation won the index: drop ours and look again.
            self._store.delete(enrolment.factor.id, client.name)
        raise StoreUnavailable("too much contention on one subject")

    def _refuse_if_taken(self, client: Client, current: SubjectEntry) -> None:
        existing = self._store.load(current.factor_id)
        if existing is None or existing.client != client.name:
            return  # a stale index: replaceable
        # An index at 'verified' over an unverified hash is an activation between its two steps.
        if FactorStatus.VERIFIED in (existing.status, current.status):
            raise FactorExists("This subject already has a verified factor; delete it first.")

    def _create(
        self, client: Client, subject: str, label: str, algorithm: Algorithm, digits: int
    ) -> Enrolment:
        now_ms = self._clock.now_ms()
        factor = Factor(
            id=new_factor_id(),
            client=client.name,
            subject=subject,
            label=label,
            status=FactorStatus.UNVERIFIED,
            algorithm=algorithm,
            digits=digits,
            created_ms=now_ms,
            expires_ms=now_ms + UNVERIFIED_TTL_SECONDS * 1000,
        )
        secret = self._new_secret()
        sealed = self._keyring.seal(factor.id, secret)
        if not self._store.create(factor, sealed, UNVERIFIED_TTL_SECONDS * 1000):
            raise StoreUnavailable("a new factor id collided")
        uri = provisioning_uri(secret, factor, client.policy.brand_name)
        return Enrolment(factor, secret, uri, qr_svg(uri))

    # Activate and check ----------------------------------------------------------------------

    def activate(self, client: Client, factor_id: str, code: str) -> Factor:
        """
        Verify an unverified factor with a first valid code.

        Raises:
            FactorNotFound: no unverified factor of this client has this id (or it expired, or a
                newer enrolment replaced it).
            InvalidRequest: the code is malformed, wrong or already used.
            TooManyAttempts: too many failures; locked for a while.
            StoreUnavailable: Redis failed.
        """
        require_totp_code(code)
        unverified = FactorStatus.UNVERIFIED
        outcome, reservation = self._checks.verify_totp(client, factor_id, unverified, code)
        if outcome != "valid":
            self._emit(client.name, factor_id, outcome, method="totp")
            raise InvalidRequest([FieldError("code", "is not the current code of this factor")])
        index_key = self._store.subject_key(client.name, reservation.subject_digest)
        old = SubjectEntry(factor_id, unverified)
        new = SubjectEntry(factor_id, FactorStatus.VERIFIED)
        # The index decides (a racing enrolment may have replaced this factor); then the hash.
        if not self._store.claim_subject(index_key, old, new, 0):
            raise FactorNotFound("This factor was replaced by a newer enrolment.")
        if not self._store.mark_verified(factor_id, client.name, self._clock.now_ms()):
            raise FactorNotFound("No unverified factor has this id.")
        factor = self._store.load(factor_id)
        if factor is None:
            raise FactorNotFound("No factor has this id.")
        self._emit(client.name, factor_id, "activated")
        return factor

    def check(self, client: Client, subject: str, code: str) -> bool:
        """
        Whether ``code`` (a TOTP code, or an unused backup code) is valid for ``subject`` now.

        A wrong or replayed code is ``False``, not an error.

        Raises:
            InvalidRequest: neither a TOTP code of the factor's length nor a backup code.
            FactorNotFound: the subject has no verified factor.
            TooManyAttempts: too many failures; locked for a while.
            StoreUnavailable: Redis failed.
        """
        return self._checks.check(client, subject, code)

    # Delete and backup codes -----------------------------------------------------------------

    def delete(self, client: Client, factor_id: str) -> None:
        """
        Delete a factor (verified or not) and its backup codes.

        Raises:
            FactorNotFound: no factor of this client has this id.
            StoreUnavailable: Redis failed.
        """
        digest = self._store.delete(factor_id, client.name)
        if digest is None:
            raise FactorNotFound("No factor has this id.")
        self._store.release_subject(self._store.subject_key(client.name, digest), factor_id)
        self._emit(client.name, factor_id, "deleted")

    def regenerate_backup_codes(self, client: Client, factor_id: str) -> BackupCodes:
        """
        Ten new single-use backup codes for a verified factor; the old ones stop working.

        Raises:
            FactorNotFound: no verified factor of this client has this id.
            StoreUnavailable: Redis failed.
        """
        factor = self._store.load(factor_id)
        # Refuse before hashing, so an unknown id costs no argon2.
        if factor is None or factor.client != client.name or factor.status != "verified":
            raise FactorNotFound("No verified factor has this id.")
        now_ms = self._clock.now_ms()
        codes = self._backup_codes.replace(factor_id, client.name, now_ms)
        if codes is None:
            raise FactorNotFound("No verified factor has this id.")
        self._emit(client.name, factor_id, "backup_codes")
        return BackupCodes(factor_id, codes, now_ms)

    # Operations ------------------------------------------------------------------------------

    def persistence(self) -> str:
        """
        How the Redis holding factors persists: ``aof``, ``rdb``, ``off`` or ``unknown``.

        Raises:
            StoreUnavailable: Redis does not answer.
        """
        return self._store.persistence()

    # Lockouts (admin) ------------------------------------------------------------------------

    def locks(self, client: Client, subject: str) -> tuple[str, Allowance, Allowance]:
        """
        The subject's factor, and the allowances of its codes and of its backup codes.

        Raises:
            FactorNotFound: the subject has no factor.
        """
        _, entry = self._subjects.find(client, subject)
        factor = None if entry is None else self._store.load(entry.factor_id)
        if factor is None or factor.client != client.name:
            raise FactorNotFound("This subject has no factor.")
        codes, backup_codes = self._store.allowances(factor.id)
        return factor.id, codes, backup_codes

    def clear_locks(self, client: Client, subject: str) -> None:
        """
        End the lockouts of the subject's factor, and their escalation.

        Raises:
            FactorNotFound: the subject has no factor.
        """
        factor_id, _, _ = self.locks(client, subject)
        if not self._store.clear_locks(factor_id, client.name, self._clock.now_ms()):
            raise FactorNotFound("This subject has no factor.")
        self._events.record(
            Event(
                EventKind.LOCK_CLEARED,
                client.name,
                outcome="factor",
                detail={"factor_id": factor_id},
            )
        )
