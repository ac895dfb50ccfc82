"""
RelyingParty: the WebAuthn ceremonies on py_webauthn (the only module importing ``webauthn``).

Options are built and responses verified by the library (CBOR, COSE, attestation, signatures);
this module adds what the library leaves to the caller: which origins are allowed (checked first,
so a refusal names the origin), and refusals phrased for a problem's ``detail``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import webauthn
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from otp_service.passkeys.models import UserVerification

#: How long a ceremony may take: the browser's timeout and the challenge's lifetime.
CEREMONY_TIMEOUT_MS: Final = 300_000
TRANSPORTS: Final = frozenset(transport.value for transport in AuthenticatorTransport)
_MAX_CREDENTIAL_BYTES: Final = 64 * 1024


class CredentialRejected(ValueError):
    """
    A browser's response failed verification: ``reason`` is a short code (``origin_not_allowed``,
    ``rp_id_mismatch``, ``challenge_mismatch``, ``invalid_signature``, ``user_not_present``,
    ``user_not_verified``, ``malformed_credential``), the message a sentence (no secrets in it).
    """

    def __init__(self, message: str, reason: str = "malformed_credential") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NewCredential:
    """A verified registration: what the store keeps of the new passkey."""

    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    backed_up: bool
    device_type: str
    aaguid: str
    user_verified: bool
    transports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """A verified authentication: the authenticator's new counter and flags."""

    sign_count: int
    backed_up: bool
    user_verified: bool


def b64url(data: bytes) -> str:
    """``data`` in unpadded base64url, WebAuthn's JSON encoding of bytes."""
    return bytes_to_base64url(data)


def from_b64url(text: str) -> bytes:
    """
    Raises:
        ValueError: ``text`` is not base64url.
    """
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error


def credential_id_of(credential: Mapping[str, Any]) -> str:
    """
    The credential id a browser's response names (``rawId``, base64url).

    Raises:
        CredentialRejected: there is none, or it is not base64url.
    """
    raw = credential.get("rawId") or credential.get("id")
    if not isinstance(raw, str) or not raw or len(raw) > 1400:
        raise CredentialRejected("The credential has no valid rawId.")
    try:
        return b64url(from_b64url(raw))
    except ValueError as error:
        raise CredentialRejected("The credential's rawId is not base64url.") from error


def user_handle_of(credential: Mapping[str, Any]) -> str | None:
    """The ``userHandle`` of an assertion (base64url), when the authenticator gave one."""
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, Mapping) else None
    return handle if isinstance(handle, str) and handle else None


class RelyingParty:
    """
    The service as a WebAuthn relying party.

    Args:
        rp_id: the domain credentials are scoped to (``OTP_WEBAUTHN_RP_ID``).
        rp_name: the name authenticators show (``OTP_WEBAUTHN_RP_NAME``).
        origins: the exact origins responses may come from; empty allows any ``http(s)`` origin
            whose host is ``rp_id`` (development on ``localhost``).
    """

    def __init__(self, rp_id: str, rp_name: str, origins: Sequence[str] = ()) -> None:
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = tuple(origins)

    # Options ---------------------------------------------------------------------------------

    def registration_options(
        self,
        user_handle: bytes,
        user_name: str,
        display_name: str,
        exclude: Sequence[tuple[str, Sequence[str]]],
        user_verification: UserVerification,
    ) -> tuple[str, dict[str, Any]]:
        """A new challenge (base64url) and the creation options (WebAuthn's JSON form)."""
        options = webauthn.generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_id=user_handle,
            user_name=user_name,
            user_display_name=display_name,
            timeout=CEREMONY_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement(user_verification.value),
            ),
            exclude_credentials=_descriptors(exclude),
        )
        return b64url(options.challenge), json.loads(webauthn.options_to_json(options))

    def authentication_options(
        self, allow: Sequence[tuple[str, Sequence[str]]], user_verification: UserVerification
    ) -> tuple[str, dict[str, Any]]:
        """A new challenge (base64url) and the request options (WebAuthn's JSON form)."""
        options = webauthn.generate_authentication_options(
            rp_id=self.rp_id,
            timeout=CEREMONY_TIMEOUT_MS,
            allow_credentials=_descriptors(allow),
            user_verification=UserVerificationRequirement(user_verification.value),
        )
        return b64url(options.challenge), json.loads(webauthn.options_to_json(options))

    # Verification ----------------------------------------------------------------------------

    def verify_registration(
        self, credential: Mapping[str, Any], challenge: str, user_verification: UserVerification
    ) -> NewCredential:
        """
        Raises:
            CredentialRejected: the attestation, origin, RP id, challenge or flags are wrong.
        """
        origin = self._origin_of(credential, "webauthn.create")
        try:
            verified = webauthn.verify_registration_response(
                credential=dict(credential),
                expected_challenge=from_b64url(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=origin,
                require_user_verification=user_verification is UserVerification.REQUIRED,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as error:
            raise self._rejection(error) from error
        return NewCredential(
            credential_id=b64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            backed_up=verified.credential_backed_up,
            device_type=verified.credential_device_type.value,
            aaguid=verified.aaguid,
            user_verified=verified.user_verified,
            transports=_transports(credential),
        )

    def verify_authentication(
        self,
        credential: Mapping[str, Any],
        challenge: str,
        public_key: bytes,
        user_verification: UserVerification,
    ) -> VerifiedAssertion:
        """
        Verify everything but the sign counter, which the caller compares (after the signature is
        known good, so a forged assertion is never taken for a cloned authenticator).

        Raises:
            CredentialRejected: the signature, origin, RP id, challenge or flags are wrong.
        """
        origin = self._origin_of(credential, "webauthn.get")
        try:
            verified = webauthn.verify_authentication_response(
                credential=dict(credential),
                expected_challenge=from_b64url(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=origin,
                credential_public_key=public_key,
                credential_current_sign_count=0,
                require_user_verification=user_verification is UserVerification.REQUIRED,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as error:
            raise self._rejection(error) from error
        return VerifiedAssertion(
            verified.new_sign_count, verified.credential_backed_up, verified.user_verified
        )

    # Origins ---------------------------------------------------------------------------------

    def allows_origin(self, origin: str) -> bool:
        """Whether a response may come from ``origin``."""
        if self.origins:
            return origin in self.origins
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.hostname == self.rp_id

    def _origin_of(self, credential: Mapping[str, Any], ceremony: str) -> str:
        response = credential.get("response")
        encoded = response.get("clientDataJSON") if isinstance(response, Mapping) else None
        if not isinstance(encoded, str) or len(encoded) > _MAX_CREDENTIAL_BYTES:
            raise CredentialRejected("The credential has no clientDataJSON.")
        try:
            client_data = json.loads(from_b64url(encoded))
        except ValueError as error:
            raise CredentialRejected("The credential's clientDataJSON is not valid.") from error
        if not isinstance(client_data, dict) or client_data.get("type") != ceremony:
            raise CredentialRejected(f"The credential is not a {ceremony} response.")
        origin = client_data.get("origin")
        if not isinstance(origin, str) or not self.allows_origin(origin):
            shown = origin if isinstance(origin, str) else "(none)"
            raise CredentialRejected(
                f"The origin {shown[:200]!r} is not allowed for RP id {self.rp_id!r}.",
                "origin_not_allowed",
            )
        return origin

    def _rejection(self, error: Exception) -> CredentialRejected:
        message = str(error)
        for marker, reason in _REASONS:
            if marker in message:
                if reason == "rp_id_mismatch":
                    message = f"The credential was not made for RP id {self.rp_id!r}."
                return CredentialRejected(message[:300], reason)
        if isinstance(error, WebAuthnException) and message:
            return CredentialRejected(message[:300])
        return CredentialRejected("The credential is not a valid WebAuthn response.")


#: py_webauthn's messages → the reason codes clients see.
_REASONS: Final = (
    ("RP ID", "rp_id_mismatch"),
    ("challenge", "challenge_mismatch"),
    ("origin", "origin_not_allowed"),
    ("signature", "invalid_signature"),
    ("not present", "user_not_present"),
    ("not verified", "user_not_verified"),
)


def _descriptors(credentials: Sequence[tuple[str, Sequence[str]]]) -> list[Any]:
    return [
        PublicKeyCredentialDescriptor(
            id=from_b64url(credential_id),
            transports=[AuthenticatorTransport(t) for t in transports if t in TRANSPORTS] or None,
        )
        for credential_id, transports in credentials
    ]


def _transports(credential: Mapping[str, Any]) -> tuple[str, ...]:
    response = credential.get("response")
    listed = response.get("transports") if isinstance(response, Mapping) else None
    if not isinstance(listed, list):
        return ()
    return tuple(sorted({t for t in listed if isinstance(t, str) and t in TRANSPORTS}))
