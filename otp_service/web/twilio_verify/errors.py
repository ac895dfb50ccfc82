"""
Twilio's errors: the body (``code``, ``message``, ``more_info``, ``status``) and the code each
engine error maps to, as Twilio Verify answers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from otp_service.core import errors
from otp_service.web.problems import PROBLEMS
from otp_service.web.twilio_verify.schemas import MORE_INFO


class UnsupportedFeature(Exception):
    """A Twilio parameter for a feature this service does not have (Twilio's 60204)."""

    def __init__(self, parameter: str) -> None:
        super().__init__(parameter)
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class TwilioError:
    """Twilio's error body (``code``, ``message``, ``more_info``, ``status``) and a Retry-After."""

    status: int
    code: int
    message: str
    retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body, exactly Twilio's four members."""
        more_info = MORE_INFO.format(code=self.code)
        return {
            "code": self.code,
            "message": self.message,
            "more_info": more_info,
            "status": self.status,
        }


#: Twilio's generic code for an HTTP status, for errors without a more specific one.
GENERIC_CODES: Final = {
    400: 60200,
    401: 20003,
    403: 20403,
    404: 20404,
    405: 20004,
    429: 20429,
    500: 20500,
    503: 20503,
}

#: OTPError leaf → (HTTP status, Twilio code, Twilio's message), for every error the engine and this
#: face raise. Any other leaf gets Twilio's generic code for its v1 status (``error_mapping``).
TWILIO_ERRORS: Final[dict[type[errors.OTPError], tuple[int, int, str]]] = {
    errors.InvalidRequest: (400, 60200, "Invalid parameter"),
    errors.MalformedBody: (400, 60200, "Invalid parameter"),
    errors.InvalidDestination: (400, 60200, "Invalid parameter: To"),
    errors.ChannelNotAllowed: (400, 60223, "Delivery channel disabled"),
    errors.Unauthenticated: (401, 20003, "Authenticate"),
    errors.Forbidden: (403, 20403, "Forbidden"),
    errors.InvalidSignature: (403, 20403, "Forbidden"),
    errors.CountryNotAllowed: (403, 60605, "Verification delivery attempt blocked"),
    errors.SuspectedFraud: (403, 60410, "Verification delivery attempt blocked"),
    errors.VerificationNotFound: (404, 20404, "The requested resource was not found"),
    errors.TooManyAttempts: (429, 60202, "Max check attempts reached"),
    errors.MaxSendsReached: (429, 60203, "Max send attempts reached"),
    errors.ResendTooSoon: (429, 20429, "Too many requests"),
    errors.RateLimited: (429, 20429, "Too many requests"),
    errors.StoreCorrupted: (500, 20500, "Internal server error"),
    errors.DeliveryFailed: (503, 20503, "Service unavailable"),
    errors.StoreUnavailable: (503, 20503, "Service unavailable"),
}
#: The SMS pumping guard (a per-country cap) blocks like Twilio's Fraud Guard blocks a prefix.
PUMPING_GUARD_LIMIT: Final = "sms_country_sends"
PUMPING_GUARD_ERROR: Final = (403, 60410, "Verification delivery attempt blocked")
STORE_RETRY_AFTER_SECONDS: Final = 2
DELIVERY_RETRY_AFTER_SECONDS: Final = 30
#: Engine field names → Twilio parameter names, for "Invalid parameter: To".
PARAMETER_NAMES: Final = {
    "to": "To",
    "code": "Code",
    "channel": "Channel",
    "locale": "Locale",
    "amount": "Amount",
    "payee": "Payee",
}


def generic_code(status: int) -> int:
    """Twilio's generic code for an HTTP status."""
    return GENERIC_CODES.get(status, 20500 if status >= 500 else 60200)


def error_mapping(kind: type[errors.OTPError]) -> tuple[int, int, str]:
    """(HTTP status, Twilio code, message) of an error class."""
    if kind in TWILIO_ERRORS:
        return TWILIO_ERRORS[kind]
    status, _, title = PROBLEMS.get(kind, (500, "internal-error", "Internal server error"))
    status = 400 if status == 422 else status  # Twilio answers invalid input with 400
    return status, generic_code(status), title


def twilio_error(error: errors.OTPError, resource: str) -> TwilioError:
    """The Twilio error for a service error; ``resource`` is the path Twilio names in a 404."""
    status, code, message = error_mapping(type(error))
    if isinstance(error, errors.RateLimited) and error.limit == PUMPING_GUARD_LIMIT:
        status, code, message = PUMPING_GUARD_ERROR
    if isinstance(error, errors.InvalidRequest) and error.errors:
        first = error.errors[0]
        message = f"Invalid parameter: {PARAMETER_NAMES.get(first.field, first.field)}"
        message += f" ({first.message})"
    elif isinstance(error, errors.VerificationNotFound):
        message = f"The requested resource {resource} was not found"
        if error.reason:
            # Twilio's body has no room for more: the reason goes in the message.
            message += f" (the verification is {error.reason})"
    elif status < 500 and error.detail:
        message = f"{message}: {error.detail}"
    return TwilioError(status, code, message, _retry_after(error))


def _retry_after(error: errors.OTPError) -> int | None:
    if isinstance(error, errors.StoreUnavailable):
        return STORE_RETRY_AFTER_SECONDS
    if isinstance(error, errors.DeliveryFailed):
        return DELIVERY_RETRY_AFTER_SECONDS if error.retryable else None
    retry_after = getattr(error, "retry_after_seconds", None)
    return retry_after if isinstance(retry_after, int) else None


def http_error(status: int, message: str) -> TwilioError:
    """The Twilio error for an HTTP-level failure (routing, size) with Twilio's generic code."""
    return TwilioError(status, generic_code(status), message)
