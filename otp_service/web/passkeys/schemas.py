"""
Request and response models of the ``/v1/passkeys`` routes (pydantic): validation and OpenAPI.

Credentials are WebAuthn Level 3's JSON serialisation (``PublicKeyCredential.toJSON()``), binary
fields in base64url; their structure is checked here, their content by py_webauthn.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from otp_service.passkeys import Authentication, Ceremonial, Passkey, UserVerification
from otp_service.web.schemas import iso_timestamp
from otp_service.web.totp.schemas import Subject

Base64Url = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*={0,2}$", max_length=12_000)]
DisplayName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$",
        description="The name the authenticator shows for the account; defaults to the subject.",
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Browser(BaseModel):
    """What a browser sends: known fields checked, others (extensions) passed on."""

    model_config = ConfigDict(extra="allow", frozen=True)


class AttestationResponseJSON(_Browser):
    """``AuthenticatorAttestationResponseJSON``."""

    clientDataJSON: Base64Url
    attestationObject: Base64Url
    transports: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=16)


class RegistrationResponseJSON(_Browser):
    """``RegistrationResponseJSON``: what ``credential.toJSON()`` gives after ``create()``."""

    id: Base64Url
    rawId: Base64Url
    type: str = Field(pattern="^public-key$")
    response: AttestationResponseJSON


class AssertionResponseJSON(_Browser):
    """``AuthenticatorAssertionResponseJSON``."""

    clientDataJSON: Base64Url
    authenticatorData: Base64Url
    signature: Base64Url
    userHandle: Base64Url | None = None


class AuthenticationResponseJSON(_Browser):
    """``AuthenticationResponseJSON``: what ``credential.toJSON()`` gives after ``get()``."""

    id: Base64Url
    rawId: Base64Url
    type: str = Field(pattern="^public-key$")
    response: AssertionResponseJSON


class StartRegistrationRequest(_Request):
    """Body of ``POST /v1/passkeys/registrations``."""

    subject: Subject
    display_name: DisplayName | None = None
    user_verification: UserVerification = UserVerification.PREFERRED


class VerifyRegistrationRequest(_Request):
    """Body of ``POST /v1/passkeys/registrations/{id}/verify``."""

    credential: RegistrationResponseJSON


class StartAuthenticationRequest(_Request):
    """Body of ``POST /v1/passkeys/authentications``; no subject: discoverable (autofill)."""

    subject: Subject | None = None
    user_verification: UserVerification = UserVerification.PREFERRED


class ListPasskeysQuery(BaseModel):
    """The query of ``GET /v1/passkeys``."""

    model_config = ConfigDict(frozen=True)

    subject: Subject


class VerifyAuthenticationRequest(_Request):
    """Body of ``POST /v1/passkeys/authentications/{id}/verify``."""

    credential: AuthenticationResponseJSON


def credential_json(credential: BaseModel) -> dict[str, Any]:
    """A checked credential as the plain JSON object py_webauthn reads."""
    return credential.model_dump(mode="json", exclude_none=True)


class CeremonyResponse(BaseModel):
    """A ceremony begun: pass ``options`` to the browser's ``parse...OptionsFromJSON()``."""

    id: str = Field(description="`pr_` (registration) or `pa_` (authentication) and 32 hex digits.")
    expires_at: str
    options: dict[str, Any] = Field(
        description="PublicKeyCredentialCreationOptionsJSON or ...RequestOptionsJSON."
    )

    @classmethod
    def of(cls, ceremony: Ceremonial) -> CeremonyResponse:
        """Render a ceremony begun."""
        return cls(
            id=ceremony.id,
            expires_at=iso_timestamp(ceremony.expires_ms),
            options=dict(ceremony.options),
        )


class PasskeyResponse(BaseModel):
    """A passkey as the API shows it (never its public key)."""

    id: str
    subject: str
    credential_id: str = Field(description="base64url, as the browser's `rawId`.")
    created_at: str
    last_used_at: str | None = None
    backed_up: bool = Field(description="Synced to other devices (a multi-device passkey).")
    device_type: str = Field(description="`single_device` or `multi_device`.")
    transports: list[str]

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyResponse:
        """Render ``passkey``."""
        return cls(
            id=passkey.id,
            subject=passkey.subject,
            credential_id=passkey.credential_id,
            created_at=iso_timestamp(passkey.created_ms),
            last_used_at=iso_timestamp(passkey.last_used_ms) if passkey.last_used_ms else None,
            backed_up=passkey.backed_up,
            device_type=passkey.device_type,
            transports=list(passkey.transports),
        )


class PasskeyListResponse(BaseModel):
    """A subject's passkeys, oldest first."""

    passkeys: list[PasskeyResponse]


class AuthenticationResponse(BaseModel):
    """A sign-in's outcome: a failed signature, origin or counter is `valid: false` with why."""

    valid: bool
    subject: str | None = None
    passkey_id: str | None = None
    user_verified: bool | None = None
    reason: str | None = Field(
        None,
        description="Why not valid: unknown_credential, user_handle_mismatch, origin_not_allowed,"
        " rp_id_mismatch, challenge_mismatch, invalid_signature, user_not_present,"
        " user_not_verified, counter_regression, malformed_credential.",
    )

    @classmethod
    def of(cls, outcome: Authentication) -> AuthenticationResponse:
        """Render an authentication's outcome."""
        if not outcome.valid:
            return cls(valid=False, reason=outcome.reason)
        return cls(
            valid=True,
            subject=outcome.subject,
            passkey_id=outcome.passkey_id,
            user_verified=outcome.user_verified,
        )
