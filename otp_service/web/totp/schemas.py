"""
Request and response models of the ``/v1/totp`` routes (pydantic): validation and OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from otp_service.totp.models import Algorithm, BackupCodes, Enrolment, Factor, FactorStatus
from otp_service.web.schemas import CONTROL_CHARACTERS, iso_timestamp

Subject = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=f"^[^{CONTROL_CHARACTERS}]+$",
        description="The client's opaque id of the user (no control characters).",
    ),
]
Label = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=f"^[^{CONTROL_CHARACTERS}:]+$",
        description="The account name the app shows (no colon); defaults to the subject.",
    ),
]
TotpCode = Annotated[
    str, Field(pattern=r"^([0-9]{6}|[0-9]{8})$", description="A TOTP code, ASCII digits.")
]
CheckCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-Za-z -]{6,16}$",
        description="A TOTP code (6 or 8 digits), or a backup code (xxxxx-xxxxx).",
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrollFactorRequest(_Request):
    """Body of ``POST /v1/totp/factors``."""

    subject: Subject
    label: Label | None = None
    algorithm: Algorithm = Algorithm.SHA1
    digits: Literal[6, 8] = 6


class ActivateFactorRequest(_Request):
    """Body of ``POST /v1/totp/factors/{id}/activate``."""

    code: TotpCode


class TotpCheckRequest(_Request):
    """Body of ``POST /v1/totp/checks``."""

    subject: Subject
    code: CheckCode


def _timestamp(ms: int) -> str | None:
    return iso_timestamp(ms) if ms else None


class FactorResponse(BaseModel):
    """A factor as the API shows it (never its secret, except once at enrolment)."""

    id: str
    subject: str
    status: FactorStatus
    label: str
    algorithm: Algorithm
    digits: int
    period: int
    created_at: str | None
    expires_at: str | None = Field(None, description="Only while unverified.")
    activated_at: str | None = None

    @classmethod
    def of(cls, factor: Factor) -> FactorResponse:
        """Render ``factor``."""
        return cls(
            id=factor.id,
            subject=factor.subject,
            status=factor.status,
            label=factor.label,
            algorithm=factor.algorithm,
            digits=factor.digits,
            period=factor.period_seconds,
            created_at=_timestamp(factor.created_ms),
            expires_at=_timestamp(factor.expires_ms),
            activated_at=_timestamp(factor.activated_ms),
        )


class EnrolmentResponse(FactorResponse):
    """A new factor, with what the user adds to an app. The secret is shown this once."""

    secret: str = Field(description="Base32, at least 160 bits.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG QR code.")

    @classmethod
    def of_enrolment(cls, enrolment: Enrolment) -> EnrolmentResponse:
        """Render a new factor with its secret."""
        return cls(
            **FactorResponse.of(enrolment.factor).model_dump(),
            secret=enrolment.secret,
            otpauth_uri=enrolment.otpauth_uri,
            qr_svg=enrolment.qr_svg,
        )


class TotpCheckResponse(BaseModel):
    """The outcome of a check: a wrong or replayed code is ``valid: false``, not an error."""

    valid: bool


class BackupCodesResponse(BaseModel):
    """Ten new single-use backup codes (shown once); the factor's older codes no longer work."""

    factor_id: str
    backup_codes: list[str]
    created_at: str | None

    @classmethod
    def of(cls, codes: BackupCodes) -> BackupCodesResponse:
        """Render a fresh set of backup codes."""
        return cls(
            factor_id=codes.factor_id,
            backup_codes=list(codes.codes),
            created_at=_timestamp(codes.created_ms),
        )
