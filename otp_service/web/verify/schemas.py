"""
The ``/v1/verifications`` request and response models (pydantic): one source for validation and
the OpenAPI document.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from otp_service.core.models import Channel, CheckResult, Status, Verification, mask_destination
from otp_service.core.transactions import Transaction, transaction_of
from otp_service.web.schemas import (
    CONTROL_CHARACTERS,
    Amount,
    Code,
    Destination,
    IpAddress,
    Locale,
    Payee,
    StrictRequest,
    iso_timestamp,
)

#: Bounds of a timed fallback: long enough for a message to arrive, at most an hour.
MIN_FALLBACK_AFTER_SECONDS = 10
MAX_FALLBACK_AFTER_SECONDS = 3600


class RequestContext(StrictRequest):
    """What the caller knows of the end user (used by abuse limits)."""

    ip: IpAddress | None = None
    user_agent: str | None = Field(None, max_length=512, pattern=f"^[^{CONTROL_CHARACTERS}]*$")


class TransactionFields(StrictRequest):
    """PSD2 dynamic linking: the transaction a code authorises, both fields or neither."""

    amount: Amount | None = None
    payee: Payee | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.amount is None) != (self.payee is None):
            raise ValueError("amount and payee go together: send both or neither")
        return self

    @property
    def transaction(self) -> Transaction | None:
        """The transaction, or None for a plain code."""
        return transaction_of(self.amount, self.payee)


class StartVerificationRequest(TransactionFields):
    """
    Body of ``POST /v1/verifications``: one ``channel``, or ``channels`` in the order to try them
    (the next one gets a new code at once when a provider refuses the message).
    """

    to: Destination
    channel: Channel | None = None
    channels: list[Channel] | None = Field(None, min_length=1, max_length=4)
    fallback_after_seconds: int | None = Field(
        None,
        strict=True,
        ge=MIN_FALLBACK_AFTER_SECONDS,
        le=MAX_FALLBACK_AFTER_SECONDS,
        description="With `channels`: when no approval came this long after a send, the next "
        "channel gets a new code (a timed fallback).",
    )
    locale: Locale | None = None
    context: RequestContext | None = None

    @model_validator(mode="after")
    def _one_way_to_name_channels(self) -> StartVerificationRequest:
        if (self.channel is None) == (self.channels is None):
            raise ValueError("give either channel or channels")
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must not repeat a channel")
        if self.fallback_after_seconds is not None and len(self.channels or ()) < 2:
            raise ValueError("fallback_after_seconds needs channels with two or more channels")
        return self

    @property
    def channel_order(self) -> list[Channel]:
        """The channels to try, first one first."""
        return list(self.channels) if self.channels else [self.channel or Channel.SMS]


class CheckVerificationRequest(TransactionFields):
    """Body of ``POST /v1/verifications/{id}/check``."""

    code: Code


class CheckDestinationRequest(TransactionFields):
    """Body of ``POST /v1/verification-checks``."""

    to: Destination
    channel: Channel | None = None
    code: Code


class SendAttempt(BaseModel):
    """One send of a verification's code (a first send, a resend, or a fallback)."""

    channel: Channel
    sent_at: str
    delivery_status: str | None = Field(None, description="The provider's status, for the last.")


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
    #: The locale the messages are written in: the one asked for, or what it fell back to.
    locale: str
    #: PSD2: the transaction the code authorises (null for a plain code).
    amount: str | None = None
    payee: str | None = None
    send_attempts: list[SendAttempt] = Field(default_factory=list)

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
            locale=verification.locale,
            amount=verification.transaction.amount if verification.transaction else None,
            payee=verification.transaction.payee if verification.transaction else None,
            send_attempts=_send_attempts(verification),
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


def _send_attempts(verification: Verification) -> list[SendAttempt]:
    made = verification.sends_made
    return [
        SendAttempt(
            channel=channel,
            sent_at=iso_timestamp(at_ms),
            delivery_status=verification.delivery_status if index == len(made) - 1 else None,
        )
        for index, (channel, at_ms) in enumerate(made)
    ]
