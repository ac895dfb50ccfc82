"""
Request and response models (pydantic): one source for validation and the OpenAPI document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyAddress

from otp_service.models import Channel, CheckResult, Status, Verification, mask_destination

#: What no free-text field may hold: C0 and C1 controls (U+0085 included), DEL, and the line and
#: paragraph separators U+2028 and U+2029. For use inside a regex character class.
CONTROL_CHARACTERS: Final = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"


def _text_only(value: object) -> object:
    """Refuse a JSON number (``12`` would read as 0.0.0.12): an address is a string."""
    if not isinstance(value, str):
        raise ValueError("must be an IP address as a string")
    return value


#: An IPv4 or IPv6 address, given as a string.
IpAddress = Annotated[IPvAnyAddress, BeforeValidator(_text_only)]

Code = Annotated[
    str, Field(pattern=r"^[0-9]{4,10}$", description="The code as typed, ASCII digits only.")
]
Destination = Annotated[
    str,
    Field(
        min_length=3,
        max_length=320,
        description="A phone number in E.164 form (+14155550100) or an email address.",
    ),
]
Locale = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$", max_length=12)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestContext(_Request):
    """What the caller knows of the end user (used by abuse limits)."""

    ip: IpAddress | None = None
    user_agent: str | None = Field(None, max_length=512, pattern=f"^[^{CONTROL_CHARACTERS}]*$")


class StartVerificationRequest(_Request):
    """Body of ``POST /v1/verifications``."""

    to: Destination
    channel: Channel
    locale: Locale | None = None
    context: RequestContext | None = None


class CheckVerificationRequest(_Request):
    """Body of ``POST /v1/verifications/{id}/check``."""

    code: Code


class CheckDestinationRequest(_Request):
    """Body of ``POST /v1/verification-checks``."""

    to: Destination
    channel: Channel | None = None
    code: Code


def iso_timestamp(ms: int) -> str:
    """Milliseconds since the epoch as ``2026-11-24T05:01:19Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VerificationResponse(BaseModel):
    """A verification as the API shows it (``to`` always masked)."""

    id: str
    status: Status
    channel: Channel
    to: str
    created_at: str
    expires_at: str
    attempts_remaining: int
    sends_remaining: int
    resend_available_at: str
    delivery_status: str | None = None

    @classmethod
    def of(cls, verification: Verification, now_ms: int) -> VerificationResponse:
        """Render ``verification`` as seen at ``now_ms``."""
        return cls(
            id=verification.id,
            status=verification.status_at(now_ms),
            channel=verification.channel,
            to=mask_destination(verification.to),
            created_at=iso_timestamp(verification.created_ms),
            expires_at=iso_timestamp(verification.expires_ms),
            attempts_remaining=verification.attempts_remaining,
            sends_remaining=verification.sends_remaining,
            resend_available_at=iso_timestamp(verification.next_send_ms),
            delivery_status=verification.delivery_status,
        )


class CheckResponse(BaseModel):
    """The outcome of a check: a wrong code is ``valid: false``, not an error."""

    id: str
    status: Status
    valid: bool
    attempts_remaining: int

    @classmethod
    def of(cls, result: CheckResult) -> CheckResponse:
        """Render a check result."""
        return cls(
            id=result.verification_id,
            status=result.status,
            valid=result.valid,
            attempts_remaining=result.attempts_remaining,
        )
