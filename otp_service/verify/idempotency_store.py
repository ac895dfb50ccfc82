"""
IdempotencyStore: the ``Idempotency-Key``s of each client and the answers they got, in Redis.

A key is stored by its HMAC under the key-name key (never as sent), with its request's body
fingerprint; the answer is kept 24 hours; each client keeps at most ``max_keys`` (the oldest go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from otp_service.core.models import name_digest
from otp_service.storage.script_store import ScriptStore
from otp_service.storage.scripts import Durability, flag, string_list

if TYPE_CHECKING:
    import redis

# Every key of one client shares the hash tag {<client>}: the scripts touch one slot.
ENTRY_KEY: Final = "{prefix}:idem:{{{client}}}:{digest}"  # HASH fingerprint, state, token, ...
INDEX_KEY: Final = "{prefix}:idem:{{{client}}}"  # ZSET digest → claimed at (ms)


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``begin`` answered: claimed, running, mismatch, or done and the answer."""

    state: str
    status: int = 0
    body: str = ""


@dataclass(frozen=True, slots=True)
class Retention:
    """How long claims and answers live, and how many keys a client keeps."""

    claim_ms: int
    answer_ms: int
    max_keys: int


class IdempotencyStore(ScriptStore):
    """Idempotency keys, each state change one Lua script."""

    SCRIPT_PACKAGE = "otp_service.verify"
    SCRIPT_NAMES = ("idempotency_begin", "idempotency_finish", "idempotency_release")

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        durability: Durability | None = None,
        *,
        name_key: bytes,
        retention: Retention,
        server_time: bool = False,
    ) -> None:
        super().__init__(client, prefix, durability, name_key=name_key, server_time=server_time)
        self.retention = retention

    def digest(self, key: str) -> str:
        """What a key is stored as: 128 bits of its HMAC-SHA256 under the key-name key."""
        return name_digest(key, self._name_key)

    def _keys(self, client: str, digest: str) -> list[str]:
        entry = ENTRY_KEY.format(prefix=self.prefix, client=client, digest=digest)
        return [entry, INDEX_KEY.format(prefix=self.prefix, client=client)]

    def begin(self, client: str, key: str, fingerprint: str, token: str, now_ms: int) -> Claim:
        """Claim ``key`` for a request with ``token``, or say what became of it."""
        digest = self.digest(key)
        keys = self._keys(client, digest)
        entry_prefix = keys[0].removesuffix(digest)
        kept = self.retention
        args = [fingerprint, token, self._now(now_ms), kept.claim_ms, kept.answer_ms]
        args += [kept.max_keys, digest, entry_prefix]
        return self._run("idempotency_begin", keys, args, _claim)

    def finish(self, client: str, key: str, token: str, status: int, body: str) -> bool:
        """Keep the answer of the claim ``token``; False when the claim was lost meanwhile."""
        keys = self._keys(client, self.digest(key))[:1]
        args = [token, status, body, self.retention.answer_ms]
        return self._run("idempotency_finish", keys, args, flag)

    def release(self, client: str, key: str, token: str) -> bool:
        """Forget the claim ``token`` (its request failed); False when it was no longer ours."""
        digest = self.digest(key)
        return self._run("idempotency_release", self._keys(client, digest), [token, digest], flag)


def _claim(reply: Any) -> Claim:
    values = string_list(reply)
    if values[0] == "done" and len(values) == 3:
        return Claim("done", int(values[1]), values[2])
    if values[0] in ("claimed", "running", "mismatch") and len(values) == 1:
        return Claim(values[0])
    raise ValueError("not an idempotency_begin reply")
