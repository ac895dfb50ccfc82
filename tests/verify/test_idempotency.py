"""
Idempotent starts (issue 23, part 1) over real HTTP: ``Idempotency-Key`` with Stripe's semantics.
"""

from __future__ import annotations

import time
import uuid
from typing import cast

import redis

from otp_service.core.errors import DeliveryFailed
from otp_service.verify import IdempotencyStore
from otp_service.verify.idempotency import RETENTION, fingerprint
from otp_service.verify.idempotency_store import Retention
from otp_service.web.verify.schemas import StartVerificationRequest
from tests.live_http import LiveApi
from tests.support import NAME_KEY, PHONE, FakeClock


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


class TestReplay:
    def test_same_key_and_body_get_the_first_answer_and_send_nothing(self, live: LiveApi) -> None:
        """A retry answers the first status and body again, marked replayed; one SMS in all."""
        key = _key()
        first = live.start(headers=key)
        again = live.start(headers=key)
        assert (201, 201) == (first.status_code, again.status_code)
        assert first.json() == again.json()
        assert (None, "true") == (
            first.headers.get("Idempotent-Replayed"),
            again.headers.get("Idempotent-Replayed"),
        )
        assert 1 == len(live.sender.sent)

    def test_a_retry_after_the_cooldown_still_sends_nothing(
        self, live: LiveApi, clock: FakeClock
    ) -> None:
        """Without the key this would be a resend (a second SMS); with it, the first answer."""
        key = _key()
        first = live.start(headers=key)
        clock.advance(31)
        assert first.json() == live.start(headers=key).json()
        assert 1 == len(live.sender.sent)
        assert 200 == live.start().status_code  # the control: no key, a resend
        assert 2 == len(live.sender.sent)

    def test_another_body_is_422(self, live: LiveApi) -> None:
        """The same key with another body is refused, and nothing is sent for it."""
        key = _key()
        live.start(headers=key)
        response = live.start("+14155550101", headers=key)
        assert 422 == response.status_code
        assert "/problems/idempotency-key-reused" == response.json()["type"]
        assert 1 == len(live.sender.sent)

    def test_keys_are_per_client(self, live: LiveApi) -> None:
        """Another client's same key is another key: its own verification, its own SMS."""
        key = _key()
        first = live.start(headers=key).json()
        other = live.start(headers=key, client="globex")
        assert 201 == other.status_code
        assert first["id"] != other.json()["id"]
        assert 2 == len(live.sender.sent)

    def test_without_a_key_nothing_changes(self, live: LiveApi) -> None:
        """No header: each start is worked out (the second one resends)."""
        assert (201, 429) == (live.start().status_code, live.start().status_code)


class TestFailures:
    def test_a_failed_start_releases_the_key(self, live: LiveApi) -> None:
        """An error is not kept: the retry runs again and sends."""
        key = _key()
        live.sender.failure = DeliveryFailed("provider down", retryable=True)
        assert 502 == live.start(headers=key).status_code
        live.sender.failure = None
        retried = live.start(headers=key)
        assert (201, None) == (retried.status_code, retried.headers.get("Idempotent-Replayed"))
        assert 1 == len(live.sender.sent)

    def test_a_key_in_progress_is_409_with_retry_after(
        self, live: LiveApi, redis_client: redis.Redis, prefix: str
    ) -> None:
        """Another request holds the key: wait briefly, then 409 with Retry-After, nothing sent."""
        key = _key()
        keys = IdempotencyStore(redis_client, prefix, name_key=NAME_KEY, retention=RETENTION)
        body = StartVerificationRequest.model_validate({"to": PHONE, "channel": "sms"})
        claim = keys.begin(
            "acme", key["Idempotency-Key"], fingerprint(body.model_dump_json()), "other", 0
        )
        assert "claimed" == claim.state
        started = time.monotonic()
        response = live.start(headers=key)
        assert (409, "1") == (response.status_code, response.headers["Retry-After"])
        assert "/problems/idempotency-conflict" == response.json()["type"]
        assert 1.5 < time.monotonic() - started < 5
        assert [] == live.sender.sent

    def test_malformed_keys_are_422(self, live: LiveApi) -> None:
        """Empty, too long or not visible ASCII: a validation problem naming the header."""
        for raw in ("", "x" * 256, "two words"):
            response = live.start(headers={"Idempotency-Key": raw})
            assert 422 == response.status_code, raw
            assert "Idempotency-Key" == response.json()["errors"][0]["field"]
        assert [] == live.sender.sent


class TestStorage:
    def test_keys_are_stored_hashed_for_24_hours(
        self, live: LiveApi, redis_client: redis.Redis, prefix: str
    ) -> None:
        """Neither key names nor values hold the key as sent; the answer lives 24 hours."""
        raw = "order-4711-" + uuid.uuid4().hex
        live.start(headers={"Idempotency-Key": raw})
        names = list(redis_client.scan_iter(match=f"{prefix}:idem:*"))
        assert 2 == len(names)
        entry = next(name for name in names if redis_client.type(name) == "hash")
        fields = cast(dict[str, str], redis_client.hgetall(entry))
        assert all(raw not in value for value in fields.values())
        assert all(raw not in name for name in names)
        assert 86_000_000 < cast(int, redis_client.pttl(entry)) <= 86_400_000

    def test_memory_is_bounded_per_client(self, redis_client: redis.Redis, prefix: str) -> None:
        """Past the cap, the oldest keys of a client are forgotten, hashes and index alike."""
        store = IdempotencyStore(
            redis_client, prefix, name_key=NAME_KEY, retention=Retention(60_000, 86_400_000, 3)
        )
        for number in range(5):
            assert "claimed" == store.begin("acme", f"k{number}", "fp", "t", 1_000 + number).state
        assert 3 == redis_client.zcard(f"{prefix}:idem:{{acme}}")
        assert 3 == len(list(redis_client.scan_iter(match=f"{prefix}:idem:{{acme}}:*")))
        assert "claimed" == store.begin("acme", "k0", "fp", "t", 2_000).state  # forgotten
        assert "running" == store.begin("acme", "k4", "fp", "t", 2_000).state  # kept
