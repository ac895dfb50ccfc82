"""
RedisStore: the key schema and the Lua scripts of verifications.

Every read-modify-write of a verification is one script from ``lua/``; every
``redis.RedisError`` becomes ``StoreUnavailable`` (fail closed: invariant 6, docs/architecture.md).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from typing import Final, TypeVar, cast

from otp_service.core.models import Channel, Verification, destination_digest
from otp_service.storage.script_store import ScriptStore, guard, lua_source
from otp_service.storage.scripts import flag, one_of
from otp_service.verify.records import (
    ResendOutcome,
    Reservation,
    creation_args,
    fallen_back,
    fields_lua,
    fields_of,
    parse_verification,
    resend_outcome,
    reservation,
)

# Key schema. Every key of one verification shares the hash tag {<id>}, so each script touches one
# slot and the same code runs on Redis Cluster.
VERIFICATION_KEY: Final = "{prefix}:vf:{{{id}}}"  # HASH, fields of _FIELDS; PX = expiry + grace
DESTINATION_KEY: Final = "{prefix}:dest:{{{client}:{channel}:{digest}}}"  # index_value; PX = expiry
SCRIPT_NAMES: Final = (
    "create",
    "claim_destination",
    "release_destination",
    "resend",
    "reserve_attempt",
    "approve",
    "cancel",
    "approve_without_code",
    "mark_failed",
    "record_delivery",
    "lock",
    "fall_back",
)
_T = TypeVar("_T")


def index_value(verification_id: str) -> str:
    """
    What a destination index holds for a verification: the id's 128 bits in base64url, 22
    characters (the full ``vf_`` id, 35, takes the index to the next allocation size: 136 B, not
    120). An id of another form is kept as it is.
    """
    digits = verification_id.removeprefix("vf_")
    if len(digits) != 32 or digits == verification_id:
        return verification_id
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return verification_id
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def id_of_index(value: str) -> str:
    """The verification id a destination index holds (written by ``index_value``, or whole)."""
    if len(value) != 22 or value.startswith("vf_"):
        return value
    try:
        return "vf_" + base64.urlsafe_b64decode(value + "==").hex()
    except (binascii.Error, ValueError):
        return value


class RedisStore(ScriptStore):
    """
    Verifications in Redis, each state change one Lua script.

    Args:
        client: a ``redis.Redis`` (or cluster) client created with ``decode_responses=True``.
        prefix: the prefix of every key (``OTP_REDIS_PREFIX``).
        durability: how many replicas acknowledge each script's writes (none by default).
        name_key: the secret destinations are hashed under in key names (``key_name_key``).
    """

    SCRIPT_PACKAGE = "otp_service.verify"
    SCRIPT_NAMES = SCRIPT_NAMES

    def script_prelude(self) -> str:
        """``fields_of`` (the field names of a verification hash in either format), ``hmget``
        (its fields, what format 2 leaves out filled in) and ``new_record`` (a new hash written)."""
        return fields_lua() + lua_source(self.SCRIPT_PACKAGE, "new_record")

    # Keys ------------------------------------------------------------------------------------

    def verification_key(self, verification_id: str) -> str:
        """The key of a verification's hash."""
        return VERIFICATION_KEY.format(prefix=self.prefix, id=verification_id)

    def destination_digest(self, to: str) -> str:
        """What keys and records know ``to`` by: its keyed hash (never the destination itself)."""
        return destination_digest(to, self._name_key)

    def destination_key(self, client: str, channel: Channel, to: str) -> str:
        """The key of the index from (client, channel, destination) to the pending verification."""
        digest = self.destination_digest(to)
        return DESTINATION_KEY.format(
            prefix=self.prefix, client=client, channel=channel.value, digest=digest
        )

    # Verifications ---------------------------------------------------------------------------

    def pending_id(self, destination_key: str) -> str | None:
        """The id the destination index points at (a hint: the verification hash decides)."""
        with guard():
            value = cast(str | None, self.client.get(destination_key))
        return None if value is None else id_of_index(value)

    def load(self, verification_id: str) -> Verification | None:
        """The verification with this id, or None when it is gone."""
        with guard():
            key = self.verification_key(verification_id)
            fields = cast(dict[str, str], self.client.hgetall(key))
        if not fields:
            return None
        fields["id"] = verification_id
        return parse_verification(fields)

    def create(self, verification: Verification, code_hash: str, key_ttl_ms: int) -> bool:
        """Store a new verification; False when its id is already taken."""
        key = self.verification_key(verification.id)
        args = [key_ttl_ms, self._clock_mode(), *creation_args(verification, code_hash)]
        return self._run("create", [key], args, flag)

    def claim_destination(self, key: str, verification_id: str, expected: str, ttl_ms: int) -> bool:
        """Point the destination index at ``verification_id`` if it still points at ``expected``."""
        args = [index_value(verification_id), expected and index_value(expected), ttl_ms, expected]
        return self._run("claim_destination", [key], args, flag)

    def release_destination(self, key: str, verification_id: str) -> None:
        """Drop the destination index if it points at ``verification_id``."""
        args = [index_value(verification_id), verification_id]
        self._run("release_destination", [key], args, flag)

    def resend(
        self,
        verification_id: str,
        client: str,
        now_ms: int,
        code_hash: str,
        *,
        cooldown_ms: int,
        ttl_ms: int,
        grace_ms: int,
    ) -> ResendOutcome:
        """Swap in a new code hash and count a send, if the verification allows it now."""
        key = self.verification_key(verification_id)
        args = self.resend_args(client, now_ms, code_hash, cooldown_ms, ttl_ms, grace_ms)
        return self._run(
            "resend", [key], args, lambda reply: resend_outcome(verification_id, reply)
        )

    def resend_args(
        self, client: str, now_ms: int, code_hash: str, cooldown_ms: int, ttl_ms: int, grace_ms: int
    ) -> list[str | int]:
        """The arguments of ``resend`` (which a start script may run as a function)."""
        return [client, self._now(now_ms), code_hash, cooldown_ms, ttl_ms, grace_ms]

    def fall_back(
        self,
        failed: Verification,
        failed_hash: str,
        channel: Channel,
        code_hash: str,
        now_ms: int,
        *,
        ttl_ms: int,
        grace_ms: int,
        rest: Sequence[Channel] = (),
        after_sends: int | None = None,
    ) -> Verification | str:
        """
        Reopen ``failed`` on ``channel`` with a new code (one more send), ``rest`` left to fall
        back to; the verification, or ``gone`` (changed since) or ``max_sends``. With no
        ``failed_hash``, a pending verification whose delivery was reported failed reopens; with
        ``after_sends`` too (a timer), one still pending after exactly that many sends.
        """
        key = self.verification_key(failed.id)
        args = [failed.client, self._now(now_ms), failed.channel.value, failed_hash]
        args += [channel.value, code_hash, ttl_ms, grace_ms, ",".join(c.value for c in rest)]
        args.append("" if after_sends is None else after_sends)
        return self._run("fall_back", [key], args, functools.partial(fallen_back, failed.id))

    def reserve_attempt(self, verification_id: str, client: str, now_ms: int) -> Reservation:
        """Count one check against the verification's budget and return its code hash."""
        key = self.verification_key(verification_id)
        return self._run("reserve_attempt", [key], [client, self._now(now_ms)], reservation)

    def approve(self, verification_id: str, code_hash: str, now_ms: int) -> str:
        """Approve if still pending with this hash: ``approved``, ``stale`` or ``gone``."""
        key = self.verification_key(verification_id)
        return self._run(
            "approve", [key], [code_hash, self._now(now_ms)], one_of("approved", "stale", "gone")
        )

    def cancel(self, verification_id: str, client: str, now_ms: int) -> Verification | None:
        """Cancel a pending verification; None when there is none of this client to cancel."""
        key = self.verification_key(verification_id)
        return self._run("cancel", [key], [client, self._now(now_ms)], fields_of(verification_id))

    def approve_without_code(
        self, verification_id: str, client: str, now_ms: int
    ) -> Verification | None:
        """Approve a pending verification with checks left; None when there is none to approve."""
        key = self.verification_key(verification_id)
        return self._run(
            "approve_without_code", [key], [client, self._now(now_ms)], fields_of(verification_id)
        )

    def mark_failed(self, verification_id: str, code_hash: str, now_ms: int) -> None:
        """Mark the verification failed if it still holds ``code_hash``."""
        key = self.verification_key(verification_id)
        self._run("mark_failed", [key], [code_hash, self._now(now_ms)], flag)

    def lock(self, verification_id: str, now_ms: int) -> None:
        """Use up every remaining check of a pending verification (a destination lockout)."""
        self._run("lock", [self.verification_key(verification_id)], [self._now(now_ms)], flag)

    def note_delivery(self, verification_id: str, delivery_status: str) -> None:
        """``record_delivery`` as the sender answered it, with the open batch's writes."""
        key = self.verification_key(verification_id)
        self._write_unread("record_delivery", [key], [delivery_status], required=True)

    def record_delivery(self, verification_id: str, delivery_status: str) -> bool:
        """Record a provider's delivery status; False when the verification is gone."""
        key = self.verification_key(verification_id)
        return self._run("record_delivery", [key], [delivery_status], flag)
