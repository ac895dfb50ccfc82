"""
The verification hash's two formats: format 2 (one-letter fields, what the service writes) is a
small listpack; format 1 (full names, written before) is still read, checked, resent, canceled,
given a delivery status, marked failed, fallen back, locked and approved without a code until it
expires, and so is an index holding a full id (the sizes: ``test_record_size``).
"""

from __future__ import annotations

from typing import cast

import redis

from otp_service.core.codes import CodeHasher
from otp_service.core.models import Channel, Status, Verification, destination_digest
from otp_service.verify.records import FIELD_CODES
from otp_service.verify.store import RedisStore, id_of_index, index_value
from tests.support import NAME_KEY, PEPPER, PHONE, Api, FakeClock, auth

OLD_ID = "vf_" + "4b" * 16
OLD_CODE = "246810"


def _write_format_1(
    redis_client: redis.Redis, prefix: str, clock: FakeClock, verification_id: str = OLD_ID
) -> None:
    """A pending verification as the service wrote it before format 2, and its index."""
    now = clock.now_ms()
    code_hash = CodeHasher(PEPPER, "test").hash(verification_id, OLD_CODE)
    key = f"{prefix}:vf:{{{verification_id}}}"
    redis_client.hset(
        key,
        mapping={
            "client": "acme",
            "channel": "sms",
            "to": PHONE,
            "code_hash": code_hash,
            "status": "pending",
            "attempts": 0,
            "max_attempts": 5,
            "sends": 1,
            "max_sends": 5,
            "created_ms": now,
            "expires_ms": now + 600_000,
            "next_send_ms": now + 30_000,
            "updated_ms": now,
            "locale": "en",
            "dest_failures": 0,
        },
    )
    redis_client.pexpire(key, 900_000)
    index = f"{prefix}:dest:{{acme:sms:{destination_digest(PHONE, NAME_KEY)}}}"
    redis_client.set(index, verification_id, px=600_000)


def _fields(redis_client: redis.Redis, key: str) -> dict[str, str]:
    return cast(dict[str, str], redis_client.hgetall(key))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


class TestFormat1:
    def test_it_is_shown_and_checked(
        self, api: Api, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        """GET shows it; a wrong code counts, the right one approves, by id and by number."""
        _write_format_1(redis_client, prefix, clock)
        shown = api.http.get(f"/v1/verifications/{OLD_ID}", headers=auth()).get_json()
        assert ("pending", 5) == (shown["status"], shown["attempts_remaining"])
        wrong = api.check(OLD_ID, _wrong(OLD_CODE)).get_json()
        assert (False, 4) == (wrong["valid"], wrong["attempts_remaining"])
        by_number = api.http.post(
            "/v1/verification-checks", json={"to": PHONE, "code": OLD_CODE}, headers=auth()
        )
        assert (True, "approved") == (by_number.get_json()["valid"], by_number.get_json()["status"])
        assert "status" in _fields(redis_client, f"{prefix}:vf:{{{OLD_ID}}}")  # still format 1

    def test_it_is_resent_and_the_new_code_approves(
        self, api: Api, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        """A start for its number resends it (same id); its index now holds the short form."""
        _write_format_1(redis_client, prefix, clock)
        clock.advance(31)
        resent = api.start(PHONE)
        assert (200, OLD_ID) == (resent.status_code, resent.get_json()["id"])
        new_code = api.sender.last_code(PHONE)
        assert not api.check(OLD_ID, OLD_CODE).get_json()["valid"]
        assert api.check(OLD_ID, new_code).get_json()["valid"]
        index = f"{prefix}:dest:{{acme:sms:{destination_digest(PHONE, NAME_KEY)}}}"
        assert index_value(OLD_ID) == redis_client.get(index)

    def test_it_is_canceled_and_given_a_delivery_status(
        self, api: Api, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        """A delivery receipt is recorded in its own field names; a cancel ends it."""
        _write_format_1(redis_client, prefix, clock)
        store = RedisStore(redis_client, prefix, name_key=NAME_KEY)
        assert store.record_delivery(OLD_ID, "delivered")
        fields = _fields(redis_client, f"{prefix}:vf:{{{OLD_ID}}}")
        assert ("delivered", False) == (fields["delivery_status"], "y" in fields)
        canceled = api.http.post(f"/v1/verifications/{OLD_ID}/cancel", headers=auth())
        assert "canceled" == canceled.get_json()["status"]

    def test_a_stale_index_holding_a_full_id_is_replaced(
        self, api: Api, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        """An index left by a verification that is gone gives way to a new one."""
        _write_format_1(redis_client, prefix, clock)
        redis_client.delete(f"{prefix}:vf:{{{OLD_ID}}}")
        started = api.start(PHONE)
        assert 201 == started.status_code
        assert OLD_ID != started.get_json()["id"]


class TestFormat2:
    def test_a_new_verification_is_a_small_listpack(
        self, api: Api, redis_client: redis.Redis, prefix: str
    ) -> None:
        """One-letter fields, nothing implied stored, the index holding 22 characters."""
        verification_id, _ = api.started()
        key = f"{prefix}:vf:{{{verification_id}}}"
        fields = _fields(redis_client, key)
        assert {"k", "h", "t", "x", "s", "c", "e", "n", "y"} == set(fields)
        assert "listpack" == redis_client.object("encoding", key)
        index = f"{prefix}:dest:{{acme:sms:{destination_digest(PHONE, NAME_KEY)}}}"
        assert verification_id == id_of_index(str(redis_client.get(index)))
        assert 22 == len(str(redis_client.get(index)))

    def test_index_values_read_back(self) -> None:
        """A 22-character value is the id's 128 bits; a full id (written before) reads as is."""
        assert OLD_ID == id_of_index(index_value(OLD_ID))
        assert OLD_ID == id_of_index(OLD_ID)
        assert "VEsomething" == index_value("VEsomething")


class TestFormat1Scripts:
    """The scripts the API tests above do not reach, each on a format-1 record: it keeps its full
    field names (no one-letter field appears) and behaves as a format-2 record would."""

    @staticmethod
    def _store(redis_client: redis.Redis, prefix: str, clock: FakeClock) -> RedisStore:
        _write_format_1(redis_client, prefix, clock)
        return RedisStore(redis_client, prefix, name_key=NAME_KEY)

    @staticmethod
    def _assert_format_1(redis_client: redis.Redis, prefix: str) -> dict[str, str]:
        fields = _fields(redis_client, f"{prefix}:vf:{{{OLD_ID}}}")
        assert not set(fields) & set(FIELD_CODES.values()), fields
        return fields

    def test_a_refused_send_is_marked_failed_and_falls_back(
        self, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        store = self._store(redis_client, prefix, clock)
        old = store.load(OLD_ID)
        assert old is not None
        assert Status.PENDING == old.status
        old_hash = self._assert_format_1(redis_client, prefix)["code_hash"]
        store.mark_failed(OLD_ID, old_hash, clock.now_ms())
        failed = store.load(OLD_ID)
        assert failed is not None
        assert Status.FAILED == failed.status
        reopened = store.fall_back(
            failed,
            old_hash,
            Channel.VOICE,
            "new-hash",
            clock.now_ms(),
            ttl_ms=600_000,
            grace_ms=60_000,
            rest=(Channel.EMAIL,),
        )
        assert isinstance(reopened, Verification)
        assert (Status.PENDING, Channel.VOICE, 2, "sms") == (
            reopened.status,
            reopened.channel,
            reopened.sends,
            reopened.first_channel,
        )
        assert (Channel.EMAIL,) == reopened.fallback_channels
        assert "new-hash" == self._assert_format_1(redis_client, prefix)["code_hash"]

    def test_an_undelivered_send_falls_back_and_a_timer_too(
        self, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        store = self._store(redis_client, prefix, clock)
        assert store.record_delivery(OLD_ID, "undelivered")
        pending = store.load(OLD_ID)
        assert pending is not None
        assert "undelivered" == pending.delivery_status
        reopened = store.fall_back(
            pending, "", Channel.VOICE, "second", clock.now_ms(), ttl_ms=600_000, grace_ms=0
        )
        assert isinstance(reopened, Verification)
        assert 2 == reopened.sends
        timed = store.fall_back(
            reopened,
            "",
            Channel.EMAIL,
            "third",
            clock.now_ms(),
            ttl_ms=600_000,
            grace_ms=0,
            after_sends=2,
        )
        assert isinstance(timed, Verification)
        assert (3, Channel.EMAIL, None) == (timed.sends, timed.channel, timed.delivery_status)
        self._assert_format_1(redis_client, prefix)

    def test_a_lock_uses_up_its_checks(
        self, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        store = self._store(redis_client, prefix, clock)
        store.lock(OLD_ID, clock.now_ms())
        assert "locked" == store.reserve_attempt(OLD_ID, "acme", clock.now_ms()).outcome
        assert "5" == self._assert_format_1(redis_client, prefix)["attempts"]

    def test_it_is_approved_without_a_code_and_by_a_checked_hash(
        self, redis_client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        store = self._store(redis_client, prefix, clock)
        reserved = store.reserve_attempt(OLD_ID, "acme", clock.now_ms())
        assert ("ok", 1, PHONE, "sms") == (
            reserved.outcome,
            reserved.attempts,
            reserved.to,
            reserved.channel,
        )
        assert "stale" == store.approve(OLD_ID, "another hash", clock.now_ms())
        assert store.approve_without_code(OLD_ID, "other", clock.now_ms()) is None
        approved = store.approve_without_code(OLD_ID, "acme", clock.now_ms())
        assert approved is not None
        assert Status.APPROVED == approved.status
        assert "gone" == store.approve(OLD_ID, reserved.code_hash, clock.now_ms())
        assert "approved" == self._assert_format_1(redis_client, prefix)["status"]
