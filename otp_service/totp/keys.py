"""
TOTP secrets at rest: AES-256-GCM under a keyring, so keys can be rotated.

A TOTP secret cannot be hashed (the verifier needs it back), so it is encrypted instead. Each
sealed secret carries the id of its key; the first key of the ring seals, every key opens. The
associated data binds a ciphertext to its factor id: a sealed secret copied onto another factor
does not open there.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from otp_service.core.errors import StoreCorrupted
from otp_service.totp.models import RotationReport

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_AAD_PREFIX: Final = b"otp-service/totp-secret/v1\x00"
_KEY_ID_PREFIX: Final = b"otp-service/totp-key-id/v1\x00"


def key_id(key: bytes) -> str:
    """
    The id of a key: 16 hex digits of a domain-separated SHA-256 of it.

    Derived rather than chosen, so a key can never be filed under the wrong id; a one-way digest
    of a 256-bit random key reveals nothing usable about it.
    """
    return hashlib.sha256(_KEY_ID_PREFIX + key).hexdigest()[:16]


def new_key() -> bytes:
    """A fresh random key (what ``OTP_TOTP_ENCRYPTION_KEY`` holds, base64-encoded)."""
    return secrets.token_bytes(KEY_BYTES)


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """An encrypted secret: its key's id, and base64url of nonce || ciphertext || tag."""

    key_id: str
    ciphertext: str


class TotpKeyring:
    """
    The keys TOTP secrets are encrypted under; the first one is current.

    Raises:
        ValueError: no key, a key that is not 32 bytes, or the same key twice.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a TOTP keyring needs at least one key")
        if any(len(key) != KEY_BYTES for key in keys):
            raise ValueError(f"every TOTP encryption key must be {KEY_BYTES} bytes")
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        if len(self._ciphers) != len(keys):
            raise ValueError("the same TOTP encryption key is given twice")
        self.current_key_id = key_id(keys[0])

    def seal(self, factor_id: str, secret: str) -> SealedSecret:
        """Encrypt ``secret`` for the factor ``factor_id`` under the current key."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = _associated_data(factor_id, self.current_key_id)
        sealed = self._ciphers[self.current_key_id].encrypt(nonce, secret.encode("ascii"), aad)
        return SealedSecret(self.current_key_id, base64.urlsafe_b64encode(nonce + sealed).decode())

    def open(self, factor_id: str, sealed: SealedSecret) -> str:
        """
        The secret of the factor ``factor_id``.

        Raises:
            StoreCorrupted: its key is not in the ring, or the ciphertext is not this factor's.
        """
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise StoreCorrupted(
                f"a TOTP secret is encrypted under key {sealed.key_id}, which is not configured"
            )
        try:
            blob = base64.urlsafe_b64decode(sealed.ciphertext.encode("ascii"))
            plain = cipher.decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated_data(factor_id, sealed.key_id)
            )
        except (InvalidTag, ValueError) as error:
            raise StoreCorrupted("a stored TOTP secret could not be decrypted") from error
        return plain.decode("ascii")


def _associated_data(factor_id: str, kid: str) -> bytes:
    return _AAD_PREFIX + f"{factor_id}\x00{kid}".encode()


class SealedSecrets(Protocol):
    """Where sealed secrets are kept (``TotpStore``), as key rotation sees it."""

    def factor_ids(self) -> Iterable[str]:
        """Every factor id (may repeat one)."""
        ...

    def sealed_secret(self, factor_id: str) -> SealedSecret | None:
        """A factor's sealed secret, or None when it is gone."""
        ...

    def reseal(self, factor_id: str, old: SealedSecret, new: SealedSecret) -> bool:
        """Swap ``old`` for ``new`` if the factor still holds ``old``."""
        ...


def reseal_all(keyring: TotpKeyring, store: SealedSecrets) -> RotationReport:
    """
    Re-encrypt every secret in ``store`` that is not under the keyring's current key.

    A secret whose key is not in the ring is reported as unreadable, and the others still move.
    """
    resealed = current = 0
    unreadable: list[str] = []
    for factor_id in set(store.factor_ids()):
        sealed = store.sealed_secret(factor_id)
        if sealed is None:
            continue
        if sealed.key_id == keyring.current_key_id:
            current += 1
            continue
        try:
            secret = keyring.open(factor_id, sealed)
        except StoreCorrupted:
            unreadable.append(factor_id)
            continue
        # Compare-and-set: a factor deleted or re-enrolled meanwhile is left alone.
        if store.reseal(factor_id, sealed, keyring.seal(factor_id, secret)):
            resealed += 1
    return RotationReport(keyring.current_key_id, resealed, current, tuple(sorted(unreadable)))
