"""
Passkeys (WebAuthn): registration and authentication ceremonies on py_webauthn, single-use
challenges and credentials in Redis (Lua scripts), sign counters moved by compare-and-set.
"""

from __future__ import annotations

from otp_service.passkeys.models import Authentication, Ceremonial, Passkey, UserVerification
from otp_service.passkeys.relying_party import RelyingParty
from otp_service.passkeys.service import PasskeyService
from otp_service.passkeys.store import PasskeyStore

__all__ = [
    "Authentication",
    "Ceremonial",
    "Passkey",
    "PasskeyService",
    "PasskeyStore",
    "RelyingParty",
    "UserVerification",
]
