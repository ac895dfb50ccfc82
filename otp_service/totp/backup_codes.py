"""
Backup codes of a TOTP factor: how they look, how they are made, stored and taken.

A backup code is 10 characters of Crockford's base32 (50 bits), shown as ``xxxxx-xxxxx``. Its
length tells it apart from a TOTP code (6 or 8 digits), so both travel in the same ``code`` field.
Stored are only argon2id hashes (``CodeHasher``, scoped to the factor id), one per slot.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final

from otp_service.core.codes import CodeHasher
from otp_service.totp.store import TotpStore

#: Crockford's base32, lower case: no i, l, o or u, so nothing is misread when typed.
ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
BACKUP_CODE_COUNT: Final = 10
BACKUP_CODE_LENGTH: Final = 10
_TYPED_ALIKE: Final = str.maketrans({"i": "1", "l": "1", "o": "0", "-": None, " ": None})


def new_backup_code() -> str:
    """A fresh backup code from the OS's CSPRNG, as it is shown: ``xxxxx-xxxxx``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
    half = BACKUP_CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


def normalize_backup_code(typed: str) -> str | None:
    """
    The canonical form of a typed backup code (what is hashed), or None when it cannot be one.

    Case, dashes and spaces do not matter; ``i``/``l`` read as ``1`` and ``o`` as ``0``.
    """
    canonical = typed.lower().translate(_TYPED_ALIKE)
    if len(canonical) != BACKUP_CODE_LENGTH or any(c not in ALPHABET for c in canonical):
        return None
    return canonical


class BackupCodeBook:
    """
    Replaces and takes the backup codes of factors.

    Taking one costs one argon2 verify per unused code (at most 10), and only after the check was
    counted against the factor's failure budget, so a flood of guesses stays cheap.
    """

    def __init__(self, store: TotpStore, hasher: CodeHasher) -> None:
        self._store = store
        self._hasher = hasher

    def replace(self, factor_id: str, client: str, now_ms: int) -> tuple[str, ...] | None:
        """Ten new codes for a verified factor (the old ones stop working), or None if none."""
        codes = tuple(new_backup_code() for _ in range(BACKUP_CODE_COUNT))
        hashes = [self._hasher.hash(factor_id, _canonical(code)) for code in codes]
        if not self._store.set_backup_codes(factor_id, client, hashes, now_ms):
            return None
        return codes

    def take(
        self, factor_id: str, client: str, hashes: Mapping[str, str], code: str, now_ms: int
    ) -> str:
        """
        Use up ``code`` (canonical form): ``valid``, ``invalid`` or ``replayed`` (used already).

        Raises:
            StoreCorrupted: a stored hash cannot be read.
            StoreUnavailable: Redis failed.
        """
        for slot, code_hash in hashes.items():
            if self._hasher.verify(code_hash, factor_id, code):
                used = self._store.use_backup_code(factor_id, client, slot, code_hash, now_ms)
                return "valid" if used == "accepted" else "replayed"
        return "invalid"


def _canonical(code: str) -> str:
    canonical = normalize_backup_code(code)
    assert canonical is not None  # noqa: S101 (every generated code is canonical once normalized)
    return canonical
