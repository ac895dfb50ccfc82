"""
The size of a new verification hash (format 2): what is implied is left out and read back by
every reader, and a pending verification with its index fits the allocations measured for it.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import cast

import pytest
import redis

from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Status, Verification, destination_digest
from otp_service.verify.store import RedisStore
from tests.support import NAME_KEY, PHONE, Api, FakeClock

VERIFICATION_ID = "vf_" + "5c" * 16


def _fields(redis_client: redis.Redis, key: str) -> dict[str, str]:
    return cast(dict[str, str], redis_client.hgetall(key))


class TestImpliedFields:
    def test_implied_fields_are_left_out_and_read_back_by_every_reader(
        self, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        """No checks yet, one send, English, no wrong codes before, 5 checks and 5 sends allowed:
        none stored, all read."""
        store = RedisStore(redis_client, prefix, name_key=NAME_KEY)
        now = clock.now_ms()
        new = Verification(
            id=VERIFICATION_ID, client="acme", channel=Channel.SMS, to=PHONE, status=Status.PENDING,
            attempts=0, max_attempts=5, sends=1, max_sends=5, created_ms=now,
            expires_ms=now + 600_000, next_send_ms=now + 30_000,
        )  # fmt: skip
        assert store.create(new, "hash", 900_000)
        key = f"{prefix}:vf:{{{VERIFICATION_ID}}}"
        assert not {"a", "A", "d", "D", "l", "f", "u"} & set(_fields(redis_client, key))
        assert replace(new, updated_ms=now) == store.load(VERIFICATION_ID)
        reserved = store.reserve_attempt(VERIFICATION_ID, "acme", now)
        assert (1, 0, 1) == (reserved.attempts, reserved.dest_failures, reserved.sends)
        resent = store.resend(
            VERIFICATION_ID, "acme", now + 30_000, "hash 2", cooldown_ms=30_000, ttl_ms=600_000,
            grace_ms=0,
        )  # fmt: skip
        assert resent.verification is not None
        assert (2, 1, "en") == (
            resent.verification.sends, resent.verification.attempts, resent.verification.locale
        )  # fmt: skip
        store.lock(VERIFICATION_ID, now + 30_000)
        locked = store.load(VERIFICATION_ID)
        assert locked is not None
        assert (5, 5) == (locked.attempts, locked.max_attempts)

    def test_a_record_holds_what_is_not_implied(
        self, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        store = RedisStore(redis_client, prefix, name_key=NAME_KEY)
        now = clock.now_ms()
        new = Verification(
            id=VERIFICATION_ID, client="acme", channel=Channel.SMS, to=PHONE, status=Status.PENDING,
            attempts=0, max_attempts=5, sends=1, max_sends=5, created_ms=now,
            expires_ms=now + 600_000, next_send_ms=now + 30_000, locale="pt-BR", dest_failures=2,
        )  # fmt: skip
        new = replace(new, max_attempts=3, max_sends=6)  # a client's own policy
        assert store.create(new, "hash", 900_000)
        fields = _fields(redis_client, f"{prefix}:vf:{{{VERIFICATION_ID}}}")
        assert ("pt-BR", "2", "3", "6") == (fields["l"], fields["f"], fields["A"], fields["D"])
        assert replace(new, updated_ms=now) == store.load(VERIFICATION_ID)
        store.lock(VERIFICATION_ID, now)
        assert "3" == _fields(redis_client, f"{prefix}:vf:{{{VERIFICATION_ID}}}")["a"]


class TestMemoryUsage:
    """What a pending verification costs Redis, on production-sized key names and argon2 hashes."""

    @pytest.fixture(name="prefix")
    def _prefix(self) -> str:
        return "m" + secrets.token_hex(1)  # as long as the default prefix, "otp"

    @pytest.fixture(name="settings")
    def _settings(self, settings: Settings) -> Settings:
        return replace(settings, argon2_profile="otp")  # the stored hash's production length

    def test_a_pending_verification_and_its_index_take_at_most_368_bytes(
        self, api: Api, redis_client: redis.Redis, prefix: str
    ) -> None:
        assert 3 == len(prefix)
        verification_id, _ = api.started()
        key = f"{prefix}:vf:{{{verification_id}}}"
        index = f"{prefix}:dest:{{acme:sms:{destination_digest(PHONE, NAME_KEY)}}}"
        assert "listpack" == redis_client.object("encoding", key)
        sizes = [cast(int, redis_client.memory_usage(name, samples=0)) for name in (key, index)]
        assert sum(sizes) <= 368, sizes  # the 160-byte listpack allocation, not the 192
