"""
The API's rendering of each resource an outbound webhook carries: its ``data`` is exactly what the
API would answer for that resource (a verification's ``to`` masked, never a code or secret).
"""

from __future__ import annotations

from typing import Any

from otp_service.core.models import Verification
from otp_service.passkeys import Passkey
from otp_service.totp.models import Factor
from otp_service.web.passkeys.schemas import PasskeyResponse
from otp_service.web.totp.schemas import FactorResponse
from otp_service.web.verify.schemas import VerificationResponse


def verification_data(verification: Verification, now_ms: int) -> dict[str, Any]:
    """A verification as ``GET /v1/verifications/{id}`` answers it at ``now_ms``."""
    return VerificationResponse.of(verification, now_ms).model_dump(mode="json")


def factor_data(factor: Factor) -> dict[str, Any]:
    """A TOTP factor as the ``/v1/totp`` routes answer it."""
    return FactorResponse.of(factor).model_dump(mode="json")


def passkey_data(passkey: Passkey) -> dict[str, Any]:
    """A passkey as ``GET /v1/passkeys`` lists it."""
    return PasskeyResponse.of(passkey).model_dump(mode="json")
