"""
TotpStore: the Redis key schema and Lua scripts of TOTP factors (a store module: imports ``redis``).

Factors are durable data (unlike verifications, which live minutes): the Redis holding them must
persist (AOF) and be backed up; ``persistence`` tells ``/readyz`` whether it does.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import redis

from otp_service.storage.script_store import ScriptStore, guard, hash_fields
from otp_service.storage.scripts import flag, one_of, string_list
from otp_service.totp.keys import SealedSecret
from otp_service.totp.models import Algorithm, Factor, FactorStatus

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
)
_GLOB_SPECIAL: Final = re.compile(r"([*?\[\]\\])")


@dataclass(frozen=True, slots=True)
class SubjectEntry:
    """What a subject index holds: the subject's factor and its status when indexed."""

    factor_id: str
    status: FactorStatus

    @property
    def value(self) -> str:
        """The stored form, ``<id>:<status>``."""
        return f"{self.factor_id}:{self.status.value}"


@dataclass(frozen=True, slots=True)
class Throttle:
    """Failure limits: a lockout after each window of failures, a long one at the hard limit."""

    failures_per_window: int
    lockout_ms: int
    hard_limit: int
    hard_lockout_ms: int


@dataclass(frozen=True, slots=True)
class FactorReservation:
    """What ``totp_reserve`` answered: ``ok``, ``missing``, ``locked`` or ``malformed``."""

    outcome: str
    sealed: SealedSecret | None = None
    algorithm: Algorithm = Algorithm.SHA1
    digits: int = 0
    last_step: int = -1
    subject_digest: str = ""
    locked_until_ms: int = 0
    backup_hashes: Mapping[str, str] | None = None


def subject_digest(subject: str) -> str:
    """The SHA-256 hex of a subject: keys name subjects by it, never in clear."""
    return hashlib.sha256(subject.encode()).hexdigest()


def parse_factor(factor_id: str, fields: Mapping[str, str]) -> Factor:
    """Build a ``Factor`` from the fields of its hash."""
    return Factor(
        id=factor_id,
        client=fields["client"],
        subject=fields["subject"],
        label=fields["label"],
        status=FactorStatus(fields["status"]),
        algorithm=Algorithm(fields["algorithm"]),
        digits=int(fields["digits"]),
        created_ms=int(fields["created_ms"]),
        expires_ms=int(fields.get("expires_ms", 0)),
        activated_ms=int(fields.get("activated_ms", 0)),
    )


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

    # Factors ---------------------------------------------------------------------------------

    def create(self, factor: Factor, sealed: SealedSecret, key_ttl_ms: int) -> bool:
        """Store a new factor; False when its id is already taken."""
        fields: dict[str, str | int] = {
            "client": factor.client,
            "subject": factor.subject,
            "subject_digest": subject_digest(factor.subject),
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
        args += [throttle.failures_per_window, throttle.lockout_ms]
        args += [throttle.hard_limit, throttle.hard_lockout_ms]
        keys = [self.factor_key(factor_id), self.backup_key(factor_id)]
        return self._run("totp_reserve", keys, args, functools.partial(_reservation, kind))

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
        return self._run("totp_delete", keys, [client, wanted], _optional_string)

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


def _reservation(kind: str, reply: Any) -> FactorReservation:
    outcome = string_list(reply)[0]
    if outcome == "locked" and len(reply) == 2:
        return FactorReservation("locked", locked_until_ms=int(reply[1]))
    if outcome == "malformed" and len(reply) == 2:
        return FactorReservation("malformed", digits=int(reply[1]))
    if outcome == "missing" and len(reply) == 1:
        return FactorReservation("missing")
    if outcome != "ok" or len(reply) < 7:
        raise ValueError("not a totp_reserve reply")
    return FactorReservation(
        "ok",
        sealed=SealedSecret(reply[1], reply[2]),
        algorithm=Algorithm(reply[3]),
        digits=int(reply[4]),
        last_step=int(reply[5]),
        subject_digest=reply[6],
        backup_hashes=hash_fields(reply[7:]) if kind == "backup" else None,
    )


def _optional_string(reply: Any) -> str | None:
    if reply is not None and not isinstance(reply, str):
        raise ValueError("expected a string or nil")
    return reply
