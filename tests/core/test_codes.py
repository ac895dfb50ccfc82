"""Codes: generation and the peppered argon2 hash (invariant 4 of docs/architecture.md)."""

from __future__ import annotations

import hashlib
import hmac

import argon2
import pytest

from otp_service.core.codes import ARGON2_PROFILES, CodeHasher, generate_code
from otp_service.core.errors import StoreCorrupted
from otp_service.core.transactions import Transaction


class TestGenerateCode:
    @pytest.mark.parametrize("length", [4, 6, 8, 10])
    def test_codes_have_the_requested_digits(self, length: int) -> None:
        """A code is exactly `length` ASCII digits."""
        code = generate_code(length)
        assert length == len(code)
        assert code.isascii()
        assert code.isdigit()

    def test_codes_are_not_repeated(self) -> None:
        """Codes come from a CSPRNG: 200 8-digit codes are (almost surely) distinct."""
        assert 200 == len({generate_code(8) for _ in range(200)})


class TestCodeHasher:
    def test_right_code_verifies_and_wrong_does_not(self) -> None:
        """verify() is True for the code hashed, False for any other."""
        hasher = CodeHasher(b"k" * 32, "test")
        encoded = hasher.hash("vf_1", "123456")
        assert hasher.verify(encoded, "vf_1", "123456")
        assert not hasher.verify(encoded, "vf_1", "123457")

    def test_hash_is_bound_to_its_record(self) -> None:
        """A hash copied to another record does not verify there."""
        hasher = CodeHasher(b"k" * 32, "test")
        assert not hasher.verify(hasher.hash("vf_1", "123456"), "vf_2", "123456")

    def test_hash_is_bound_to_the_pepper(self) -> None:
        """Without the pepper, the hash is useless."""
        encoded = CodeHasher(b"k" * 32, "test").hash("vf_1", "123456")
        assert not CodeHasher(b"j" * 32, "test").verify(encoded, "vf_1", "123456")

    @pytest.mark.parametrize(
        ("profile", "memory_kib", "name"), [("otp", 4096, "o"), ("owasp", 19456, "w")]
    )
    def test_named_profiles(self, profile: str, memory_kib: int, name: str) -> None:
        """The named profiles are argon2id with the design's memory and time costs; their
        parameters are stored by a one-letter name."""
        encoded = CodeHasher(b"k" * 32, profile).hash("vf_1", "123456")
        assert encoded.startswith(f"{name}$")
        assert 47 == len(encoded)
        assert 2 == ARGON2_PROFILES[profile].time_cost
        assert memory_kib == ARGON2_PROFILES[profile].memory_cost
        assert ARGON2_PROFILES[profile].type is argon2.Type.ID

    @pytest.mark.parametrize(("profile", "parameters"), [("otp", "m=4096,t=2,p=1")])
    def test_hashes_stored_before_the_names_still_verify(
        self, profile: str, parameters: str
    ) -> None:
        """``m=4096,t=2,p=1$<salt>$<tag>`` (stored before the names) verifies; so does the name."""
        hasher = CodeHasher(b"k" * 32, profile)
        named = hasher.hash("vf_1", "123456")
        spelled_out = parameters + named.removeprefix("o")
        assert hasher.verify(spelled_out, "vf_1", "123456")
        assert hasher.verify(named, "vf_1", "123456")
        assert not hasher.verify(spelled_out, "vf_1", "654321")

    @pytest.mark.parametrize("profile", ["otp", "owasp"])
    def test_stored_hash_fits_a_compact_redis_hash(self, profile: str) -> None:
        """At most 64 characters, so Redis keeps a verification as a listpack (memory)."""
        assert len(CodeHasher(b"k" * 32, profile).hash("vf_1", "123456")) <= 64

    def test_full_encodings_still_verify(self) -> None:
        """A hash stored with its $argon2id$v=19$ head (before the compact form) verifies."""
        hasher = CodeHasher(b"k" * 32, "test")
        full = "$argon2id$v=19$" + hasher.hash("vf_1", "123456")  # no name: m=8,t=1,p=1
        assert hasher.verify(full, "vf_1", "123456")

    def test_corrupted_hash_is_a_server_fault(self) -> None:
        """An unreadable stored hash raises StoreCorrupted, never 'wrong code'."""
        with pytest.raises(StoreCorrupted):
            CodeHasher(b"k" * 32, "test").verify("not-a-hash", "vf_1", "123456")


class TestTransactionBinding:
    """PSD2 dynamic linking: a transaction's amount and payee are bound into the hash."""

    TRANSACTION = Transaction("€42.50", "Acme Ltd")

    def test_the_same_transaction_verifies(self) -> None:
        """The code with its amount and payee verifies."""
        hasher = CodeHasher(b"k" * 32, "test")
        encoded = hasher.hash("vf_1", "123456", self.TRANSACTION)
        assert hasher.verify(encoded, "vf_1", "123456", Transaction("€42.50", "Acme Ltd"))

    @pytest.mark.parametrize(
        "presented",
        [None, Transaction("€42.51", "Acme Ltd"), Transaction("€42.50", "Acme Ltd.")],
        ids=["none", "amount", "payee"],
    )
    def test_another_transaction_does_not(self, presented: Transaction | None) -> None:
        """Without it, or with another amount or payee, the right code does not verify."""
        hasher = CodeHasher(b"k" * 32, "test")
        encoded = hasher.hash("vf_1", "123456", self.TRANSACTION)
        assert not hasher.verify(encoded, "vf_1", "123456", presented)

    def test_a_plain_code_does_not_verify_with_a_transaction(self) -> None:
        """A code sent without a transaction cannot be used to authorise one."""
        hasher = CodeHasher(b"k" * 32, "test")
        assert not hasher.verify(hasher.hash("vf_1", "123456"), "vf_1", "123456", self.TRANSACTION)

    def test_hashes_without_a_transaction_are_unchanged(self) -> None:
        """A plain code's hash is argon2 of HMAC(pepper, id:code), as before: stored ones verify."""
        pepper = b"k" * 32
        message = hmac.new(pepper, b"vf_1:123456", hashlib.sha256).digest()
        stored = argon2.PasswordHasher.from_parameters(ARGON2_PROFILES["test"]).hash(message)
        assert CodeHasher(pepper, "test").verify(stored, "vf_1", "123456")

    def test_the_binding_is_unambiguous(self) -> None:
        """Separators inside the amount or payee cannot make two transactions bind alike."""
        assert Transaction('1","2', "3").binding() != Transaction("1", '2","3').binding()
