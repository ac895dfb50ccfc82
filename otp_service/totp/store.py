"""
TotpStore: the Redis key schema and Lua scripts of TOTP factors (a store module: imports ``redis``).

Factors are durable data (unlike verifications, which live minutes): the Redis holding them must
persist (AOF) and be backed up; ``persistence`` tells ``/readyz`` whether it does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final, TypeVar, cast

import redis

from otp_service.storage.script_store import ScriptStore, guard
from otp_service.storage.scripts import flag, one_of
from otp_service.totp.keys import SealedSecret
from otp_service.totp.models import Factor, FactorStatus
from otp_service.totp.records import (
    Allowance,
    FactorReservation,
    SubjectEntry,
    Throttle,
    optional_string,
    parse_factor,
    reservation,
    subject_digest,
)

# Key schema. Every key of one factor shares the hash tag {<id>}, so each factor script touches
# one slot (Redis Cluster). The subject index is in its own slot; steps spanning both are ordered
# so that a failure between them is harmless (see TotpService).
_T = TypeVar("_T")
FACTOR_KEY: Final = "{prefix}:totp:factor:{{{id}}}"  # HASH, fields below; PX = unverified TTL
BACKUP_KEY: Final = "{prefix}:totp:backup:{{{id}}}"  # HASH slot -> argon2 hash of a backup code
SUBJECT_KEY: Final = "{prefix}:totp:subject:{{{client}:{digest}}}"  # STRING '<id>:<status>'
# Factor hash fields: client, subject (the client's opaque user id, kept to render the factor),
# subject_digest, label, status, algorithm, digits, key_id, secret (AES-GCM, never in clear),
# last_step (replay guard), failures, locked_until_ms, created_ms, expires_ms, activated_ms,
# updated_ms.

SCRIPT_NAMES: Final = (
    "totp_create",
    "totp_claim_subject",
    "totp_release_subject",
    "totp_reserve",
    "totp_accept",
    "totp_mark_verified",
    "totp_delete",
    "totp_set_backup_codes",
    "totp_use_backup_code",
    "totp_reseal",
    "totp_rename_subject",
    "totp_clear_locks",
)
_GLOB_SPECIAL: Final = re.compile(r"([*?\[\]\\])")


class TotpStore(ScriptStore):
    """
    TOTP factors in Redis, each state change one Lua script.

    Args:
        client: a ``redis.Redis`` (or cluster) client created with ``decode_responses=True``.
        prefix: the prefix of every key (``OTP_REDIS_PREFIX``).
    """

    SCRIPT_PACKAGE = "otp_service.totp"
    SCRIPT_NAMES = SCRIPT_NAMES

    # Keys ------------------------------------------------------------------------------------

    def factor_key(self, factor_id: str) -> str:
        """The key of a factor's hash."""
        return FACTOR_KEY.format(prefix=self.prefix, id=factor_id)

    def backup_key(self, factor_id: str) -> str:
        """The key of a factor's backup codes."""
        return BACKUP_KEY.format(prefix=self.prefix, id=factor_id)

    def subject_key(self, client: str, digest: str) -> str:
        """The key of the index from (client, subject digest) to the subject's factor."""
        return SUBJECT_KEY.format(prefix=self.prefix, client=client, digest=digest)

    def subject_digest(self, subject: str) -> str:
        """What this store's keys name ``subject`` by."""
        return subject_digest(subject, self._name_key)

    # Subject index ---------------------------------------------------------------------------

    def subject_entry(self, key: str) -> SubjectEntry | None:
        """What the subject index points at (a pointer: the factor hash decides)."""
        with guard():
            value = cast(str | None, self.client.get(key))
        if value is None:
            return None
        factor_id, _, status = value.rpartition(":")
        return SubjectEntry(factor_id, FactorStatus(status))

    def claim_subject(
        self, key: str, expected: SubjectEntry | None, new: SubjectEntry, ttl_ms: int
    ) -> bool:
        """Point the index at ``new`` if it still holds ``expected``; ``ttl_ms`` 0 = forever."""
        old = expected.value if expected else ""
        return self._run("totp_claim_subject", [key], [old, new.value, ttl_ms], flag)

    def release_subject(self, key: str, factor_id: str) -> None:
        """Drop the subject index if it points at ``factor_id``."""
        self._run("totp_release_subject", [key], [factor_id], flag)

    def rename_subject(self, factor_id: str, old_digest: str, new_digest: str) -> bool:
        """Record the factor's subject under ``new_digest`` if it is still under ``old_digest``."""
        keys = [self.factor_key(factor_id)]
        return self._run("totp_rename_subject", keys, [old_digest, new_digest], flag)

    # Factors ---------------------------------------------------------------------------------

    def create(self, factor: Factor, sealed: SealedSecret, key_ttl_ms: int) -> bool:
        """Store a new factor; False when its id is already taken."""
        fields: dict[str, str | int] = {
            "client": factor.client,
            "subject": factor.subject,
            "subject_digest": self.subject_digest(factor.subject),
            "label": factor.label,
            "status": factor.status.value,
            "algorithm": factor.algorithm.value,
            "digits": factor.digits,
            "key_id": sealed.key_id,
            "secret": sealed.ciphertext,
            "last_step": -1,
            "failures": 0,
            "locked_until_ms": 0,
            "created_ms": factor.created_ms,
            "expires_ms": factor.expires_ms,
            "activated_ms": 0,
            "updated_ms": factor.created_ms,
        }
        flat = [item for pair in fields.items() for item in pair]
        key = self.factor_key(factor.id)
        return self._run("totp_create", [key], [key_ttl_ms, self._clock_mode(), *flat], flag)

    def allowances(self, factor_id: str) -> tuple[Allowance, Allowance]:
        """The factor's failure allowances: of its codes, and of its backup codes."""
        with guard():
            fields = cast(dict[str, str], self.client.hgetall(self.factor_key(factor_id)))
        return Allowance.of(fields), Allowance.of(fields, "backup_")

    def clear_locks(self, factor_id: str, client: str, now_ms: int) -> bool:
        """Clear both allowances' lockouts; False when no factor of ``client`` has this id."""
        args = [client, self._now(now_ms)]
        return self._run("totp_clear_locks", [self.factor_key(factor_id)], args, flag)

    def load(self, factor_id: str) -> Factor | None:
        """The factor with this id, or None when it is gone."""
        with guard():
            fields = cast(dict[str, str], self.client.hgetall(self.factor_key(factor_id)))
        return parse_factor(factor_id, fields) if fields else None

    def reserve(
        self,
        factor_id: str,
        client: str,
        status: FactorStatus,
        now_ms: int,
        *,
        code_digits: int | None,
        throttle: Throttle,
    ) -> FactorReservation:
        """Count one check against the factor's failure budget and return what checking needs."""
        kind = "backup" if code_digits is None else "totp"
        args = [client, status.value, self._now(now_ms), kind, code_digits or 0]
        args += [throttle.failures_per_step, throttle.hard_limit, *throttle.schedule_ms]
        keys = [self.factor_key(factor_id), self.backup_key(factor_id)]
        return self._run("totp_reserve", keys, args, functools.partial(reservation, kind))

    def accept(
        self, factor_id: str, client: str, status: FactorStatus, step: int, now_ms: int
    ) -> str:
        """The replay guard: ``accepted`` if ``step`` is above the last one, else ``replayed``."""
        key = self.factor_key(factor_id)
        args = [client, status.value, step, self._now(now_ms)]
        return self._run("totp_accept", [key], args, one_of("accepted", "replayed", "gone"))

    def mark_verified(self, factor_id: str, client: str, now_ms: int) -> bool:
        """Make an unverified factor verified and durable; False when it is gone."""
        key = self.factor_key(factor_id)
        return self._run("totp_mark_verified", [key], [client, self._now(now_ms)], flag)

    def delete(self, factor_id: str, client: str, status: FactorStatus | None = None) -> str | None:
        """Delete a factor of this client (of this status); its subject digest, or None."""
        keys = [self.factor_key(factor_id), self.backup_key(factor_id)]
        wanted = status.value if status else ""
        return self._run("totp_delete", keys, [client, wanted], optional_string)

    # Backup codes ----------------------------------------------------------------------------

    def set_backup_codes(
        self, factor_id: str, client: str, hashes: Sequence[str], now_ms: int
    ) -> bool:
        """Replace the factor's backup codes by ``hashes``; False when no verified factor."""
        keys = [self.factor_key(factor_id), self.backup_key(factor_id)]
        pairs = [item for slot, code_hash in enumerate(hashes) for item in (slot, code_hash)]
        return self._run("totp_set_backup_codes", keys, [client, self._now(now_ms), *pairs], flag)

    def use_backup_code(
        self, factor_id: str, client: str, slot: str, code_hash: str, now_ms: int
    ) -> str:
        """Use up one backup code: ``accepted``, ``used`` or ``gone``."""
        keys = [self.factor_key(factor_id), self.backup_key(factor_id)]
        args = [client, slot, code_hash, self._now(now_ms)]
        return self._run("totp_use_backup_code", keys, args, one_of("accepted", "used", "gone"))

    # Key rotation ----------------------------------------------------------------------------

    def factor_ids(self) -> Iterator[str]:
        """The id of every stored factor (SCAN: no blocking, may see a factor twice)."""
        escaped = _GLOB_SPECIAL.sub(r"\\\1", self.prefix)
        pattern = FACTOR_KEY.format(prefix=escaped, id="*")
        with guard():
            for key in self.client.scan_iter(match=pattern, count=500):
                yield cast(str, key).rpartition("{")[2].rstrip("}")

    def sealed_secret(self, factor_id: str) -> SealedSecret | None:
        """The encrypted secret of a factor, or None when it is gone."""
        with guard():
            fields = cast(
                list[str | None],
                self.client.hmget(self.factor_key(factor_id), ["key_id", "secret"]),
            )
        kid, ciphertext = fields
        if kid is None or ciphertext is None:
            return None
        return SealedSecret(kid, ciphertext)

    def reseal(self, factor_id: str, old: SealedSecret, new: SealedSecret) -> bool:
        """Swap ``old`` for ``new`` if the factor still holds ``old``."""
        key = self.factor_key(factor_id)
        args = [old.ciphertext, new.key_id, new.ciphertext]
        return self._run("totp_reseal", [key], args, flag)

    # Health ----------------------------------------------------------------------------------

    def persistence(self) -> str:
        """
        How Redis keeps data over a restart: ``aof``, ``rdb`` (snapshots only), ``off`` or
        ``unknown`` (a managed Redis may forbid INFO or CONFIG; that is not a failure).

        Raises:
            StoreUnavailable: Redis does not answer.
        """
        with guard():
            try:
                info = cast(dict[str, Any], self.client.info("persistence"))
                if str(info.get("aof_enabled")) == "1":
                    return "aof"
                save = cast(dict[str, str], self.client.config_get("save")).get("save", "")
            except redis.ResponseError:
                return "unknown"
        return "rdb" if save.strip() else "off"
