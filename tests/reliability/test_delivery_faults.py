"""
The SMS and email providers break on purpose, through gunicorn: refusing connections, accepting
and never answering, answering 5xx. Each start is a 502 within the delivery timeout, the
verification is ``failed``, and the worker is free for the next request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import requests

from otp_service.storage.embedded_redis import free_port
from otp_service.web.problems import PROBLEM_MEDIA_TYPE
from tests.gunicorn_server import running_gunicorn
from tests.reliability.support import (
    BEARER,
    DELIVERY_TIMEOUT_SECONDS,
    SLACK_SECONDS,
    FaultyRedis,
    faulty_environ,
    new_phone,
    smtp_environ,
    twilio_environ,
)
from tests.servers import LOOPBACK
from tests.servers.silent import SilentServer
from tests.servers.smtp import Mailbox, SmtpServer
from tests.servers.twilio_double import TwilioDouble

pytestmark = pytest.mark.gunicorn
FAULTS = ("refusing", "hanging", "answering-5xx")
#: One delivery timeout, and what scheduling on a loaded machine may add.
BOUND_SECONDS = DELIVERY_TIMEOUT_SECONDS + SLACK_SECONDS


@dataclass(frozen=True)
class Providers:
    """Where the service sends SMS (a Twilio API base URL) and email (an SMTP port)."""

    twilio_api_base: str
    smtp_port: int


def _providers(fault: str, stack: ExitStack) -> Providers:
    """Servers that fail in the way ``fault`` names; closed with ``stack``."""
    if fault == "refusing":
        return Providers(f"http://{LOOPBACK}:{free_port()}", free_port())
    if fault == "hanging":
        silent = stack.enter_context(SilentServer(hold_seconds=30))
        return Providers(silent.url, silent.port)
    twilio = stack.enter_context(TwilioDouble())
    twilio.fail_with(503, 20503, "Service unavailable")
    mailbox = Mailbox()
    mailbox.data_reply = "554 5.3.0 Mail system failure"
    smtp = stack.enter_context(SmtpServer(mailbox))
    return Providers(twilio.url, smtp.port)


@pytest.fixture(name="base", scope="module", params=FAULTS)
def _base(request: pytest.FixtureRequest) -> Iterator[str]:
    """gunicorn (1 worker, 2 threads) whose Twilio and SMTP servers fail as the param says."""
    with ExitStack() as stack:
        redis_server = stack.enter_context(FaultyRedis())
        providers = _providers(request.param, stack)
        environ = faulty_environ(
            redis_server.url,
            "dl" + secrets.token_hex(4),
            **twilio_environ(providers.twilio_api_base),
            **smtp_environ(providers.smtp_port),
        )
        yield stack.enter_context(running_gunicorn(environ, workers=1, threads=2))


def start(base: str, channel: str) -> tuple[float, requests.Response]:
    """Start a verification to a fresh destination; the seconds it took, and the response."""
    to = new_phone() if channel == "sms" else f"user{secrets.token_hex(4)}@example.com"
    began = time.monotonic()
    response = requests.post(
        f"{base}/v1/verifications",
        json={"to": to, "channel": channel},
        headers=BEARER,
        timeout=30,
    )
    return time.monotonic() - began, response


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_start_is_a_502_within_the_delivery_timeout(base: str, channel: str) -> None:
    """The start fails as a 502 delivery-failed problem, no later than the delivery timeout."""
    elapsed, response = start(base, channel)
    assert (502, PROBLEM_MEDIA_TYPE, "/problems/delivery-failed") == (
        response.status_code,
        response.headers["Content-Type"],
        response.json()["type"],
    )
    assert elapsed <= BOUND_SECONDS


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_verification_is_failed(base: str, channel: str) -> None:
    """The verification the problem names reads as ``failed``, and cannot be checked."""
    _, response = start(base, channel)
    verification_id = response.json()["verification_id"]
    shown = requests.get(f"{base}/v1/verifications/{verification_id}", headers=BEARER, timeout=5)
    checked = requests.post(
        f"{base}/v1/verifications/{verification_id}/check",
        json={"code": "123456"},
        headers=BEARER,
        timeout=5,
    )
    assert ("failed", 404) == (shown.json()["status"], checked.status_code)


def test_worker_is_free_again(base: str) -> None:
    """Four failing starts on two threads take two delivery timeouts; then a request is
    served at once."""
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [r.status_code for _, r in pool.map(start, [base] * 4, ["sms", "email"] * 2)]
    assert [502] * 4 == statuses
    assert time.monotonic() - began <= 2 * DELIVERY_TIMEOUT_SECONDS + 2 * SLACK_SECONDS
    began = time.monotonic()
    assert 200 == requests.get(f"{base}/readyz", timeout=5).status_code
    assert time.monotonic() - began <= SLACK_SECONDS
