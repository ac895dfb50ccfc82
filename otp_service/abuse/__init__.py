"""
Abuse limits: rate limits, geo permissions, the pumping cap and lockouts.
"""

from __future__ import annotations

from otp_service.abuse.admission import Admission, admission_lua
from otp_service.abuse.destination_locks import DestinationLock
from otp_service.abuse.guard import AbuseGuard
from otp_service.abuse.limits_storage import limits_key_prefix, limits_storage, parse_limits
from otp_service.abuse.lockouts import DestinationLockouts

__all__ = [
    "AbuseGuard",
    "Admission",
    "DestinationLock",
    "DestinationLockouts",
    "admission_lua",
    "limits_key_prefix",
    "limits_storage",
    "parse_limits",
]
