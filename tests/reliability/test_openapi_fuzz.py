"""
schemathesis against the served ``/openapi.json``: every operation, authenticated, with data that
fits the document and (for bodies) data that does not. No answer is a 5xx, and every answer is
one the document describes: status, content type, headers and body.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from otp_service import create_app
from otp_service.config.clients import TwilioVerifyAccount
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from tests.gunicorn_server import running_gunicorn
from tests.reliability.support import faulty_environ
from tests.support import KEYS, CapturingSender

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Operation]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fuzz-auth-token-0123456789abcdef"
SERVICE_SID = "VA" + "a1" * 16
TWILIO_ACCOUNT = {
    "account_sid": ACCOUNT_SID,
    "auth_token_sha256": hashlib.sha256(AUTH_TOKEN.encode()).hexdigest(),
    "services": {SERVICE_SID: "acme"},
}
CREDENTIALS = {
    "apiKey": {"Authorization": f"Bearer {KEYS['acme']}"},
    "twilioAccount": {
        "Authorization": "Basic "
        + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    },
}


def credentials(operation: Operation) -> dict[str, str]:
    """The headers that authenticate ``operation`` as its document says (none if public)."""
    for requirement in operation.definition.raw.get("security") or []:
        for scheme in requirement:
            if scheme in CREDENTIALS:
                return CREDENTIALS[scheme]
    return {}


def fuzz_operation(
    operation: Operation,
    mode: GenerationMode,
    max_examples: int,
    base_url: str | None,
) -> None:
    """Call ``operation`` with ``max_examples`` cases of ``mode``; raise on the first failure."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        # Data shaped by a schema is slower to generate, and filtered more, than data from
        # hand-written strategies: that is not what this test is about.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def call(case: Case) -> None:
        case.call_and_validate(base_url=base_url, headers=credentials(operation), checks=CHECKS)

    call()


def fuzz(schema: OpenApiSchema, max_examples: int, base_url: str | None = None) -> dict[str, str]:
    """
    Run every operation of ``schema`` with ``max_examples`` cases that fit the document, and as
    many that do not for operations that take a body; the failures, by mode and operation.
    """
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures[f"document {result.err()}"] = "an operation of the document is invalid"
            continue
        operation = result.ok()
        modes = [GenerationMode.POSITIVE]
        if "requestBody" in operation.definition.raw:
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                fuzz_operation(operation, mode, max_examples, base_url)
            except Exception as failure:  # collected: every operation runs, whatever fails
                failures[f"{mode.value} {operation.label}"] = str(failure)[:2000]
    return failures


@pytest.fixture(name="fuzzed_app")
def _fuzzed_app(settings: Settings, redis_client: redis.Redis) -> Flask:
    """The development app on the session Redis, with a Twilio Verify account for /v2."""
    sender = CapturingSender()
    account = TwilioVerifyAccount(
        ACCOUNT_SID, str(TWILIO_ACCOUNT["auth_token_sha256"]), {SERVICE_SID: "acme"}
    )
    fuzzed = dataclasses.replace(settings, twilio_verify_accounts=(account,))
    return create_app(fuzzed, senders={Channel.SMS: sender, Channel.EMAIL: sender})


# schemathesis's in-process WSGI transport never closes a response, so a streamed file (a /docs
# asset) is closed by the garbage collector, whenever it runs: during this test or not. Servers
# close their responses (test_every_operation_conforms_deeply runs gunicorn).
@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io\.FileIO name='.*swagger-ui:"
    "pytest.PytestUnraisableExceptionWarning"
)
def test_every_operation_conforms_quickly(fuzzed_app: Flask) -> None:
    """Quick profile, in process: 20 cases per operation and mode; no 5xx, all as documented."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    assert {} == fuzz(schema, max_examples=20)


@pytest.fixture(name="served", scope="module")
def _served(redis_url: str) -> Iterator[str]:
    """gunicorn serving the development app, with a Twilio Verify account for /v2."""
    prefix = "fz" + secrets.token_hex(4)
    environ = faulty_environ(
        redis_url, prefix, OTP_TWILIO_VERIFY_ACCOUNTS=json.dumps([TWILIO_ACCOUNT])
    )
    try:
        with running_gunicorn(environ, workers=2, threads=4) as base:
            yield base
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.mark.slow
@pytest.mark.gunicorn
def test_every_operation_conforms_deeply(served: str) -> None:
    """Deep profile, over real HTTP: 100 cases per operation and mode; no 5xx, all as
    documented."""
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    assert {} == fuzz(schema, max_examples=100, base_url=served)
