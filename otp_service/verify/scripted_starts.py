"""
ScriptedStarts: a start for a destination with no pending verification, and the resend of a
pending one, each in two scripts before its delivery (``StartScripts``): admitted, hashed, then
created (or resent) with every limit counted at once. A refused start counts nothing and costs
no argon2.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from otp_service.abuse import AbuseGuard
from otp_service.core.codes import CodeHasher, generate_code
from otp_service.core.errors import StoreUnavailable
from otp_service.core.models import Channel, Client, Status, Verification
from otp_service.core.transactions import Transaction
from otp_service.verify.fallback import Fallback
from otp_service.verify.locales import resolve_locale
from otp_service.verify.records import ResendOutcome, resend_outcome
from otp_service.verify.start_scripts import StartScripts
from otp_service.verify.store import RedisStore, id_of_index


def new_verification_id() -> str:
    """A fresh verification id: ``vf_`` and 128 random bits in hex."""
    return "vf_" + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What a start asks for, as ``Starts.start`` was given it."""

    client: Client
    channel: Channel
    to: str
    locale: str | None
    country: str | None
    ip: str | None
    transaction: Transaction | None
    fallbacks: tuple[Channel, ...]


def new_verification(
    request: StartRequest, now_ms: int, dest_failures: int, locale: str | None = None
) -> Verification:
    """A pending verification for ``request``, created at ``now_ms``, before its first send."""
    policy = request.client.policy
    ttl_ms = policy.code_ttl_seconds * 1000
    return Verification(
        id=new_verification_id(),
        client=request.client.name,
        channel=request.channel,
        to=request.to,
        status=Status.PENDING,
        attempts=0,
        max_attempts=policy.max_attempts,
        sends=1,
        max_sends=policy.max_sends,
        created_ms=now_ms,
        expires_ms=now_ms + ttl_ms,
        next_send_ms=now_ms + policy.resend_cooldown_seconds * 1000,
        updated_ms=now_ms,
        locale=locale or resolve_locale(request.locale, policy, request.country),
        dest_failures=dest_failures,
        transaction=request.transaction,
        fallbacks=",".join(channel.value for channel in request.fallbacks),
    )


class ScriptedStarts:
    """New verifications and resends on one Redis (standalone or Sentinel), in two scripts."""

    def __init__(
        self,
        store: RedisStore,
        scripts: StartScripts,
        hasher: CodeHasher,
        guard: AbuseGuard,
        fallback: Fallback,
        grace_ms: int,
    ) -> None:
        self._store = store
        self._scripts = scripts
        self._hasher = hasher
        self._guard = guard
        self._fallback = fallback
        self._grace_ms = grace_ms

    def start(
        self, request: StartRequest, destination_key: str, now_ms: int
    ) -> Verification | str | None:
        """
        Create and deliver a verification; the id the destination index holds when it has one
        (the client's and the IP's starts admit it then: the caller resends it or replaces a
        stale one), None when another start claimed the destination meanwhile.

        Raises:
            RateLimited, SuspectedFraud: a limit or the pumping guard refused (nothing counted).
            DeliveryFailed, InvalidDestination: the provider did not take the message.
            StoreUnavailable: Redis failed.
        """
        client = request.client
        admission = self._guard.admission.plan(
            client, request.channel, request.to, request.country, request.ip
        )
        reply = self._scripts.admit(destination_key, admission)
        if reply[0] == "pending":
            return id_of_index(str(reply[1]))
        dest_failures = self._guard.admission.admitted(client, admission, reply)
        verification = new_verification(request, now_ms, dest_failures)
        code = generate_code(client.policy.code_length)
        code_hash = self._hasher.hash(verification.id, code, request.transaction)
        keys = (self._store.verification_key(verification.id), destination_key)
        ttl_ms = verification.expires_ms - now_ms + self._grace_ms
        # The limits are counted here, with the create: a race lost to another start (its
        # pumping guard count made in the admission stays) counts none of them.
        reply = self._scripts.create(verification, code_hash, keys, admission, key_ttl_ms=ttl_ms)
        if reply[0] == "lost":
            return None
        if reply[0] != "created":
            self._guard.admission.admitted(client, admission, reply)  # raises the refusal
        return self._fallback.deliver(
            client, verification, code, code_hash, destination_key, request.fallbacks
        )

    def resend(
        self,
        client: Client,
        existing: Verification,
        destination_key: str,
        now_ms: int,
        request: StartRequest,
    ) -> tuple[ResendOutcome, str, str]:
        """
        Resend ``existing`` with a new code: what ``resend`` answered, the code and its hash.

        Raises:
            RateLimited, SuspectedFraud: a limit or the pumping guard refused (nothing counted).
            StoreUnavailable: Redis failed.
        """
        admission = self._guard.admission.plan(
            client, existing.channel, existing.to, request.country, request.ip
        )
        reply = self._scripts.admit(destination_key, admission, resend=True)
        self._guard.admission.admitted(client, admission, reply)
        policy = client.policy
        code = generate_code(policy.code_length)
        code_hash = self._hasher.hash(existing.id, code, existing.transaction)
        ttl_ms = policy.code_ttl_seconds * 1000
        args = self._store.resend_args(
            client.name,
            now_ms,
            code_hash,
            policy.resend_cooldown_seconds * 1000,
            ttl_ms,
            self._grace_ms,
        )
        keys = (self._store.verification_key(existing.id), destination_key)
        reply = self._scripts.resend(existing.id, keys, admission, args, index_ttl_ms=ttl_ms)
        if reply[0] == "limited":
            self._guard.admission.admitted(client, admission, reply)  # raises the refusal
        try:
            return resend_outcome(existing.id, reply), code, code_hash
        except ValueError as error:
            raise StoreUnavailable("the store answered an unexpected reply") from error
