"""TOTP secrets at rest: AES-GCM keyring, Redis dumps, key rotation (service and CLI), settings."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import cast

import pytest
import redis

from otp_service.cli import main
from otp_service.config.settings import ConfigError, Settings
from otp_service.core.errors import StoreCorrupted
from otp_service.totp.keys import SealedSecret, TotpKeyring, key_id, reseal_all
from tests.support import FakeClock, api_keys_json
from tests.totp.totp_support import KEY_1, KEY_2, SUBJECT, TotpRig, code_at, totp_client

CLIENT = totp_client()


@pytest.fixture(name="rig")
def _rig(redis_client: redis.Redis, prefix: str, clock: FakeClock) -> TotpRig:
    return TotpRig(redis_client, prefix, clock)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


class TestKeyring:
    def test_a_sealed_secret_opens_under_its_factor(self) -> None:
        """Seal then open gives the secret back, under the current key's id."""
        keyring = TotpKeyring([KEY_1])
        sealed = keyring.seal("tf_1", "JBSWY3DPEHPK3PXP")
        assert (key_id(KEY_1), "JBSWY3DPEHPK3PXP") == (
            sealed.key_id,
            keyring.open("tf_1", sealed),
        )

    def test_a_sealed_secret_does_not_open_under_another_factor(self) -> None:
        """The factor id is associated data: a ciphertext moved to another factor fails."""
        keyring = TotpKeyring([KEY_1])
        sealed = keyring.seal("tf_1", "JBSWY3DPEHPK3PXP")
        with pytest.raises(StoreCorrupted):
            keyring.open("tf_2", sealed)

    def test_a_key_id_that_is_not_configured_is_reported(self) -> None:
        """A secret under a key that left the ring names that key in the error."""
        sealed = TotpKeyring([KEY_2]).seal("tf_1", "JBSWY3DPEHPK3PXP")
        with pytest.raises(StoreCorrupted, match=key_id(KEY_2)):
            TotpKeyring([KEY_1]).open("tf_1", sealed)

    def test_a_tampered_ciphertext_is_refused(self) -> None:
        """Flipping one byte of the ciphertext fails authentication."""
        keyring = TotpKeyring([KEY_1])
        sealed = keyring.seal("tf_1", "JBSWY3DPEHPK3PXP")
        blob = bytearray(base64.urlsafe_b64decode(sealed.ciphertext))
        blob[-1] ^= 1
        tampered = SealedSecret(sealed.key_id, base64.urlsafe_b64encode(bytes(blob)).decode())
        with pytest.raises(StoreCorrupted):
            keyring.open("tf_1", tampered)

    @pytest.mark.parametrize("keys", [[], [b"short"], [KEY_1, KEY_1]])
    def test_a_bad_ring_is_refused(self, keys: list[bytes]) -> None:
        """No key, a key of the wrong size, or the same key twice."""
        with pytest.raises(ValueError, match="key"):
            TotpKeyring(keys)


class TestAtRest:
    def test_a_redis_dump_holds_no_secret(self, rig: TotpRig, redis_url: str, prefix: str) -> None:
        """Neither the base32 secrets nor their bytes appear in any key, value or DUMP."""
        service = rig.service()
        secrets = [rig.enrolled(service, CLIENT, f"user-{n}").secret for n in range(3)]
        secrets.append(service.enroll(CLIENT, "pending-user").secret)
        raw = redis.Redis.from_url(redis_url)
        blobs = []
        for key in raw.scan_iter(match=f"{prefix}:*"):
            blobs += [key, raw.dump(key) or b""]
            if raw.type(key) == b"hash":
                fields = cast(dict[bytes, bytes], raw.hgetall(key))
                blobs += [item for pair in fields.items() for item in pair]
            else:
                blobs.append(raw.get(key) or b"")
        raw.close()
        dump = b"\n".join(blobs)
        assert 8 <= len(blobs)
        for secret in secrets:
            secret_bytes = base64.b32decode(secret)
            forms = [secret.encode(), secret.lower().encode(), secret_bytes]
            forms += [base64.b64encode(secret_bytes), binascii.hexlify(secret_bytes)]
            assert [] == [form for form in forms if form in dump]

    def test_a_ciphertext_copied_onto_another_factor_is_refused(
        self, rig: TotpRig, redis_client: redis.Redis
    ) -> None:
        """Swapping sealed secrets between factors in Redis makes checks fail loudly."""
        service = rig.service()
        alice = rig.enrolled(service, CLIENT, "alice")
        bob = rig.enrolled(service, CLIENT, "bob")
        key = rig.store.factor_key(alice.factor.id)
        fields = cast(list[str], redis_client.hmget(key, ["key_id", "secret"]))
        redis_client.hset(
            rig.store.factor_key(bob.factor.id),
            mapping={"key_id": fields[0], "secret": fields[1]},
        )
        rig.next_step()
        with pytest.raises(StoreCorrupted):
            service.check(CLIENT, "bob", code_at(alice.secret, rig.clock.ms))


class TestRotation:
    def test_rotation_keeps_every_factor_working(self, rig: TotpRig) -> None:
        """Factors sealed under the old key all check valid under the new key alone."""
        old = rig.service(keys=(KEY_1,))
        secrets = {f"user-{n}": rig.enrolled(old, CLIENT, f"user-{n}").secret for n in range(3)}
        pending = old.enroll(CLIENT, "pending-user")
        report = reseal_all(TotpKeyring([KEY_2, KEY_1]), rig.store)
        assert (key_id(KEY_2), 4, 0, ()) == (
            report.key_id,
            report.resealed,
            report.already_current,
            report.unreadable,
        )
        new = rig.service(keys=(KEY_2,))
        rig.next_step()
        results = [
            new.check(CLIENT, s, code_at(secret, rig.clock.ms)) for s, secret in secrets.items()
        ]
        assert [True] * 3 == results
        code = code_at(pending.secret, rig.clock.ms)
        assert "verified" == new.activate(CLIENT, pending.factor.id, code).status

    def test_rotation_twice_changes_nothing_the_second_time(self, rig: TotpRig) -> None:
        """A second run finds every secret already under the current key."""
        rig.enrolled(rig.service(keys=(KEY_1,)), CLIENT)
        ring = TotpKeyring([KEY_2, KEY_1])
        reseal_all(ring, rig.store)
        report = reseal_all(ring, rig.store)
        assert (0, 1) == (report.resealed, report.already_current)

    def test_without_the_old_key_factors_are_reported_unreadable(self, rig: TotpRig) -> None:
        """A ring missing a factor's key leaves it alone and names it."""
        factor_id = rig.enrolled(rig.service(keys=(KEY_1,)), CLIENT).factor.id
        report = reseal_all(TotpKeyring([KEY_2]), rig.store)
        assert (0, (factor_id,)) == (report.resealed, report.unreadable)

    def test_the_cli_rotates_every_factor(
        self,
        rig: TotpRig,
        redis_url: str,
        prefix: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """`otp-service keys rotate-totp` re-encrypts under the first key of the ring."""
        secret = rig.enrolled(rig.service(keys=(KEY_1,)), CLIENT).secret
        monkeypatch.setenv("OTP_ENV", "development")
        monkeypatch.setenv("OTP_REDIS_URL", redis_url)
        monkeypatch.setenv("OTP_REDIS_PREFIX", prefix)
        monkeypatch.setenv("OTP_TOTP_ENCRYPTION_KEYS", f"{_b64(KEY_2)},{_b64(KEY_1)}")
        assert 0 == main(["keys", "rotate-totp"])
        assert f"under key {key_id(KEY_2)}: 1 re-encrypted" in capsys.readouterr().out
        rig.next_step()
        assert rig.service(keys=(KEY_2,)).check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))

    def test_the_cli_refuses_to_rotate_without_a_configured_key(
        self, redis_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without OTP_TOTP_ENCRYPTION_KEY(S) it would seal under a random dev key: it stops."""
        monkeypatch.setenv("OTP_ENV", "development")
        monkeypatch.setenv("OTP_REDIS_URL", redis_url)
        assert 1 == main(["keys", "rotate-totp"])


class TestSettings:
    def _settings(self, **environ: str) -> Settings:
        return Settings.from_env(
            {"OTP_ENV": "development", "OTP_REDIS_URL": "redis://x", **environ}
        )

    def test_one_key(self) -> None:
        """OTP_TOTP_ENCRYPTION_KEY holds one base64 key."""
        settings = self._settings(OTP_TOTP_ENCRYPTION_KEY=_b64(KEY_1))
        assert (KEY_1,) == settings.totp_encryption_keys

    def test_a_ring_of_keys_current_first(self) -> None:
        """OTP_TOTP_ENCRYPTION_KEYS holds comma-separated keys, the current one first."""
        settings = self._settings(OTP_TOTP_ENCRYPTION_KEYS=f"{_b64(KEY_2)}, {_b64(KEY_1)}")
        assert (KEY_2, KEY_1) == settings.totp_encryption_keys

    def test_keys_can_come_from_a_file(self, tmp_path: Path) -> None:
        """OTP_TOTP_ENCRYPTION_KEY_FILE names a file holding the key."""
        path = tmp_path / "totp-key"
        path.write_text(_b64(KEY_1) + "\n")
        assert (KEY_1,) == self._settings(
            OTP_TOTP_ENCRYPTION_KEY_FILE=str(path)
        ).totp_encryption_keys

    def test_development_makes_a_random_key(self) -> None:
        """Without a key, development gets one random 32-byte key."""
        assert [32] == [len(key) for key in self._settings().totp_encryption_keys]

    @pytest.mark.parametrize(
        ("environ", "problem"),
        [
            ({"OTP_TOTP_ENCRYPTION_KEY": "not base64!"}, "key 1 is not the base64 of 32 bytes"),
            ({"OTP_TOTP_ENCRYPTION_KEY": _b64(b"x" * 16)}, "key 1 is not the base64 of 32 bytes"),
            ({"OTP_TOTP_ENCRYPTION_KEYS": f"{_b64(KEY_1)},{_b64(KEY_1)}"}, "same key twice"),
            (
                {"OTP_TOTP_ENCRYPTION_KEY": _b64(KEY_1), "OTP_TOTP_ENCRYPTION_KEYS": _b64(KEY_2)},
                "not both",
            ),
        ],
    )
    def test_bad_keys_are_reported(self, environ: dict[str, str], problem: str) -> None:
        """Malformed, short, repeated or doubly configured keys are configuration errors."""
        with pytest.raises(ConfigError, match=problem):
            self._settings(**environ)

    def test_production_needs_a_key_when_a_client_has_the_totp_scope(self) -> None:
        """Production refuses to start without a key if any API key may use TOTP."""
        environ = {"OTP_ENV": "production", "OTP_API_KEYS": json.dumps(api_keys_json())}
        with pytest.raises(ConfigError, match="OTP_TOTP_ENCRYPTION_KEY missing"):
            Settings.from_env(environ)

    def test_production_needs_no_key_when_no_client_has_the_totp_scope(self) -> None:
        """Without the totp scope anywhere, TOTP is unused and needs no key."""
        keys = [entry for entry in api_keys_json() if "totp" not in entry["scopes"]]
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({"OTP_ENV": "production", "OTP_API_KEYS": json.dumps(keys)})
        assert [] == [p for p in raised.value.problems if "TOTP" in p]

    def test_the_keys_never_appear_in_the_repr(self) -> None:
        """Settings' repr redacts the TOTP keys."""
        text = repr(self._settings(OTP_TOTP_ENCRYPTION_KEY=_b64(KEY_1)))
        assert "totp_encryption_keys=<redacted>" in text
        assert _b64(KEY_1) not in text
        assert repr(KEY_1) not in text
