"""
A software authenticator for the API tests: ``soft-webauthn``'s ``SoftWebauthnDevice`` (a package
nobody here wrote), spoken to in WebAuthn Level 3's JSON form as a browser's ``toJSON()`` gives.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from soft_webauthn import SoftWebauthnDevice


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def from_b64url(text: str) -> bytes:
    """Bytes of unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    """
    One software authenticator holding one credential (ES256, ``none`` attestation, user
    presence without user verification), used from the page at ``origin``.
    """

    def __init__(self, origin: str) -> None:
        self.device = SoftWebauthnDevice()
        self.origin = origin

    def create(self, options: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.create()`` on creation options JSON: RegistrationResponseJSON."""
        public_key = {
            **options,
            "challenge": from_b64url(options["challenge"]),
            "user": {**options["user"], "id": from_b64url(options["user"]["id"])},
        }
        made = self.device.create({"publicKey": public_key}, origin or self.origin)
        return {
            "id": b64url(made["rawId"]),
            "rawId": b64url(made["rawId"]),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(made["response"]["clientDataJSON"]),
                "attestationObject": b64url(made["response"]["attestationObject"]),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.get()`` on request options JSON: AuthenticationResponseJSON."""
        public_key = {**options, "challenge": from_b64url(options["challenge"])}
        got = self.device.get({"publicKey": public_key}, origin or self.origin)
        return {
            "id": b64url(got["rawId"]),
            "rawId": b64url(got["rawId"]),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(got["response"]["clientDataJSON"]),
                "authenticatorData": b64url(got["response"]["authenticatorData"]),
                "signature": b64url(got["response"]["signature"]),
                "userHandle": b64url(got["response"]["userHandle"]),
            },
            "clientExtensionResults": {},
        }


def tampered(assertion: dict[str, Any]) -> dict[str, Any]:
    """``assertion`` with a field added to its client data after signing (its signature wrong)."""
    client_data = json.loads(from_b64url(assertion["response"]["clientDataJSON"]))
    client_data["crossOrigin"] = False
    encoded = b64url(json.dumps(client_data).encode())
    return {**assertion, "response": {**assertion["response"], "clientDataJSON": encoded}}
