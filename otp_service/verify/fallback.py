"""
Fallback: when the provider of a verification's channel refuses its message, the next channel of
the start's ``channels`` gets a new code at once (a resend: same verification, one more send,
the attempts left alone). The refused code can never approve: its hash is replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from otp_service.abuse import AbuseGuard
from otp_service.core.codes import CodeHasher, generate_code
from otp_service.core.errors import ChannelNotAllowed, DeliveryFailed, InvalidDestination
from otp_service.core.events import EventKind
from otp_service.core.models import Channel, Client, Clock, Verification
from otp_service.delivery import Sender
from otp_service.verify.dispatch import Dispatcher
from otp_service.verify.store import RedisStore

#: Emits one verification event (``VerificationEvents.emit``).
Emit = Callable[..., None]


def refuse_unusable(
    client: Client, channels: Sequence[Channel], senders: Mapping[Channel, Sender]
) -> None:
    """
    Raises:
        ChannelNotAllowed: a channel has no provider, or the client may not use it (at start,
            not when the fallback would need it).
    """
    for channel in channels:
        if channel not in senders:
            raise ChannelNotAllowed(f"The {channel.value} channel has no provider configured.")
        if channel not in client.policy.channels:
            raise ChannelNotAllowed(f"The {channel.value} channel is not enabled for this client.")


class Fallback:
    """Delivers a verification's code, falling back to the next channels when refused."""

    def __init__(
        self,
        store: RedisStore,
        hasher: CodeHasher,
        dispatcher: Dispatcher,
        clock: Clock,
        emit: Emit,
        guard: AbuseGuard | None,
        grace_seconds: int,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._dispatcher = dispatcher
        self._clock = clock
        self._emit = emit
        self._guard = guard
        self._grace_ms = grace_seconds * 1000

    def deliver(
        self,
        client: Client,
        verification: Verification,
        code: str,
        code_hash: str,
        destination_key: str,
        fallbacks: Sequence[Channel],
    ) -> Verification:
        """
        Send ``code``; when the provider refuses it, send a new code on each next channel.

        Raises:
            DeliveryFailed, InvalidDestination: every channel refused (the verification is
                ``failed``), or no send is left for the next one.
        """
        try:
            return self._dispatcher.deliver(client, verification, code, code_hash, destination_key)
        except (DeliveryFailed, InvalidDestination):
            if not fallbacks:
                raise
            reopened = self._reopen(client, verification, code_hash, fallbacks)
            if reopened is None:
                raise
        return self._deliver_reopened(client, reopened, fallbacks[1:])

    def after_undelivered(self, client: Client, verification: Verification) -> Verification | None:
        """
        The provider reported the last message undelivered: send a new code on the next channel,
        if any is left; the verification then, or None when nothing was sent.

        Raises:
            DeliveryFailed, InvalidDestination: every channel left refused.
        """
        fallbacks = verification.fallback_channels
        if not fallbacks:
            return None
        reopened = self._reopen(client, verification, "", fallbacks)
        if reopened is None:
            return None
        return self._deliver_reopened(client, reopened, fallbacks[1:])

    def after_timeout(self, client: Client, verification: Verification) -> Verification | None:
        """
        A timer ran out with ``verification`` still pending after ``verification.sends`` sends:
        send a new code on the next channel; the verification then, or None when nothing was sent
        (no channel left, or it changed since it was read: compare-and-set in the script).

        Raises:
            DeliveryFailed, InvalidDestination: every channel left refused.
        """
        fallbacks = verification.fallback_channels
        if not fallbacks:
            return None
        reopened = self._reopen(client, verification, "", fallbacks, after_sends=verification.sends)
        if reopened is None:
            return None
        return self._deliver_reopened(client, reopened, fallbacks[1:])

    def _deliver_reopened(
        self, client: Client, reopened: tuple[Verification, str, str], rest: Sequence[Channel]
    ) -> Verification:
        verification, code, code_hash = reopened
        key = self._store.destination_key(client.name, verification.channel, verification.to)
        # The destination's index on the new channel: a check by destination finds it there too.
        ttl_ms = client.policy.code_ttl_seconds * 1000
        self._store.claim_destination(key, verification.id, "", ttl_ms)
        self._emit(EventKind.RESENT, client.name, verification, outcome="fallback")
        return self.deliver(client, verification, code, code_hash, key, rest)

    def _reopen(
        self,
        client: Client,
        failed: Verification,
        failed_hash: str,
        fallbacks: Sequence[Channel],
        after_sends: int | None = None,
    ) -> tuple[Verification, str, str] | None:
        channel = fallbacks[0]
        if self._guard is not None:
            self._guard.admit_send(client, channel, failed.to, None)
        code = generate_code(client.policy.code_length)
        code_hash = self._hasher.hash(failed.id, code, failed.transaction)
        reopened = self._store.fall_back(
            failed,
            failed_hash,
            channel,
            code_hash,
            self._clock.now_ms(),
            ttl_ms=client.policy.code_ttl_seconds * 1000,
            grace_ms=self._grace_ms,
            rest=fallbacks[1:],
            after_sends=after_sends,
        )
        return None if isinstance(reopened, str) else (reopened, code, code_hash)
