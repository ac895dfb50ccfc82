"""
Tracing: off by default (no instrumentation loaded, no tracer provider); with
OTEL_EXPORTER_OTLP_ENDPOINT, a real OTLP/HTTP receiver gets the request, Redis and Twilio spans
of a flow, in one trace per request, and no attribute holds the code, the number or the API key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support import PHONE

REPO = Path(__file__).resolve().parents[2]


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP (protobuf) trace receiver on loopback that keeps every span."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Any] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.server.spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(name="receiver")
def _receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _values(span: Any) -> list[str]:
    texts = [span.name]
    for attribute in span.attributes:
        value = attribute.value
        texts.append(f"{attribute.key}={value.string_value or value.int_value or value.bool_value}")
    return texts


def test_a_flow_is_traced_and_no_span_holds_a_secret(
    receiver: Receiver, redis_url: str, prefix: str
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "OTEL_"))}
    environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    environ["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    run = subprocess.run(
        [sys.executable, "-m", "tests.tracing.traced_flow", redis_url, prefix],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == run.returncode, run.stderr
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    spans = receiver.spans
    names = {span.name for span in spans}
    assert {"POST /v1/verifications", "POST /v1/verifications/<verification_id>/check"} <= names
    assert any(name.startswith("EVALSHA") for name in names), names
    assert any(name == "POST" for name in names), names  # Twilio, through requests
    started = next(span for span in spans if span.name == "POST /v1/verifications")
    children = [span for span in spans if span.parent_span_id == started.span_id]
    assert children, "Redis and Twilio calls are children of the request's span"
    assert all(span.trace_id == started.trace_id for span in children)
    texts = [text for span in spans for text in _values(span)]
    secrets = (printed["code"], printed["key"], PHONE, PHONE[1:], "%2B" + PHONE[1:])
    leaks = [text for text in texts for secret in secrets if secret in text]
    assert [] == leaks


def test_without_the_endpoint_nothing_is_instrumented(redis_url: str, prefix: str) -> None:
    script = (
        "import sys\n"
        "from otp_service.app import create_app\n"
        "from otp_service.config.settings import Settings\n"
        f"create_app(Settings.from_env({{'OTP_ENV': 'development', 'OTP_REDIS_URL': {redis_url!r},"
        f" 'OTP_REDIS_PREFIX': {prefix!r}}}))\n"
        "from opentelemetry import trace\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.instrumentation',"
        " 'opentelemetry.exporter', 'otp_service.tracing.setup'))]\n"
        "print(sorted(loaded), type(trace.get_tracer_provider()).__name__)\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "OTEL_"))}
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == run.returncode, run.stderr
    assert "[] ProxyTracerProvider" == run.stdout.strip()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("/v1/locks/destinations/+14155550100", "/v1/locks/destinations/***"),
        ("/v1/locks/destinations/%2B14155550100", "/v1/locks/destinations/***"),
        ("/v1/locks/destinations/alice@example.com", "/v1/locks/destinations/***"),
        ("/v1/verifications/vf_ab12?to=+1415", "/v1/verifications/vf_ab12"),
        ("/2010-04-01/Accounts/AC0123/Messages.json", "/2010-04-01/Accounts/AC0123/Messages.json"),
    ],
)
def test_urls_lose_numbers_addresses_and_queries(value: str, shown: str) -> None:
    from otp_service.tracing.redaction import redact

    assert shown == redact(value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/in/s3cr3t-token?x=1", "https://hooks.example.com"),
        ("http://user:pw@127.0.0.1:8080/hook", "http://127.0.0.1:8080"),
    ],
)
def test_outbound_urls_keep_only_their_origin(url: str, shown: str) -> None:
    from otp_service.tracing.redaction import origin

    assert shown == origin(url)
