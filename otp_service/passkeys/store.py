"""
PasskeyStore: the Redis key schema and Lua scripts of passkeys (a store module: imports ``redis``).

Passkeys are durable data, like TOTP factors: the Redis holding them must persist (AOF).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from otp_service.core.models import name_digest
from otp_service.passkeys.models import Challenge, StoredPasskey
from otp_service.passkeys.records import (
    challenge_fields,
    locked_until,
    parse_challenge,
    parse_passkey,
    passkey_fields,
)
from otp_service.storage.script_store import ScriptStore, guard, hash_fields
from otp_service.storage.scripts import flag, one_of, string_list

# Key schema. A passkey, its credential index and its subject's set are three slots (Redis
# Cluster); writes spanning them are ordered so that a failure between them leaves only pointers
# to nothing, which readers skip (see PasskeyService.register).
CHALLENGE_KEY: Final = "{prefix}:passkey:challenge:{{{id}}}"  # HASH, PX = ceremony timeout
PASSKEY_KEY: Final = "{prefix}:passkey:{{{id}}}"  # HASH (records.passkey_fields)
CREDENTIAL_KEY: Final = "{prefix}:passkey:credential:{{{client}:{digest}}}"  # STRING passkey id
SUBJECT_KEY: Final = "{prefix}:passkey:subject:{{{client}:{digest}}}"  # SET of passkey ids
THROTTLE_KEY: Final = "{prefix}:passkey:throttle:{{{client}:{digest}}}"  # HASH failures, lock

SCRIPT_NAMES: Final = (
    "passkey_put_challenge",
    "passkey_take_challenge",
    "passkey_claim_credential",
    "passkey_release_credential",
    "passkey_index_subject",
    "passkey_create",
    "passkey_use",
    "passkey_delete",
    "passkey_reserve",
    "passkey_reset",
)


class PasskeyStore(ScriptStore):
    """
    Passkeys and their pending ceremonies in Redis, each state change one Lua script.

    Args:
        client: a ``redis.Redis`` (or cluster) client created with ``decode_responses=True``.
        prefix: the prefix of every key (``OTP_REDIS_PREFIX``).
    """

    SCRIPT_PACKAGE = "otp_service.passkeys"
    SCRIPT_NAMES = SCRIPT_NAMES

    # Names -----------------------------------------------------------------------------------

    def digest(self, text: str) -> str:
        """What keys name a subject or a credential id by: a keyed digest, never the text."""
        return name_digest(text, self._name_key)

    def _subject_key(self, client: str, subject_digest: str) -> str:
        return SUBJECT_KEY.format(prefix=self.prefix, client=client, digest=subject_digest)

    def _throttle_key(self, client: str, subject_digest: str) -> str:
        return THROTTLE_KEY.format(prefix=self.prefix, client=client, digest=subject_digest)

    def _credential_key(self, client: str, credential_digest: str) -> str:
        return CREDENTIAL_KEY.format(prefix=self.prefix, client=client, digest=credential_digest)

    def _passkey_key(self, passkey_id: str) -> str:
        return PASSKEY_KEY.format(prefix=self.prefix, id=passkey_id)

    # Challenges ------------------------------------------------------------------------------

    def put_challenge(self, challenge: Challenge, ttl_ms: int) -> bool:
        """Store a pending ceremony for ``ttl_ms``; False when its id is taken."""
        key = CHALLENGE_KEY.format(prefix=self.prefix, id=challenge.id)
        flat = [item for pair in challenge_fields(challenge).items() for item in pair]
        return self._run("passkey_put_challenge", [key], [ttl_ms, *flat], flag)

    def take_challenge(self, challenge_id: str, client: str, ceremony: str) -> Challenge | None:
        """Consume a pending ceremony of ``client``: None when unknown, used or expired."""
        key = CHALLENGE_KEY.format(prefix=self.prefix, id=challenge_id)
        reply = self._run("passkey_take_challenge", [key], [client, ceremony], string_list)
        return parse_challenge(challenge_id, hash_fields(reply)) if reply else None

    # Passkeys --------------------------------------------------------------------------------

    def credential_owner(self, client: str, credential_id: str) -> str | None:
        """The id of the passkey of ``client`` with this credential id, if any points at one."""
        key = self._credential_key(client, self.digest(credential_id))
        with guard():
            return cast(str | None, self.client.get(key))

    def claim_credential(
        self, client: str, credential_id: str, passkey_id: str, stale: str
    ) -> bool:
        """Point the credential id at ``passkey_id`` unless a passkey but ``stale`` has it."""
        key = self._credential_key(client, self.digest(credential_id))
        return self._run("passkey_claim_credential", [key], [passkey_id, stale], flag)

    def release_credential(self, client: str, credential_digest: str, passkey_id: str) -> None:
        """Drop the credential index if it points at ``passkey_id``."""
        key = self._credential_key(client, credential_digest)
        self._run("passkey_release_credential", [key], [passkey_id], flag)

    def index_subject(
        self, client: str, subject_digest: str, passkey_id: str, *, add: bool
    ) -> None:
        """Add the passkey to its subject's set, or remove it."""
        key = self._subject_key(client, subject_digest)
        self._run("passkey_index_subject", [key], ["add" if add else "remove", passkey_id], flag)

    def create(self, stored: StoredPasskey) -> bool:
        """Store a new passkey; False when its id is taken."""
        fields = passkey_fields(stored, self.digest(stored.passkey.subject))
        fields["credential_digest"] = self.digest(stored.passkey.credential_id)
        flat = [item for pair in fields.items() for item in pair]
        return self._run("passkey_create", [self._passkey_key(stored.passkey.id)], flat, flag)

    def load(self, passkey_id: str) -> StoredPasskey | None:
        """The passkey with this id, or None when it is gone."""
        with guard():
            fields = cast(dict[str, str], self.client.hgetall(self._passkey_key(passkey_id)))
        return parse_passkey(passkey_id, fields) if fields else None

    def of_subject(self, client: str, subject: str) -> list[StoredPasskey]:
        """Every passkey of a subject, oldest first (ids whose passkey is gone are skipped)."""
        key = self._subject_key(client, self.digest(subject))
        with guard():
            ids = sorted(cast(set[str], self.client.smembers(key)))
            pipe = self.client.pipeline(transaction=False)
            for passkey_id in ids:
                pipe.hgetall(self._passkey_key(passkey_id))
            replies = cast(list[Mapping[str, str]], pipe.execute()) if ids else []
        found = [
            parse_passkey(passkey_id, fields)
            for passkey_id, fields in zip(ids, replies, strict=True)
            if fields and fields.get("client") == client
        ]
        return sorted(found, key=lambda stored: stored.passkey.created_ms)

    def use(
        self,
        passkey_id: str,
        client: str,
        old_count: int,
        new_count: int,
        backed_up: bool,
        now_ms: int,
    ) -> str:
        """Move the sign counter from ``old_count`` to ``new_count``: ok, raced or gone."""
        args = [client, old_count, new_count, self._now(now_ms), int(backed_up)]
        parse = one_of("ok", "raced", "gone")
        return self._run("passkey_use", [self._passkey_key(passkey_id)], args, parse)

    def delete(self, passkey_id: str, client: str) -> tuple[str, str] | None:
        """Delete a passkey of ``client``: its (subject digest, credential digest), or None."""
        key = self._passkey_key(passkey_id)
        reply = self._run("passkey_delete", [key], [client], string_list)
        if not reply:
            return None
        if len(reply) != 2:
            raise ValueError("not a passkey_delete reply")
        return reply[0], reply[1]

    # Throttle --------------------------------------------------------------------------------

    def reserve(
        self,
        client: str,
        subject: str,
        now_ms: int,
        per_step: int,
        hard_limit: int,
        schedule_ms: Sequence[int],
    ) -> int:
        """Count a verify against the subject's failure budget: 0, or when its lockout ends."""
        key = self._throttle_key(client, self.digest(subject))
        args: list[Any] = [self._now(now_ms), per_step, hard_limit, *schedule_ms]
        return self._run("passkey_reserve", [key], args, locked_until)

    def reset(self, client: str, subject: str) -> None:
        """A valid assertion: the subject's consecutive failures start again from 0."""
        self._run("passkey_reset", [self._throttle_key(client, self.digest(subject))], [], flag)
