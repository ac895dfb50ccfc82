"""
Passkeys' plain data: a registered credential, a pending ceremony (its challenge), and outcomes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class UserVerification(enum.StrEnum):
    """Whether the authenticator must verify the user (PIN, biometrics): WebAuthn's values."""

    REQUIRED = "required"
    PREFERRED = "preferred"
    DISCOURAGED = "discouraged"


class Ceremony(enum.StrEnum):
    """The two WebAuthn ceremonies, and the prefix of their ids."""

    REGISTRATION = "pr"
    AUTHENTICATION = "pa"


@dataclass(frozen=True, slots=True)
class Passkey:
    """
    One registered credential of a subject. ``credential_id`` is base64url; the public key (COSE)
    is kept apart and never rendered.
    """

    id: str
    client: str
    subject: str
    credential_id: str
    created_ms: int
    backed_up: bool
    device_type: str  # "single_device" | "multi_device"
    transports: tuple[str, ...] = ()
    sign_count: int = 0
    last_used_ms: int = 0
    aaguid: str = ""


@dataclass(frozen=True, slots=True)
class StoredPasskey:
    """A passkey with what verifying an assertion needs (its public key and user handle)."""

    passkey: Passkey
    public_key: bytes
    user_handle: str  # base64url


@dataclass(frozen=True, slots=True)
class Challenge:
    """A pending ceremony: single use, short-lived, consumed atomically in Redis."""

    id: str
    ceremony: Ceremony
    client: str
    challenge: str  # base64url
    user_verification: UserVerification
    expires_ms: int
    subject: str = ""  # empty for a discoverable (autofill) authentication
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class Ceremonial:
    """What a start answers: the ceremony's id, when it expires, and the browser's options."""

    id: str
    expires_ms: int
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Authentication:
    """The outcome of an assertion: valid (with whose passkey) or not, and why not."""

    valid: bool
    subject: str = ""
    passkey_id: str = ""
    user_verified: bool = False
    reason: str = ""
