"""
Ceremonies: a WebAuthn ceremony's challenge kept single use and short-lived (5 minutes).
"""

from __future__ import annotations

import secrets
from typing import Any

from otp_service.core.errors import ChallengeNotFound
from otp_service.core.models import Client, Clock
from otp_service.passkeys.models import Ceremonial, Ceremony, Challenge, UserVerification
from otp_service.passkeys.relying_party import CEREMONY_TIMEOUT_MS
from otp_service.passkeys.store import PasskeyStore


def new_id(prefix: str) -> str:
    """A fresh id: ``prefix``, an underscore and 128 random bits in hex."""
    return f"{prefix}_{secrets.token_hex(16)}"


class Ceremonies:
    """Open a ceremony (its challenge stored) and take it back exactly once."""

    def __init__(self, store: PasskeyStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def open(
        self,
        ceremony: Ceremony,
        client: Client,
        challenge: str,
        options: dict[str, Any],
        user_verification: UserVerification,
        *,
        subject: str,
        display_name: str = "",
    ) -> Ceremonial:
        """
        Store the challenge and answer what the browser needs.

        Raises:
            StoreUnavailable: Redis failed.
        """
        expires_ms = self._clock.now_ms() + CEREMONY_TIMEOUT_MS
        while True:
            pending = Challenge(
                new_id(ceremony.value),
                ceremony,
                client.name,
                challenge,
                user_verification,
                expires_ms,
                subject,
                display_name,
            )
            if self._store.put_challenge(pending, CEREMONY_TIMEOUT_MS):
                return Ceremonial(pending.id, expires_ms, options)

    def take(self, client: Client, ceremony_id: str, ceremony: Ceremony) -> Challenge:
        """
        Consume a pending ceremony of ``client`` (whatever the verify's outcome).

        Raises:
            ChallengeNotFound: unknown, already used, expired, or another client's.
            StoreUnavailable: Redis failed.
        """
        challenge = self._store.take_challenge(ceremony_id, client.name, ceremony.value)
        if challenge is None or challenge.expires_ms <= self._clock.now_ms():
            what = "registration" if ceremony is Ceremony.REGISTRATION else "authentication"
            raise ChallengeNotFound(f"No pending passkey {what} has this id (used or expired?).")
        return challenge
