"""
Twilio Verify v2 shapes: verification SIDs, form parameters, resources and the error body.

Resources follow Twilio's own OpenAPI document (``verify.v2.service.verification`` and
``verify.v2.service.verification_check`` in ``tests/contracts/twilio/twilio_verify_v2.json``):
every property is present, ``null`` where this service has no such thing (PSD2
``amount``/``payee``, ``sna``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from otp_service.core import errors
from otp_service.core.models import Channel, CheckResult, Status, Verification
from otp_service.web.problems import PROBLEMS
from otp_service.web.schemas import CONTROL_CHARACTERS, IpAddress

_ENGINE_ID: Final = re.compile(r"vf_([0-9a-f]{32})")
_VERIFICATION_SID: Final = re.compile(r"VE([0-9a-fA-F]{32})")
MORE_INFO: Final = "https://www.twilio.com/docs/errors/{code}"

#: Twilio channels this service does not deliver on: Twilio's answer for a channel a service has
#: disabled (60223) is the honest one.
DISABLED_CHANNELS: Final = frozenset({"call", "whatsapp", "sna", "auto", "rcs"})
#: Parameters that would change what a verification means (a code chosen by the caller, a PSD2
#: transaction bound into the code): refused as Twilio refuses a feature a service lacks (60204).
UNSUPPORTED_PARAMETERS: Final = ("CustomCode", "Amount", "Payee")


def to_sid(verification_id: str) -> str:
    """
    The Twilio SID (``VE`` + 32 hex) of an engine id (``vf_`` + the same 32 hex).

    Raises:
        ValueError: ``verification_id`` is not an engine id.
    """
    match = _ENGINE_ID.fullmatch(verification_id)
    if match is None:
        raise ValueError(f"not a verification id: {verification_id!r}")
    return "VE" + match.group(1)


def from_sid(sid: str) -> str | None:
    """The engine id of a Twilio verification SID (hex in either case), or None if it is not one."""
    match = _VERIFICATION_SID.fullmatch(sid)
    return "vf_" + match.group(1).lower() if match else None


def twilio_time(ms: int) -> str:
    """A time as Twilio Verify writes it (and its client parses it): ``2015-07-30T20:00:00Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Forms (application/x-www-form-urlencoded, Twilio's parameter names) ------------------------------


class _Form(BaseModel):
    # Twilio parameters this face does not use (TemplateSid, AppHash, Tags, ...) are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CreateVerificationForm(_Form):
    """``POST /v2/Services/{ServiceSid}/Verifications``."""

    to: str = Field(alias="To", min_length=1, max_length=320)
    channel: str = Field(alias="Channel", min_length=1, max_length=32)
    locale: str | None = Field(
        None, alias="Locale", pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$"
    )
    custom_friendly_name: str | None = Field(
        None, alias="CustomFriendlyName", pattern=f"^[^{CONTROL_CHARACTERS}]{{1,30}}$"
    )
    #: The end user's device: the per-IP start limit counts it (as ``context.ip`` does on /v1).
    device_ip: IpAddress | None = Field(None, alias="DeviceIp")


class UpdateVerificationForm(_Form):
    """``POST /v2/Services/{ServiceSid}/Verifications/{Sid}``."""

    status: Literal["canceled", "approved"] = Field(alias="Status")


class VerificationCheckForm(_Form):
    """``POST /v2/Services/{ServiceSid}/VerificationCheck``: ``Code`` with ``To`` or the SID."""

    code: str = Field(alias="Code", pattern=r"^[0-9]{4,10}$")
    to: str | None = Field(None, alias="To", min_length=1, max_length=320)
    verification_sid: str | None = Field(
        None, alias="VerificationSid", pattern=r"^VE[0-9a-fA-F]{32}$"
    )


# Resources --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """Whose resource it is (account and service SIDs) and where this API is served."""

    account_sid: str
    service_sid: str
    base_url: str


class SendCodeAttempt(BaseModel):
    """One send of a code. The engine keeps the first and the latest send times, no attempt SIDs."""

    attempt_sid: str | None = None
    channel: str
    time: str | None


class TwilioVerification(BaseModel):
    """Twilio's Verification resource (``to`` in full: the caller is the account that sent it)."""

    sid: str
    service_sid: str
    account_sid: str
    to: str
    channel: Channel
    status: Status
    valid: bool
    lookup: dict[str, Any]
    amount: str | None = None
    payee: str | None = None
    send_code_attempts: list[SendCodeAttempt]
    date_created: str
    date_updated: str
    sna: dict[str, Any] | None = None
    url: str

    @classmethod
    def of(
        cls, verification: Verification, ref: ServiceRef, now_ms: int, cooldown_seconds: int
    ) -> TwilioVerification:
        """Render ``verification`` as seen at ``now_ms``."""
        sid = to_sid(verification.id)
        status = verification.status_at(now_ms)
        return cls(
            sid=sid,
            service_sid=ref.service_sid,
            account_sid=ref.account_sid,
            to=verification.to,
            channel=verification.channel,
            status=status,
            valid=status is Status.APPROVED,
            lookup={},
            send_code_attempts=_send_code_attempts(verification, cooldown_seconds),
            date_created=twilio_time(verification.created_ms),
            date_updated=twilio_time(_updated_ms(verification)),
            url=f"{ref.base_url}/v2/Services/{ref.service_sid}/Verifications/{sid}",
        )


def _updated_ms(verification: Verification) -> int:
    return verification.updated_ms or verification.created_ms


def _send_code_attempts(verification: Verification, cooldown_seconds: int) -> list[SendCodeAttempt]:
    times: list[int | None] = [verification.created_ms] + [None] * (verification.sends - 1)
    if verification.sends > 1:
        # Every send starts the cooldown, so the latest one was a cooldown before next_send_ms.
        latest = verification.next_send_ms - cooldown_seconds * 1000
        times[-1] = max(latest, verification.created_ms)
    channel = verification.channel.value.upper()  # as in Twilio's examples: "SMS", "EMAIL"
    return [
        SendCodeAttempt(channel=channel, time=None if ms is None else twilio_time(ms))
        for ms in times
    ]


class TwilioVerificationCheck(BaseModel):
    """Twilio's VerificationCheck resource: a wrong code is ``pending`` and ``valid: false``."""

    sid: str
    service_sid: str
    account_sid: str
    to: str | None
    channel: Channel | None
    status: Status
    valid: bool
    amount: str | None = None
    payee: str | None = None
    date_created: str | None
    date_updated: str
    sna_attempts_error_codes: list[Any] = Field(default_factory=list)

    @classmethod
    def of(
        cls, result: CheckResult, verification: Verification | None, ref: ServiceRef, now_ms: int
    ) -> TwilioVerificationCheck:
        """Render a check; ``verification`` (read after the check) fills in the rest, if any."""
        return cls(
            sid=to_sid(result.verification_id),
            service_sid=ref.service_sid,
            account_sid=ref.account_sid,
            to=verification.to if verification else None,
            channel=verification.channel if verification else None,
            status=result.status,
            valid=result.valid,
            date_created=twilio_time(verification.created_ms) if verification else None,
            date_updated=twilio_time(_updated_ms(verification) if verification else now_ms),
        )


# Errors -----------------------------------------------------------------------------------------


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
PARAMETER_NAMES: Final = {"to": "To", "code": "Code", "channel": "Channel", "locale": "Locale"}


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
