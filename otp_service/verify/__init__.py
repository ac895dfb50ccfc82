"""
Verifications: one-time codes sent by SMS or email and checked once. The service (start,
resend, check, cancel), its store and Lua scripts, destinations, message templates and dispatch.
"""

from __future__ import annotations

from otp_service.verify.idempotency import Idempotency
from otp_service.verify.idempotency_store import IdempotencyStore
from otp_service.verify.service import VerificationService
from otp_service.verify.starts import StartResult
from otp_service.verify.store import RedisStore
from otp_service.verify.timers import FALL_BACK

__all__ = [
    "FALL_BACK",
    "Idempotency",
    "IdempotencyStore",
    "RedisStore",
    "StartResult",
    "VerificationService",
]
