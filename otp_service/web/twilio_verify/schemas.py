"""
Twilio Verify v2 shapes: verification SIDs, form parameters, resources and the error body.

Resources follow Twilio's own OpenAPI document (``verify.v2.service.verification`` and
``verify.v2.service.verification_check`` in ``tests/contracts/twilio/twilio_verify_v2.json``):
every property is present, ``null`` where this service has no such thing (``sna``, and
``amount``/``payee`` of a verification without a PSD2 transaction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from otp_service.core.models import Channel, CheckResult, Status, Verification
from otp_service.core.transactions import Transaction, transaction_of
from otp_service.insights.models import attempt_id
from otp_service.web.schemas import CONTROL_CHARACTERS, Amount, IpAddress, Payee

_ENGINE_ID: Final = re.compile(r"vf_([0-9a-f]{32})")
_VERIFICATION_SID: Final = re.compile(r"VE([0-9a-fA-F]{32})")
MORE_INFO: Final = "https://www.twilio.com/docs/errors/{code}"

#: Twilio channels this service does not deliver on: Twilio's answer for a channel a service has
#: disabled (60223) is the honest one.
DISABLED_CHANNELS: Final = frozenset({"sna", "auto", "rcs"})
#: Twilio's name of each engine channel where they differ (a voice call is ``call`` on /v2).
TWILIO_CHANNELS: Final = {Channel.VOICE: "call"}


def twilio_channel(channel: Channel) -> str:
    """The engine channel as Twilio names it."""
    return TWILIO_CHANNELS.get(channel, channel.value)


#: Parameters that would change what a verification means (a code chosen by the caller): refused
#: as Twilio refuses a feature a service lacks (60204). PSD2's ``Amount`` and ``Payee`` are served.
UNSUPPORTED_PARAMETERS: Final = ("CustomCode",)


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


class _TransactionForm(_Form):
    """PSD2 dynamic linking: Twilio's ``Amount`` and ``Payee``, both or neither."""

    amount: Amount | None = Field(None, alias="Amount")
    payee: Payee | None = Field(None, alias="Payee")

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.amount is None) != (self.payee is None):
            raise ValueError("Amount and Payee go together: send both or neither")
        return self

    @property
    def transaction(self) -> Transaction | None:
        """The transaction, or None for a plain code."""
        return transaction_of(self.amount, self.payee)


class CreateVerificationForm(_TransactionForm):
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


class VerificationCheckForm(_TransactionForm):
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
    """One send of a code; ``attempt_sid`` names it on ``/v2/Attempts``."""

    attempt_sid: str | None = None
    channel: str
    time: str | None


class TwilioVerification(BaseModel):
    """Twilio's Verification resource (``to`` in full: the caller is the account that sent it)."""

    sid: str
    service_sid: str
    account_sid: str
    to: str
    channel: str
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
    def of(cls, verification: Verification, ref: ServiceRef, now_ms: int) -> TwilioVerification:
        """Render ``verification`` as seen at ``now_ms``."""
        sid = to_sid(verification.id)
        status = verification.status_at(now_ms)
        return cls(
            sid=sid,
            service_sid=ref.service_sid,
            account_sid=ref.account_sid,
            to=verification.to,
            channel=twilio_channel(verification.channel),
            status=status,
            valid=status is Status.APPROVED,
            lookup={},
            amount=verification.transaction.amount if verification.transaction else None,
            payee=verification.transaction.payee if verification.transaction else None,
            send_code_attempts=_send_code_attempts(verification),
            date_created=twilio_time(verification.created_ms),
            date_updated=twilio_time(_updated_ms(verification)),
            url=f"{ref.base_url}/v2/Services/{ref.service_sid}/Verifications/{sid}",
        )


def _updated_ms(verification: Verification) -> int:
    return verification.updated_ms or verification.created_ms


def _send_code_attempts(verification: Verification) -> list[SendCodeAttempt]:
    """Each send, with its channel as Twilio shows it (``SMS``, ``CALL``) and its attempt SID."""
    return [
        SendCodeAttempt(
            attempt_sid="VL" + attempt_id(verification.id, number, sent_ms),
            channel=twilio_channel(channel).upper(),
            time=twilio_time(sent_ms),
        )
        for number, (channel, sent_ms) in enumerate(verification.sends_made, 1)
    ]


class TwilioVerificationCheck(BaseModel):
    """Twilio's VerificationCheck resource: a wrong code is ``pending`` and ``valid: false``."""

    sid: str
    service_sid: str
    account_sid: str
    to: str | None
    channel: str | None
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
        transaction = verification.transaction if verification else None
        return cls(
            sid=to_sid(result.verification_id),
            service_sid=ref.service_sid,
            account_sid=ref.account_sid,
            to=verification.to if verification else None,
            channel=twilio_channel(verification.channel) if verification else None,
            status=result.status,
            valid=result.valid,
            amount=transaction.amount if transaction else None,
            payee=transaction.payee if transaction else None,
            date_created=twilio_time(verification.created_ms) if verification else None,
            date_updated=twilio_time(_updated_ms(verification) if verification else now_ms),
        )


# Errors -----------------------------------------------------------------------------------------
