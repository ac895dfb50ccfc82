"""
Idempotent starts under concurrency, through a real gunicorn (2 workers, 16 threads each): many
requests with one ``Idempotency-Key`` at once, exactly one does the work and one SMS goes out.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest
import redis
import requests

from tests.gunicorn_server import running_gunicorn, service_environ
from tests.support import KEYS, api_keys_json

pytestmark = pytest.mark.gunicorn
CONCURRENT = 24
ACME = {"Authorization": f"Bearer {KEYS['acme']}"}


@pytest.fixture(name="service", scope="module")
def _service(redis_url: str) -> Iterator[tuple[str, str]]:
    prefix = "i" + secrets.token_hex(6)
    with running_gunicorn(service_environ(redis_url, prefix, api_keys_json())) as base:
        yield base, prefix
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _sent_to(redis_url: str, prefix: str, to: str) -> int:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        outbox = cast(list[str], client.lrange(f"{prefix}:dev:outbox", 0, -1))
    finally:
        client.close()
    return sum(1 for raw in outbox if json.loads(raw)["to"] == to)


def _race(base: str, to: str, key: str) -> list[requests.Response]:
    barrier = threading.Barrier(CONCURRENT)

    def start() -> requests.Response:
        barrier.wait()
        headers = {**ACME, "Idempotency-Key": key}
        body = {"to": to, "channel": "sms"}
        return requests.post(f"{base}/v1/verifications", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(lambda _: start(), range(CONCURRENT)))


def test_concurrent_starts_with_one_key_send_one_code(
    service: tuple[str, str], redis_url: str
) -> None:
    """One worked answer, the others its replay (or 409 + Retry-After); one SMS in all."""
    base, prefix = service
    to = f"+1415555{secrets.randbelow(10_000):04d}"
    key = str(uuid.uuid4())
    responses = _race(base, to, key)
    worked = [
        r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    busy = [r for r in responses if r.status_code == 409]
    assert 1 == len(worked), [r.status_code for r in responses]
    assert CONCURRENT == len(worked) + len(replayed) + len(busy)
    assert replayed, "the others wait for the first answer (2 s) before a 409"
    assert all(r.json() == worked[0].json() and r.status_code == 201 for r in replayed)
    assert all(r.headers["Retry-After"] == "1" for r in busy)
    assert 1 == _sent_to(redis_url, prefix, to)
    # Later retries, on whichever worker, get the same answer.
    assert worked[0].json() == _race(base, to, key)[0].json()
    assert 1 == _sent_to(redis_url, prefix, to)
