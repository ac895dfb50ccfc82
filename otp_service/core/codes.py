"""
Codes: how they are made and how they are hashed (the only module that imports ``argon2``).

Stored is ``argon2id(HMAC-SHA256(pepper, id ":" code))`` (invariant 4 of docs/architecture.md): a
Redis dump without the pepper is useless, and with it every guess still costs one argon2 operation.
A code that authorises a PSD2 transaction has it in the HMAC input too (``id ":" code ":"
binding``), so it verifies only with the same amount and payee; other hashes are unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

import argon2
from argon2 import profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from otp_service.core.errors import StoreCorrupted
from otp_service.core.transactions import Transaction

DIGITS: Final = "0123456789"
#: The head every argon2id v19 encoding starts with: not stored, put back to verify.
_ENCODING_HEAD: Final = "$argon2id$v=19$"

#: One-letter names of the parameters of the named profiles, stored instead of them
#: (``o$<salt>$<tag>``, 47 characters, not ``m=4096,t=2,p=1$<salt>$<tag>``, 60). A name stands
#: for its parameters for good: a profile whose parameters change gets a new one.
_PARAMETER_NAMES: Final = {"m=4096,t=2,p=1": "o", "m=19456,t=2,p=1": "w"}
_PARAMETERS_NAMED: Final = {name: parameters for parameters, name in _PARAMETER_NAMES.items()}

#: The named argon2 profiles (``OTP_ARGON2_PROFILE``; memory in KiB).
ARGON2_PROFILES: Final[dict[str, argon2.Parameters]] = {
    "otp": argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        # A 128-bit tag: a code has 20 bits; the pepper and argon2's cost do the work. It keeps the
        # stored hash at 60 characters, under Redis's 64 for compact (listpack) hashes.
        hash_len=16,
        time_cost=2,
        memory_cost=4096,
        parallelism=1,
    ),
    "owasp": argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        hash_len=16,
        time_cost=2,
        memory_cost=19456,
        parallelism=1,
    ),
    # Only for testing: argon2-cffi's own CHEAPEST profile.
    "test": profiles.CHEAPEST,
}


def generate_code(length: int) -> str:
    """
    A code of ``length`` decimal digits from the OS's CSPRNG.
    """
    return "".join(secrets.choice(DIGITS) for _ in range(length))


class CodeHasher:
    """
    Hashes and verifies codes with an argon2 profile over an HMAC keyed by the pepper.

    Built once per app from settings; thread-safe (argon2-cffi's ``PasswordHasher`` is).
    """

    def __init__(self, pepper: bytes, profile: str) -> None:
        self._pepper = pepper
        self._hasher = argon2.PasswordHasher.from_parameters(ARGON2_PROFILES[profile])

    def _peppered(self, scope: str, code: str, transaction: Transaction | None) -> bytes:
        # The scope (a verification or factor id) binds a hash to its record: a hash copied onto
        # another record never verifies there. A transaction binds it to an amount and a payee.
        message = f"{scope}:{code}"
        if transaction is not None:
            message += ":" + transaction.binding()
        return hmac.new(self._pepper, message.encode(), hashlib.sha256).digest()

    def hash(self, scope: str, code: str, transaction: Transaction | None = None) -> str:
        """
        The argon2 hash of ``code`` for the record ``scope``, as stored: the encoding without its
        constant ``$argon2id$v=19$`` head, its parameters by their one-letter name when they have
        one (``o$<salt>$<tag>``; else ``m=8,t=1,p=1$<salt>$<tag>``).
        """
        peppered = self._peppered(scope, code, transaction)
        encoded = self._hasher.hash(peppered).removeprefix(_ENCODING_HEAD)
        parameters, _, rest = encoded.partition("$")
        name = _PARAMETER_NAMES.get(parameters)
        return f"{name}${rest}" if name else encoded

    def verify(
        self, encoded_hash: str, scope: str, code: str, transaction: Transaction | None = None
    ) -> bool:
        """
        Whether ``code`` matches ``encoded_hash``, in constant time (argon2 compares digests so).

        Raises:
            StoreCorrupted: the stored hash cannot be parsed (a server fault, never a wrong code).
        """
        if not encoded_hash.startswith("$"):  # stored without its head, perhaps with a name
            parameters, dollar, rest = encoded_hash.partition("$")
            parameters = _PARAMETERS_NAMED.get(parameters, parameters)
            encoded_hash = _ENCODING_HEAD + parameters + dollar + rest
        try:
            return self._hasher.verify(encoded_hash, self._peppered(scope, code, transaction))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as error:
            raise StoreCorrupted("a stored code hash could not be read") from error
