"""
TOTP factors: enrolment, checks with a replay guard, backup codes, the secrets' keyring, and
their store and Lua scripts.
"""

from __future__ import annotations

from otp_service.totp.service import TotpService
from otp_service.totp.store import TotpStore

__all__ = ["TotpService", "TotpStore"]
