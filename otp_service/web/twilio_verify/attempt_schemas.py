"""
Twilio Verify v2 shapes of verification attempts: the query parameters of ``/v2/Attempts`` and
``/v2/Attempts/Summary``, and the resources (``verify.v2.verification_attempt``,
``verify.v2.verification_attempts_summary`` in Twilio's OpenAPI document).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from otp_service.insights import Attempt, Tally
from otp_service.web.twilio_verify.schemas import twilio_time

_ATTEMPT_SID: Final = re.compile(r"VL([0-9a-fA-F]{32})")
#: Twilio's channel names that are another name here; any other (``rbm``) names no attempt.
ENGINE_CHANNELS: Final = {"call": "voice"}


def attempt_sid(attempt_id: str) -> str:
    """The Twilio SID (``VL`` + 32 hex) of an attempt id (32 hex)."""
    return "VL" + attempt_id


def attempt_id_of(sid: str) -> str | None:
    """The attempt id of a ``VL`` SID, or None if it is not one."""
    match = _ATTEMPT_SID.fullmatch(sid)
    return match.group(1).lower() if match else None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


TwilioTime = Annotated[datetime, AfterValidator(_utc)]
TwilioChannel = Literal["sms", "call", "email", "whatsapp", "rbm"]


class _Query(BaseModel):
    # Twilio parameters this face does not read are ignored, as on the other /v2 routes.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    verify_service_sid: str | None = Field(
        None, alias="VerifyServiceSid", pattern=r"^VA[0-9a-fA-F]{32}$"
    )
    date_created_after: TwilioTime | None = Field(None, alias="DateCreatedAfter")
    date_created_before: TwilioTime | None = Field(None, alias="DateCreatedBefore")
    country: str | None = Field(None, alias="Country", pattern=r"^[A-Za-z]{2}$")
    channel: TwilioChannel | None = Field(None, alias="Channel")

    @property
    def engine_channel(self) -> str | None:
        """The channel as this service names it."""
        return None if self.channel is None else ENGINE_CHANNELS.get(self.channel, self.channel)


class SummaryQuery(_Query):
    """``GET /v2/Attempts/Summary``."""

    destination_prefix: str | None = Field(
        None, alias="DestinationPrefix", pattern=r"^\+[0-9]{1,15}$"
    )


class AttemptsQuery(_Query):
    """``GET /v2/Attempts``: filters, and the page (``PageToken`` continues a listing)."""

    to: str | None = Field(None, alias="ChannelData.To", min_length=1, max_length=320)
    verification_sid: str | None = Field(
        None, alias="VerificationSid", pattern=r"^VE[0-9a-fA-F]{32}$"
    )
    status: Annotated[Literal["converted", "unconverted"] | None, BeforeValidator(_lower)] = Field(
        None, alias="Status"
    )
    page_size: int = Field(50, alias="PageSize", ge=1, le=1000)
    page: int = Field(0, alias="Page", ge=0, le=1_000_000)
    page_token: str | None = Field(None, alias="PageToken", max_length=64)


class TwilioAttemptsSummary(BaseModel):
    """Twilio's VerificationAttemptsSummary: attempts are codes sent, converted ones approved."""

    total_attempts: int
    total_converted: int
    total_unconverted: int
    conversion_rate_percentage: str | None
    url: str

    @classmethod
    def of(cls, tally: Tally, base_url: str) -> TwilioAttemptsSummary:
        """Render a tally."""
        rate = tally.conversion
        return cls(
            total_attempts=tally.sent,
            total_converted=tally.approved,
            total_unconverted=max(tally.sent - tally.approved, 0),
            conversion_rate_percentage=None if rate is None else _percentage(rate),
            url=f"{base_url}/v2/Attempts/Summary",
        )


def _percentage(rate: float) -> str:
    """As Twilio writes it: ``81.818181818``, ``100``."""
    return f"{rate * 100:.9f}".rstrip("0").rstrip(".")


class TwilioAttempt(BaseModel):
    """Twilio's VerificationAttempt: one send of a code (``to`` masked: only that is kept)."""

    sid: str
    account_sid: str
    service_sid: str | None
    verification_sid: str
    date_created: str
    date_updated: str
    conversion_status: Literal["converted", "unconverted"]
    channel: str
    price: dict[str, Any] | None = None
    channel_data: dict[str, Any]
    url: str

    @classmethod
    def of(
        cls, attempt: Attempt, account_sid: str, service_sid: str | None, base_url: str
    ) -> TwilioAttempt:
        """Render an attempt of a service of ``account_sid``."""
        sid = attempt_sid(attempt.id)
        verification_sid = "VE" + attempt.verification_id.removeprefix("vf_")
        converted = attempt.is_converted
        return cls(
            sid=sid,
            account_sid=account_sid,
            service_sid=service_sid,
            verification_sid=verification_sid,
            date_created=twilio_time(attempt.created_ms),
            date_updated=twilio_time(attempt.converted_ms or attempt.created_ms),
            conversion_status="converted" if converted else "unconverted",
            channel="call" if attempt.channel == "voice" else attempt.channel,
            channel_data={
                "verification_sid": verification_sid,
                "to": attempt.to,
                "status": "confirmed" if converted else "unconfirmed",
                "country": attempt.country or None,
            },
            url=f"{base_url}/v2/Attempts/{sid}",
        )


class AttemptsMeta(BaseModel):
    """Twilio's paging block: ``next_page_url`` carries the token of the next page."""

    page: int
    page_size: int
    first_page_url: str
    previous_page_url: str | None
    url: str
    next_page_url: str | None
    key: Literal["attempts"] = "attempts"


class TwilioAttemptsPage(BaseModel):
    """Twilio's ListVerificationAttemptResponse."""

    attempts: list[TwilioAttempt]
    meta: AttemptsMeta
