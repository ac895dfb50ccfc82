"""
TotpService: authenticator-app factors (RFC 6238) and their backup codes; the only ``pyotp`` user.

A check accepts the code of the current 30 s step or of one step either side, and only for a step
above the last accepted one (the replay guard, a compare-and-set in Redis). Every check counts
against a failure budget before any comparison, with the limits of sent codes: each
``max_attempts`` consecutive failures lock the factor for ``code_ttl_seconds`` (the client's
policy); ``OTP_MAX_CONSECUTIVE_FAILURES`` (100) consecutive failures lock it for 30 days, and every
failure after that again (NIST SP 800-63B: at most 100 failures in 30 days). A success resets it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import pyotp
import segno

from otp_service.core.codes import CodeHasher
from otp_service.core.errors import (
    FactorExists,
    FactorNotFound,
    FieldError,
    InvalidRequest,
    StoreUnavailable,
    TooManyAttempts,
)
from otp_service.core.events import Event, EventKind, EventSink, FanOut
from otp_service.core.models import Client, Clock, seconds_until
from otp_service.totp.backup_codes import BackupCodeBook, normalize_backup_code
from otp_service.totp.keys import TotpKeyring
from otp_service.totp.models import (
    PERIOD_SECONDS,
    Algorithm,
    BackupCodes,
    Enrolment,
    Factor,
    FactorStatus,
)
from otp_service.totp.store import (
    FactorReservation,
    SubjectEntry,
    Throttle,
    TotpStore,
    subject_digest,
)

UNVERIFIED_TTL_SECONDS: Final = 900
TOLERANCE_STEPS: Final = 1
HARD_LOCKOUT_SECONDS: Final = 30 * 86_400
TOTP_DIGITS: Final = (6, 8)
_ENROL_ROUNDS: Final = 3
_DIGESTS: Final = {
    Algorithm.SHA1: hashlib.sha1,
    Algorithm.SHA256: hashlib.sha256,
    Algorithm.SHA512: hashlib.sha512,
}


def new_factor_id() -> str:
    """A fresh factor id: ``tf_`` and 128 random bits in hex."""
    return "tf_" + secrets.token_hex(16)


def new_secret() -> str:
    """A fresh base32 secret of 160 bits (RFC 4226's recommended length) from the OS's CSPRNG."""
    return pyotp.random_base32(32)


def matched_step(
    secret: str, algorithm: Algorithm, digits: int, code: str, now_ms: int
) -> int | None:
    """
    The time step ``code`` is the code of, within one step of now, or None.

    Every candidate is compared (no early exit); if two steps share the code, the later wins.
    """
    totp = pyotp.TOTP(secret, digits=digits, digest=_DIGESTS[algorithm], interval=PERIOD_SECONDS)
    # An aware UTC datetime: pyotp reads a naive one as local time.
    current = totp.timecode(datetime.fromtimestamp(now_ms // 1000, tz=UTC))
    found = None
    for step in range(max(current - TOLERANCE_STEPS, 0), current + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _provisioning_uri(secret: str, factor: Factor, issuer: str) -> str:
    totp = pyotp.TOTP(
        secret, digits=factor.digits, digest=_DIGESTS[factor.algorithm], interval=PERIOD_SECONDS
    )
    # The Key URI Format forbids a colon in the issuer or the account name, even encoded.
    return totp.provisioning_uri(
        name=factor.label.replace(":", "_"), issuer_name=issuer.replace(":", "_")
    )


def qr_svg(uri: str) -> str:
    """An SVG QR code of ``uri`` (error correction M, as authenticator apps expect to scan)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=4)
    return buffer.getvalue().decode()


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
        secret_factory: Callable[[], str] = new_secret,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._backup_codes = BackupCodeBook(store, hasher)
        self._clock = clock
        self._events = events or FanOut()
        self._max_consecutive_failures = max_consecutive_failures
        self._new_secret = secret_factory

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
        index_key = self._store.subject_key(client.name, subject_digest(subject))
        for _ in range(_ENROL_ROUNDS):
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
        uri = _provisioning_uri(secret, factor, client.policy.brand_name)
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
        _require_totp_code(code)
        unverified = FactorStatus.UNVERIFIED
        outcome, reservation = self._verify_totp(client, factor_id, unverified, code)
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
        # By length: 6 or 8 digits is a TOTP code; a backup code has 10 characters.
        backup_code = None if _is_totp_code(code) else normalize_backup_code(code)
        if backup_code is None and not _is_totp_code(code):
            raise InvalidRequest([FieldError("code", "must be a TOTP code or a backup code")])
        index_key = self._store.subject_key(client.name, subject_digest(subject))
        entry = self._store.subject_entry(index_key)
        if entry is None or entry.status is not FactorStatus.VERIFIED:
            raise FactorNotFound("This subject has no verified factor.")
        factor_id, verified = entry.factor_id, FactorStatus.VERIFIED
        if backup_code is not None:
            hashes = self._reserve(client, factor_id, verified, None).backup_hashes or {}
            outcome = self._backup_codes.take(
                factor_id, client.name, hashes, backup_code, self._clock.now_ms()
            )
            self._emit(client.name, factor_id, outcome, method="backup_code")
            return outcome == "valid"
        outcome, _ = self._verify_totp(client, factor_id, verified, code)
        self._emit(client.name, factor_id, outcome, method="totp")
        return outcome == "valid"

    def _reserve(
        self, client: Client, factor_id: str, status: FactorStatus, code: str | None
    ) -> FactorReservation:
        now_ms = self._clock.now_ms()
        reservation = self._store.reserve(
            factor_id,
            client.name,
            status,
            now_ms,
            code_digits=None if code is None else len(code),
            throttle=Throttle(
                failures_per_window=client.policy.max_attempts,
                lockout_ms=client.policy.code_ttl_seconds * 1000,
                hard_limit=self._max_consecutive_failures,
                hard_lockout_ms=HARD_LOCKOUT_SECONDS * 1000,
            ),
        )
        if reservation.outcome == "locked":
            self._emit(client.name, factor_id, "locked")
            raise TooManyAttempts(
                "Too many failed checks of this factor; try again later.",
                seconds_until(reservation.locked_until_ms, now_ms),
            )
        if reservation.outcome == "malformed":
            message = f"must be {reservation.digits} digits"
            raise InvalidRequest([FieldError("code", message)])
        if reservation.outcome != "ok":
            raise FactorNotFound(f"No {status.value} factor has this id.")
        return reservation

    def _verify_totp(
        self, client: Client, factor_id: str, status: FactorStatus, code: str
    ) -> tuple[str, FactorReservation]:
        """``valid``, ``invalid`` or ``replayed``, and the reservation (budget already counted)."""
        reservation = self._reserve(client, factor_id, status, code)
        assert reservation.sealed is not None  # noqa: S101 (an 'ok' reservation has one)
        secret = self._keyring.open(factor_id, reservation.sealed)
        now_ms = self._clock.now_ms()
        step = matched_step(secret, reservation.algorithm, reservation.digits, code, now_ms)
        if step is None:
            return "invalid", reservation
        outcome = self._store.accept(factor_id, client.name, status, step, now_ms)
        if outcome == "gone":
            raise FactorNotFound(f"No {status.value} factor has this id.")
        return ("valid" if outcome == "accepted" else "replayed"), reservation

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


def _is_totp_code(code: str) -> bool:
    return code.isascii() and code.isdigit() and len(code) in TOTP_DIGITS


def _require_totp_code(code: str) -> None:
    if not _is_totp_code(code):
        raise InvalidRequest([FieldError("code", "must be a TOTP code (6 or 8 digits)")])
