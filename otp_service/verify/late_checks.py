"""
Late checks: what the owner of a verification that can no longer be checked is told, and why.
"""

from __future__ import annotations

from typing import Final

from otp_service.core.errors import VerificationNotFound

NOT_PENDING: Final = "No pending verification has this id."

#: The reason a late check names → the sentence its problem's ``detail`` says.
REASONS: Final = {
    "approved": "The verification was already approved: its code cannot be used again.",
    "expired": "The verification expired: start a new one.",
    "canceled": "The verification was canceled: start a new one.",
    "max_attempts_reached": "Every check of the verification was used: start a new one.",
    "failed": "The code of the verification could not be delivered: start a new one.",
}


def late_check_error(reason: str | None) -> VerificationNotFound:
    """The error of a check that found nothing pending: with ``reason`` for the owner only."""
    if reason not in REASONS:
        return VerificationNotFound(NOT_PENDING)
    return VerificationNotFound(REASONS[reason], reason)
