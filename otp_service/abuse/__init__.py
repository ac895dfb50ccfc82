"""
Abuse limits: rate limits, geo permissions, the pumping cap and lockouts.
"""

from __future__ import annotations

from otp_service.abuse.destination_locks import DestinationLock
from otp_service.abuse.guard import AbuseGuard, parse_limits

__all__ = ["AbuseGuard", "DestinationLock", "parse_limits"]
