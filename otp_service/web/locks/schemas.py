"""The ``/v1/locks`` response models (pydantic): one source for rendering and the OpenAPI."""

from __future__ import annotations

from pydantic import BaseModel, Field

from otp_service.abuse import DestinationLock
from otp_service.core.models import mask_destination
from otp_service.totp.records import Allowance
from otp_service.web.schemas import iso_timestamp


def _until(ms: int) -> str | None:
    return iso_timestamp(ms) if ms else None


class AllowanceResponse(BaseModel):
    """One failure allowance of a factor: its wrong codes, its lockout step and until when."""

    failures: int = Field(description="Wrong codes in a row since the last success.")
    level: int = Field(description="Lockout steps taken (0: none); the next lock is longer.")
    locked_until: str | None = Field(description="When the lockout ends; null: not locked.")

    @classmethod
    def of(cls, allowance: Allowance, now_ms: int) -> AllowanceResponse:
        """Render ``allowance`` as seen at ``now_ms``."""
        locked = allowance.locked_until_ms > now_ms
        return cls(
            failures=allowance.failures,
            level=allowance.level,
            locked_until=_until(allowance.locked_until_ms if locked else 0),
        )


class SubjectLockResponse(BaseModel):
    """The lockouts of a subject's TOTP factor: of its codes, and of its backup codes."""

    subject: str
    factor_id: str
    codes: AllowanceResponse
    backup_codes: AllowanceResponse


class DestinationLockResponse(BaseModel):
    """The wrong codes sent for a destination and its lockout (``to`` masked)."""

    to: str
    failures_in_window: int = Field(description="Wrong codes in the failure window.")
    consecutive_failures: int = Field(description="Wrong codes in a row since the last success.")
    locked_until: str | None = Field(description="When new codes may be sent again; null: now.")

    @classmethod
    def of(cls, to: str, lock: DestinationLock) -> DestinationLockResponse:
        """Render a destination's lock."""
        return cls(
            to=mask_destination(to),
            failures_in_window=lock.failures_in_window,
            consecutive_failures=lock.consecutive_failures,
            locked_until=_until(lock.locked_until_ms),
        )
