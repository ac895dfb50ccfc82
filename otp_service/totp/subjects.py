"""
SubjectIndex: where a client's subject finds its factor.

The index key names the subject by a keyed digest (HMAC under a key derived from the pepper), so a
copy of Redis does not reveal subjects that can be guessed (email addresses, user numbers). Index
keys written before keyed digests name it by a plain SHA-256; the first lookup moves such an
index to its keyed name, and the factor's record with it.
"""

from __future__ import annotations

from typing import Final

from otp_service.core.models import Client
from otp_service.totp.models import FactorStatus
from otp_service.totp.records import SubjectEntry, legacy_subject_digest
from otp_service.totp.store import TotpStore

#: How long a moved index of an unverified factor lives (the enrolment window at most).
UNVERIFIED_INDEX_TTL_MS: Final = 900_000


class SubjectIndex:
    """Finds the factor of (client, subject), moving a legacy index on the way."""

    def __init__(self, store: TotpStore) -> None:
        self._store = store

    def key(self, client: Client, subject: str) -> str:
        """The index key of ``subject`` for ``client``."""
        return self._store.subject_key(client.name, self._store.subject_digest(subject))

    def find(self, client: Client, subject: str) -> tuple[str, SubjectEntry | None]:
        """The index key of ``subject``, and what it points at (None: no factor)."""
        key = self.key(client, subject)
        entry = self._store.subject_entry(key)
        if entry is None:
            entry = self._move_legacy(client, subject, key)
        return key, entry

    def _move_legacy(self, client: Client, subject: str, key: str) -> SubjectEntry | None:
        old_digest = legacy_subject_digest(subject)
        legacy_key = self._store.subject_key(client.name, old_digest)
        legacy = self._store.subject_entry(legacy_key)
        if legacy is None:
            return None
        ttl_ms = 0 if legacy.status is FactorStatus.VERIFIED else UNVERIFIED_INDEX_TTL_MS
        if not self._store.claim_subject(key, None, legacy, ttl_ms):
            return self._store.subject_entry(key)  # a concurrent lookup moved it first
        # The index first, then the record: a delete between the two releases the old name and
        # leaves the new one pointing at nothing, which every reader treats as no factor.
        new_digest = self._store.subject_digest(subject)
        self._store.rename_subject(legacy.factor_id, old_digest, new_digest)
        self._store.release_subject(legacy_key, legacy.factor_id)
        return legacy
