"""
Value objects of authenticator-app (TOTP) factors, shared by ``totp``, ``totp_store`` and ``web``.

Plain Python only (no Flask, no Redis). A factor's secret never appears here in clear except in
the one ``Enrolment`` returned when it is created (the secret is shown once).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: RFC 6238's time step; every authenticator app supports 30 s, few support anything else.
PERIOD_SECONDS = 30


class FactorStatus(enum.StrEnum):
    """A factor is ``unverified`` until a first valid code activates it."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"


class Algorithm(enum.StrEnum):
    """The HMAC of RFC 6238; SHA1 is the default, and the only one every app supports."""

    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"


@dataclass(frozen=True, slots=True)
class Factor:
    """
    One authenticator-app factor of one subject of one client, as stored (without its secret).

    ``expires_ms`` is 0 once the factor is verified (verified factors do not expire).
    """

    id: str
    client: str
    subject: str
    label: str
    status: FactorStatus
    algorithm: Algorithm
    digits: int
    created_ms: int
    expires_ms: int = 0
    activated_ms: int = 0
    period_seconds: int = PERIOD_SECONDS


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new factor with what the user needs to add it to an app: shown once, never stored."""

    factor: Factor
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class BackupCodes:
    """A fresh set of single-use backup codes of a factor (shown once, stored as hashes)."""

    factor_id: str
    codes: tuple[str, ...]
    created_ms: int


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What ``keys rotate-totp`` did: secrets re-encrypted, already current, and unreadable."""

    key_id: str
    resealed: int
    already_current: int
    unreadable: tuple[str, ...] = ()
