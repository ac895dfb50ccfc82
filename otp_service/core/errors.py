"""
The one exception tree of the service.

Every error a caller can see is an ``OTPError`` leaf; ``web/problems.py`` maps each leaf to one
RFC 9457 problem type. Expected outcomes (a wrong code) are values, not exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field of a request: where it is and what is wrong with it."""

    field: str
    message: str


class OTPError(Exception):
    """
    Base of all service errors. Never raised directly.
    """

    detail: str = ""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail


class InvalidRequest(OTPError):
    """The request is malformed: each problem is one ``FieldError``."""

    def __init__(self, errors: list[FieldError], detail: str = "The request is not valid.") -> None:
        super().__init__(detail)
        self.errors = errors


class MalformedBody(OTPError):
    """The body is not a JSON object (400)."""


class Unauthenticated(OTPError):
    """No API key, or one that is not known (401)."""


class Forbidden(OTPError):
    """The API key lacks the scope the route needs (403)."""


class InvalidSignature(OTPError):
    """A webhook's signature is missing or is not the provider's (403)."""


class ChannelNotAllowed(OTPError):
    """The client's policy does not allow this channel (403)."""


class CountryNotAllowed(OTPError):
    """SMS to this country is not allowed (403)."""


class VerificationNotFound(OTPError):
    """
    Unknown, expired, already used, canceled or failed: there is nothing to check.

    ``reason`` is the status the owner's verification ended in (``approved``, ``expired``,
    ``canceled``, ``max_attempts_reached``, ``failed``), told only to its owner.
    """

    def __init__(self, detail: str = "", reason: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason


class TooManyAttempts(OTPError):
    """The verification has used all its checks, or the factor is locked for a while."""

    def __init__(
        self, detail: str = "", retry_after_seconds: int = 0, *, locked_until_ms: int = 0
    ) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
        self.locked_until_ms = locked_until_ms


class ResendTooSoon(OTPError):
    """A new code was asked for before the cooldown ended."""

    def __init__(self, retry_after_seconds: int, detail: str = "") -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class MaxSendsReached(OTPError):
    """The verification has been sent as many times as its policy allows."""

    def __init__(self, retry_after_seconds: int, detail: str = "") -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class RateLimited(OTPError):
    """A rate limit tripped (per destination, client, IP or country)."""

    def __init__(self, retry_after_seconds: int, limit: str, detail: str = "") -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit


class SuspectedFraud(OTPError):
    """The pumping guard blocks the number's prefix (a country or an E.164 prefix) until then."""

    def __init__(self, prefix: str, until_ms: int, detail: str = "") -> None:
        super().__init__(detail)
        self.prefix = prefix
        self.until_ms = until_ms


class FraudBlockNotFound(OTPError):
    """The pumping guard has no active block of this prefix (404)."""


class IdempotencyKeyReused(OTPError):
    """An ``Idempotency-Key`` already used with a different body (422)."""


class IdempotencyConflict(OTPError):
    """A request with the same ``Idempotency-Key`` is still being worked on (409)."""

    def __init__(self, retry_after_seconds: int, detail: str = "") -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class InvalidDestination(OTPError):
    """The provider refused the destination (invalid or unsubscribed number, bad address)."""

    verification_id: str | None = None


class DeliveryFailed(OTPError):
    """The code could not be delivered; ``retryable`` says whether trying later may work."""

    verification_id: str | None = None

    def __init__(self, detail: str = "", *, retryable: bool) -> None:
        super().__init__(detail)
        self.retryable = retryable


class StoreUnavailable(OTPError):
    """Redis could not be reached or answered an error: fail closed."""


class Overloaded(OTPError):
    """The request waited in the server's queue too long: refused before any work (load shed)."""


class StoreCorrupted(OTPError):
    """A stored value could not be read back (e.g. an invalid hash): a server fault, logged."""


class FactorNotFound(OTPError):
    """No TOTP factor of this client has this id, or the subject has no verified factor (404)."""


class FactorExists(OTPError):
    """The subject already has a verified TOTP factor: delete it before enrolling again (409)."""


class PasskeyNotFound(OTPError):
    """No passkey of this client has this id, or the subject has no passkey (404)."""


class ChallengeNotFound(OTPError):
    """A passkey ceremony that is unknown, already used or expired (404)."""


class PasskeyExists(OTPError):
    """The credential is already registered (409)."""


class PasskeyRejected(OTPError):
    """A registration response failed verification (attestation, origin, RP id): 422."""

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason
