"""
Concurrency through real HTTP against gunicorn (invariants 1-3 of docs/architecture.md, under load).
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
import redis
import requests

from otp_service.verify.records import named_fields
from tests.gunicorn_server import running_gunicorn, service_environ
from tests.support import KEYS, key_sha256

pytestmark = pytest.mark.gunicorn

CLIENTS: list[dict[str, object]] = [
    {
        "name": "acme",
        "key_sha256": key_sha256(KEYS["acme"]),
        "scopes": ["verifications:start", "verifications:check"],
    },
    {
        "name": "bulk",
        "key_sha256": key_sha256(KEYS["globex"]),
        "scopes": ["verifications:start", "verifications:check"],
        "policy": {"max_attempts": 100, "resend_cooldown_seconds": 0, "max_sends": 100},
    },
]
CLIENTS.append(
    {
        "name": "limited",
        "key_sha256": key_sha256(KEYS["starter"]),
        "scopes": ["verifications:start"],
        "policy": {"client_starts": "3/minute"},
    }
)
ACME = {"Authorization": f"Bearer {KEYS['acme']}"}
LIMITED = {"Authorization": f"Bearer {KEYS['starter']}"}
BULK = {"Authorization": f"Bearer {KEYS['globex']}"}


@pytest.fixture(name="service", scope="module")
def _service(redis_url: str) -> Iterator[tuple[str, str]]:
    prefix = "g" + secrets.token_hex(6)
    # The resend race sends up to 20 wrong checks of the old code to one destination: more than
    # the default failure window (10/hour), whose lockout would use up the new code's checks too.
    environ = {
        **service_environ(redis_url, prefix, CLIENTS),
        "OTP_LIMIT_DESTINATION_FAILURES": "1000/hour",
    }
    with running_gunicorn(environ) as base:
        yield base, prefix
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _phone() -> str:
    return f"+1415555{secrets.randbelow(10_000):04d}"


def _start(base: str, headers: dict[str, str], to: str) -> dict[str, Any]:
    response = requests.post(
        f"{base}/v1/verifications", json={"to": to, "channel": "sms"}, headers=headers, timeout=10
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _code(redis_url: str, prefix: str, verification_id: str) -> str:
    """The newest code the dev sender 'delivered' for a verification (from the dev outbox)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for raw in client.lrange(f"{prefix}:dev:outbox", 0, -1):  # type: ignore[union-attr]
            message = json.loads(raw)
            if message["verification_id"] == verification_id:
                return str(message["text"].split()[0])
    finally:
        client.close()
    raise AssertionError(f"no message for {verification_id}")


def _check(
    base: str, headers: dict[str, str], verification_id: str, code: str
) -> requests.Response:
    return requests.post(
        f"{base}/v1/verifications/{verification_id}/check",
        json={"code": code},
        headers=headers,
        timeout=30,
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_full_flow_over_http(service: tuple[str, str], redis_url: str) -> None:
    """Start, read the code from the dev outbox, check: approved, through gunicorn."""
    base, prefix = service
    started = _start(base, ACME, _phone())
    response = _check(base, ACME, started["id"], _code(redis_url, prefix, started["id"]))
    assert {"status": "approved", "valid": True} == {
        k: response.json()[k] for k in ("status", "valid")
    }
    assert response.headers["X-Request-ID"]


def test_concurrent_wrong_checks_never_exceed_max_attempts(
    service: tuple[str, str], redis_url: str
) -> None:
    """200 concurrent wrong checks: exactly max_attempts (5) are evaluated, the rest are 429."""
    base, prefix = service
    started = _start(base, ACME, _phone())
    wrong = _wrong(_code(redis_url, prefix, started["id"]))
    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(lambda _: _check(base, ACME, started["id"], wrong), range(200)))
    statuses = Counter(response.status_code for response in responses)
    assert {200: 5, 429: 195} == dict(statuses)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stored = named_fields(cast(dict[str, str], client.hgetall(f"{prefix}:vf:{{{started['id']}}}")))
    assert "5" == stored["attempts"]
    client.close()


def test_concurrent_right_checks_approve_exactly_once(
    service: tuple[str, str], redis_url: str
) -> None:
    """50 concurrent checks with the right code: exactly one is approved."""
    base, prefix = service
    started = _start(base, BULK, _phone())
    code = _code(redis_url, prefix, started["id"])
    barrier = threading.Barrier(50)

    def check(_: int) -> requests.Response:
        barrier.wait(timeout=10)
        return _check(base, BULK, started["id"], code)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(check, range(50)))
    approved = [r for r in responses if r.status_code == 200 and r.json()["valid"]]
    assert 1 == len(approved)
    assert {200, 404} >= {r.status_code for r in responses}


def test_resend_during_checks_never_lets_the_old_code_pass(
    service: tuple[str, str], redis_url: str
) -> None:
    """A resend racing checks of the old code: once the resend took effect, the old code fails."""
    base, prefix = service
    for _ in range(8):
        to = _phone()
        started = _start(base, BULK, to)
        old_code = _code(redis_url, prefix, started["id"])
        barrier = threading.Barrier(21)

        def check(
            _: int,
            verification_id: str = started["id"],
            code: str = old_code,
            barrier: threading.Barrier = barrier,
        ) -> Any:
            barrier.wait(timeout=10)
            return _check(base, BULK, verification_id, code)

        def resend(to: str = to, barrier: threading.Barrier = barrier) -> requests.Response:
            barrier.wait(timeout=10)
            return requests.post(
                f"{base}/v1/verifications",
                json={"to": to, "channel": "sms"},
                headers=BULK,
                timeout=10,
            )

        with ThreadPoolExecutor(max_workers=21) as pool:
            resent_future = pool.submit(resend)
            checks = list(pool.map(check, range(20)))
        resent = resent_future.result()
        old_approvals = sum(1 for r in checks if r.status_code == 200 and r.json()["valid"])
        assert old_approvals <= 1
        if resent.status_code == 200 and resent.json()["id"] == started["id"]:
            # The resend swapped the code while it was pending: no old-code check approved it.
            assert 0 == old_approvals
            new_code = _code(redis_url, prefix, started["id"])
            if new_code != old_code:
                assert _check(base, BULK, started["id"], new_code).json()["valid"]
        else:
            # An old-code check won before the swap; the resend then started a new verification.
            assert 1 == old_approvals
            assert 201 == resent.status_code


def test_workers_share_the_rate_limits(service: tuple[str, str]) -> None:
    """Limits live in Redis: 8 starts on fresh connections to 2 workers, 3 allowed in all."""
    base, _ = service

    def start(n: int) -> int:
        with requests.Session() as session:  # a new connection: either worker may answer
            return session.post(
                f"{base}/v1/verifications",
                json={"to": f"+1415555{9000 + n:04d}", "channel": "sms"},
                headers=LIMITED,
                timeout=10,
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(pool.map(start, range(8)))
    assert {201: 3, 429: 5} == dict(statuses)


def test_oversized_chunked_body_is_413(service: tuple[str, str]) -> None:
    """A chunked body over 16 KiB (no Content-Length) is refused with a 413 problem."""
    base, _ = service
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    body = (b" " * 1024 for _ in range(40))
    connection.request(
        "POST",
        "/v1/verifications",
        body=body,
        headers={**ACME, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert 413 == response.status, response.read()
    assert "application/problem+json" == response.getheader("Content-Type")
    response.read()
    connection.close()


def test_small_chunked_body_is_read(service: tuple[str, str]) -> None:
    """A chunked JSON body within the limit is read like any other (not silently empty)."""
    base, _ = service
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    payload = json.dumps({"to": _phone(), "channel": "sms"}).encode()
    connection.request(
        "POST",
        "/v1/verifications",
        body=iter([payload[:10], payload[10:]]),
        headers={**ACME, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert 201 == response.status, response.read()
    response.read()
    connection.close()
