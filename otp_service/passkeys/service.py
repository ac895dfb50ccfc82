"""
PasskeyService: WebAuthn registration and authentication ceremonies for a client's subjects.

A ceremony's challenge lives 5 minutes and is consumed atomically by its verify, whatever the
outcome: of two concurrent verifies of one challenge exactly one reads it (``Ceremonies``). An
assertion is checked, throttled and counted by ``Assertions``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from otp_service.core.errors import (
    PasskeyExists,
    PasskeyNotFound,
    PasskeyRejected,
)
from otp_service.core.events import Event, EventKind, EventSink, FanOut
from otp_service.core.models import DEFAULT_LOCKOUT_SCHEDULE, Client, Clock
from otp_service.passkeys.assertions import Assertions
from otp_service.passkeys.ceremonies import Ceremonies, new_id
from otp_service.passkeys.models import (
    Authentication,
    Ceremonial,
    Ceremony,
    Passkey,
    StoredPasskey,
    UserVerification,
)
from otp_service.passkeys.relying_party import (
    CredentialRejected,
    RelyingParty,
    b64url,
)
from otp_service.passkeys.store import PasskeyStore


class PasskeyService:
    """
    Register, authenticate, list and delete passkeys.

    Args:
        name_key: the secret key user handles are derived under (they name no one in clear).
    """

    def __init__(
        self,
        store: PasskeyStore,
        relying_party: RelyingParty,
        clock: Clock,
        events: EventSink | None = None,
        *,
        name_key: bytes,
        max_consecutive_failures: int = 100,
        lockout_schedule: tuple[int, ...] = DEFAULT_LOCKOUT_SCHEDULE,
    ) -> None:
        self._store = store
        self.relying_party = relying_party
        self._clock = clock
        self._events = events or FanOut()
        self._name_key = name_key
        self._ceremonies = Ceremonies(store, clock)
        schedule_ms = tuple(seconds * 1000 for seconds in lockout_schedule)
        self._assertions = Assertions(
            store, relying_party, clock, self._emit, max_consecutive_failures, schedule_ms
        )

    def _emit(self, kind: EventKind, client: str, outcome: str, **detail: str | int | bool) -> None:
        self._events.record(Event(kind, client, outcome=outcome, detail=detail))

    def user_handle(self, client: str, subject: str) -> bytes:
        """The WebAuthn user handle of a subject: a keyed digest, stable, naming no one."""
        message = f"passkey user handle\0{client}\0{subject}".encode()
        return hmac.new(self._name_key, message, hashlib.sha256).digest()

    # Registration ----------------------------------------------------------------------------

    def start_registration(
        self,
        client: Client,
        subject: str,
        display_name: str | None = None,
        user_verification: UserVerification = UserVerification.PREFERRED,
    ) -> Ceremonial:
        """
        Creation options for a new passkey of ``subject`` (its passkeys excluded).

        Raises:
            StoreUnavailable: Redis failed.
        """
        existing = self._store.of_subject(client.name, subject)
        exclude = [(s.passkey.credential_id, s.passkey.transports) for s in existing]
        challenge, options = self.relying_party.registration_options(
            self.user_handle(client.name, subject),
            subject,
            display_name or subject,
            exclude,
            user_verification,
        )
        return self._ceremonies.open(
            Ceremony.REGISTRATION,
            client,
            challenge,
            options,
            user_verification,
            subject=subject,
            display_name=display_name or "",
        )

    def finish_registration(
        self, client: Client, registration_id: str, credential: Mapping[str, Any]
    ) -> Passkey:
        """
        Verify the browser's attestation and keep the new passkey.

        Raises:
            ChallengeNotFound: the registration is unknown, used or expired.
            PasskeyRejected: the attestation, origin or RP id is wrong.
            PasskeyExists: the credential is already registered.
            StoreUnavailable: Redis failed.
        """
        challenge = self._ceremonies.take(client, registration_id, Ceremony.REGISTRATION)
        try:
            new = self.relying_party.verify_registration(
                credential, challenge.challenge, challenge.user_verification
            )
        except CredentialRejected as error:
            self._emit(EventKind.PASSKEY, client.name, "rejected", reason=error.reason)
            raise PasskeyRejected(str(error), error.reason) from error
        owner = self._store.credential_owner(client.name, new.credential_id)
        if owner is not None and self._store.load(owner) is not None:
            raise PasskeyExists("This credential is already registered.")
        passkey = Passkey(
            id=new_id("pk"),
            client=client.name,
            subject=challenge.subject,
            credential_id=new.credential_id,
            created_ms=self._clock.now_ms(),
            backed_up=new.backed_up,
            device_type=new.device_type,
            transports=new.transports,
            sign_count=new.sign_count,
            aaguid=new.aaguid,
        )
        # Credential index, then the subject's set, then the passkey: a failure between the
        # steps leaves only pointers to nothing, which readers skip and a retry overwrites.
        if not self._store.claim_credential(
            client.name, new.credential_id, passkey.id, owner or ""
        ):
            raise PasskeyExists("This credential is already registered.")
        subject_digest = self._store.digest(passkey.subject)
        self._store.index_subject(client.name, subject_digest, passkey.id, add=True)
        handle = b64url(self.user_handle(client.name, passkey.subject))
        self._store.create(StoredPasskey(passkey, new.public_key, handle))
        self._emit(
            EventKind.PASSKEY_REGISTERED,
            client.name,
            "registered",
            passkey_id=passkey.id,
            device_type=passkey.device_type,
            backed_up=passkey.backed_up,
        )
        return passkey

    # Authentication --------------------------------------------------------------------------

    def start_authentication(
        self,
        client: Client,
        subject: str | None = None,
        user_verification: UserVerification = UserVerification.PREFERRED,
    ) -> Ceremonial:
        """
        Request options: the subject's passkeys, or none for a discoverable credential (autofill).

        Raises:
            PasskeyNotFound: the subject has no passkey.
            StoreUnavailable: Redis failed.
        """
        allow: list[tuple[str, tuple[str, ...]]] = []
        if subject is not None:
            passkeys = self._store.of_subject(client.name, subject)
            if not passkeys:
                raise PasskeyNotFound("The subject has no passkey.")
            allow = [(s.passkey.credential_id, s.passkey.transports) for s in passkeys]
        challenge, options = self.relying_party.authentication_options(allow, user_verification)
        return self._ceremonies.open(
            Ceremony.AUTHENTICATION,
            client,
            challenge,
            options,
            user_verification,
            subject=subject or "",
        )

    def finish_authentication(
        self, client: Client, authentication_id: str, credential: Mapping[str, Any]
    ) -> Authentication:
        """
        Verify an assertion against the ceremony's challenge: valid, or not and why.

        Raises:
            ChallengeNotFound: the authentication is unknown, used or expired.
            TooManyAttempts: the subject's passkeys are locked for a while.
            StoreUnavailable: Redis failed.
        """
        challenge = self._ceremonies.take(client, authentication_id, Ceremony.AUTHENTICATION)
        return self._assertions.check(client, challenge, credential)

    # Listing and deletion --------------------------------------------------------------------

    def list(self, client: Client, subject: str) -> list[Passkey]:
        """The subject's passkeys, oldest first (public keys are never returned)."""
        return [stored.passkey for stored in self._store.of_subject(client.name, subject)]

    def delete(self, client: Client, passkey_id: str) -> None:
        """
        Raises:
            PasskeyNotFound: no passkey of this client has this id.
            StoreUnavailable: Redis failed.
        """
        digests = self._store.delete(passkey_id, client.name)
        if digests is None:
            raise PasskeyNotFound("No passkey has this id.")
        subject_digest, credential_digest = digests
        self._store.index_subject(client.name, subject_digest, passkey_id, add=False)
        self._store.release_credential(client.name, credential_digest, passkey_id)
        self._emit(EventKind.PASSKEY, client.name, "deleted", passkey_id=passkey_id)
