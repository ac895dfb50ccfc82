"""
Assertions: one passkey sign-in checked against its ceremony, throttled per subject.

Failed assertions count against the subject's budget as TOTP checks do: each ``max_attempts``
(the client's policy) lock the subject's passkeys for the next step of ``OTP_LOCKOUT_SCHEDULE``.
The sign counter moves by compare-and-set; a counter that does not increase (0 staying 0
excepted: synced passkeys never count) is refused and audited as a possible clone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otp_service.core.errors import TooManyAttempts
from otp_service.core.events import EventKind
from otp_service.core.models import Client, Clock, seconds_until
from otp_service.passkeys.models import Authentication, Challenge, StoredPasskey
from otp_service.passkeys.relying_party import (
    CredentialRejected,
    RelyingParty,
    credential_id_of,
    user_handle_of,
)
from otp_service.passkeys.store import PasskeyStore

Emit = Callable[..., None]


class Assertions:
    """Check assertions (the authentication ceremony's second half)."""

    def __init__(
        self,
        store: PasskeyStore,
        relying_party: RelyingParty,
        clock: Clock,
        emit: Emit,
        hard_limit: int,
        schedule_ms: tuple[int, ...],
    ) -> None:
        self._store = store
        self._relying_party = relying_party
        self._clock = clock
        self._emit = emit
        self._hard_limit = hard_limit
        self._schedule_ms = schedule_ms

    def check(
        self, client: Client, challenge: Challenge, credential: Mapping[str, Any]
    ) -> Authentication:
        """
        Raises:
            TooManyAttempts: the subject's passkeys are locked for a while.
            StoreUnavailable: Redis failed.
        """
        if challenge.subject:  # every failure of a named subject counts, whatever it is
            self._reserve(client, challenge.subject)
        try:
            credential_id = credential_id_of(credential)
        except CredentialRejected as error:
            return self._invalid(client, error.reason)
        owner = self._store.credential_owner(client.name, credential_id)
        stored = self._store.load(owner) if owner else None
        if stored is None or stored.passkey.client != client.name:
            return self._invalid(client, "unknown_credential")
        if challenge.subject and stored.passkey.subject != challenge.subject:
            return self._invalid(client, "unknown_credential", stored.passkey.id)
        handle = user_handle_of(credential)
        if handle is not None and handle != stored.user_handle:
            return self._invalid(client, "user_handle_mismatch", stored.passkey.id)
        if not challenge.subject:
            self._reserve(client, stored.passkey.subject)
        return self._verify(client, challenge, credential, stored)

    def _verify(
        self,
        client: Client,
        challenge: Challenge,
        credential: Mapping[str, Any],
        stored: StoredPasskey,
    ) -> Authentication:
        passkey = stored.passkey
        try:
            verified = self._relying_party.verify_authentication(
                credential, challenge.challenge, stored.public_key, challenge.user_verification
            )
        except CredentialRejected as error:
            return self._invalid(client, error.reason, passkey.id)
        # passkey_use holds the counter rule (it must increase, but 0 may stay 0) and applies it
        # to the stored counter by compare-and-set, so concurrent assertions cannot both pass.
        old, new = passkey.sign_count, verified.sign_count
        now_ms = self._clock.now_ms()
        outcome = self._store.use(passkey.id, client.name, old, new, verified.backed_up, now_ms)
        if outcome == "gone":
            return self._invalid(client, "unknown_credential", passkey.id)
        if outcome == "raced":
            # A counter that did not increase: a cloned authenticator, or a replayed assertion.
            self._emit(
                EventKind.PASSKEY,
                client.name,
                "counter_regression",
                passkey_id=passkey.id,
                stored_count=old,
                presented_count=new,
            )
            return Authentication(False, reason="counter_regression")
        self._store.reset(client.name, passkey.subject)
        self._emit(
            EventKind.PASSKEY,
            client.name,
            "valid",
            passkey_id=passkey.id,
            user_verified=verified.user_verified,
        )
        return Authentication(True, passkey.subject, passkey.id, verified.user_verified)

    def _reserve(self, client: Client, subject: str) -> None:
        now_ms = self._clock.now_ms()
        locked_until_ms = self._store.reserve(
            client.name,
            subject,
            now_ms,
            client.policy.max_attempts,
            self._hard_limit,
            self._schedule_ms,
        )
        if locked_until_ms:
            self._emit(EventKind.PASSKEY, client.name, "locked")
            raise TooManyAttempts(
                "Too many failed passkey sign-ins for this subject; try again later.",
                seconds_until(locked_until_ms, now_ms),
                locked_until_ms=locked_until_ms,
            )

    def _invalid(self, client: Client, reason: str, passkey_id: str = "") -> Authentication:
        self._emit(EventKind.PASSKEY, client.name, "invalid", reason=reason, passkey_id=passkey_id)
        return Authentication(False, reason=reason)
