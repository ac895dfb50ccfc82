"""
The TOTP store's records: what its keys hold and what its scripts answer, parsed strictly (an
unexpected reply is a ``ValueError``, which the script runner turns into a 503).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otp_service.core.models import name_digest
from otp_service.storage.script_store import hash_fields
from otp_service.storage.scripts import string_list
from otp_service.totp.keys import SealedSecret
from otp_service.totp.models import Algorithm, Factor, FactorStatus


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
    """
    Failure limits: each ``failures_per_step`` failures lock for the next step of ``schedule_ms``
    (the last step repeats); from ``hard_limit`` consecutive failures, every failure locks for
    the last step.
    """

    failures_per_step: int
    hard_limit: int
    schedule_ms: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Allowance:
    """One failure allowance of a factor (its codes, or its backup codes)."""

    failures: int
    level: int
    locked_until_ms: int

    @classmethod
    def of(cls, fields: Mapping[str, str], prefix: str = "") -> Allowance:
        """Read from a factor hash's ``<prefix>failures`` and other fields (0 when absent)."""
        return cls(
            int(fields.get(f"{prefix}failures") or 0),
            int(fields.get(f"{prefix}lock_level") or 0),
            int(fields.get(f"{prefix}locked_until_ms") or 0),
        )


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


def subject_digest(subject: str, key: bytes) -> str:
    """What keys name a subject by: its keyed digest (``name_digest``), never the subject."""
    return name_digest(subject, key)


def legacy_subject_digest(subject: str) -> str:
    """
    The plain SHA-256 hex that named subjects before keyed digests (reversible by guessing the
    subject): read only to move such an index to its keyed name.
    """
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


def reservation(kind: str, reply: Any) -> FactorReservation:
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


def optional_string(reply: Any) -> str | None:
    if reply is not None and not isinstance(reply, str):
        raise ValueError("expected a string or nil")
    return reply
