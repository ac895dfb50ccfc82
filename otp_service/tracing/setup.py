"""
The tracer provider and the instrumentations: Flask, redis-py, and the outbound HTTP calls
(``requests`` for Twilio, ``urllib3`` for webhooks). The standard ``OTEL_*`` variables configure
the exporter and the resource (``OTEL_SERVICE_NAME``, default ``otp-service``).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otp_service.tracing.redaction import RedactingExporter

if TYPE_CHECKING:
    from flask import Flask

_lock = threading.Lock()
_provider: TracerProvider | None = None


def install() -> TracerProvider:
    """The process's tracer provider, made and instrumented on first call."""
    global _provider
    with _lock:
        if _provider is None:
            name = os.environ.get("OTEL_SERVICE_NAME") or "otp-service"
            provider = TracerProvider(resource=Resource.create({"service.name": name}))
            exporter = RedactingExporter(OTLPSpanExporter())
            provider.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            # redis-py's spans carry the command name only ("EVALSHA ? ? ?"): never arguments.
            RedisInstrumentor().instrument(tracer_provider=provider)
            RequestsInstrumentor().instrument(tracer_provider=provider)
            URLLib3Instrumentor().instrument(tracer_provider=provider)
            _provider = provider
        return _provider


def trace_app(app: Flask) -> None:
    """Trace ``app``'s requests (the health and metrics probes excepted)."""
    options: dict[str, Any] = {"excluded_urls": "healthz,readyz,livez,metrics"}
    FlaskInstrumentor().instrument_app(app, tracer_provider=install(), **options)  # type: ignore[no-untyped-call]


def flush(timeout_ms: int = 5000) -> bool:
    """Export what is buffered (before the process exits)."""
    return _provider.force_flush(timeout_ms) if _provider is not None else True
