"""
FactorChecks: a TOTP or backup code checked for a subject, each check counted against the
factor's failure budget before any comparison (see ``service.py`` for the limits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from otp_service.core.errors import FactorNotFound, FieldError, InvalidRequest, TooManyAttempts
from otp_service.core.models import DEFAULT_LOCKOUT_SCHEDULE, Client, Clock, seconds_until
from otp_service.totp.authenticator import matched_step
from otp_service.totp.backup_codes import BackupCodeBook, normalize_backup_code
from otp_service.totp.keys import TotpKeyring
from otp_service.totp.models import FactorStatus
from otp_service.totp.records import FactorReservation, Throttle
from otp_service.totp.store import TotpStore
from otp_service.totp.subjects import SubjectIndex

TOTP_DIGITS: Final = (6, 8)
#: Records one outcome of a factor: (client, factor id, outcome, detail).
Emit = Callable[..., None]


class FactorChecks:
    """Checks of TOTP and backup codes, with the replay guard and the failure budget."""

    def __init__(
        self,
        store: TotpStore,
        subjects: SubjectIndex,
        keyring: TotpKeyring,
        backup_codes: BackupCodeBook,
        clock: Clock,
        emit: Emit,
        max_consecutive_failures: int,
        lockout_schedule: tuple[int, ...] = DEFAULT_LOCKOUT_SCHEDULE,
    ) -> None:
        self._store = store
        self._subjects = subjects
        self._keyring = keyring
        self._backup_codes = backup_codes
        self._clock = clock
        self._emit = emit
        self._max_consecutive_failures = max_consecutive_failures
        self._lockout_schedule = lockout_schedule

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
        backup_code = None if is_totp_code(code) else normalize_backup_code(code)
        if backup_code is None and not is_totp_code(code):
            raise InvalidRequest([FieldError("code", "must be a TOTP code or a backup code")])
        _, entry = self._subjects.find(client, subject)
        if entry is None or entry.status is not FactorStatus.VERIFIED:
            raise FactorNotFound("This subject has no verified factor.")
        factor_id, verified = entry.factor_id, FactorStatus.VERIFIED
        if backup_code is not None:
            hashes = self.reserve(client, factor_id, verified, None).backup_hashes or {}
            outcome = self._backup_codes.take(
                factor_id, client.name, hashes, backup_code, self._clock.now_ms()
            )
            self._emit(client.name, factor_id, outcome, method="backup_code")
            return outcome == "valid"
        outcome, _ = self.verify_totp(client, factor_id, verified, code)
        self._emit(client.name, factor_id, outcome, method="totp")
        return outcome == "valid"

    def reserve(
        self, client: Client, factor_id: str, status: FactorStatus, code: str | None
    ) -> FactorReservation:
        """Count one check against the factor's budget; what checking needs, or why not."""
        now_ms = self._clock.now_ms()
        reservation = self._store.reserve(
            factor_id,
            client.name,
            status,
            now_ms,
            code_digits=None if code is None else len(code),
            throttle=Throttle(
                failures_per_step=client.policy.max_attempts,
                hard_limit=self._max_consecutive_failures,
                schedule_ms=tuple(seconds * 1000 for seconds in self._lockout_schedule),
            ),
        )
        if reservation.outcome == "locked":
            self._emit(client.name, factor_id, "locked")
            what = "backup codes" if code is None else "codes"
            raise TooManyAttempts(
                f"Too many wrong {what} for this factor; try again later.",
                seconds_until(reservation.locked_until_ms, now_ms),
                locked_until_ms=reservation.locked_until_ms,
            )
        if reservation.outcome == "malformed":
            message = f"must be {reservation.digits} digits"
            raise InvalidRequest([FieldError("code", message)])
        if reservation.outcome != "ok":
            raise FactorNotFound(f"No {status.value} factor has this id.")
        return reservation

    def verify_totp(
        self, client: Client, factor_id: str, status: FactorStatus, code: str
    ) -> tuple[str, FactorReservation]:
        """``valid``, ``invalid`` or ``replayed``, and the reservation (budget already counted)."""
        reservation = self.reserve(client, factor_id, status, code)
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


def is_totp_code(code: str) -> bool:
    """Whether ``code`` has the form of a TOTP code (6 or 8 ASCII digits)."""
    return code.isascii() and code.isdigit() and len(code) in TOTP_DIGITS


def require_totp_code(code: str) -> None:
    """
    Raises:
        InvalidRequest: ``code`` does not have the form of a TOTP code.
    """
    if not is_totp_code(code):
        raise InvalidRequest([FieldError("code", "must be a TOTP code (6 or 8 digits)")])
