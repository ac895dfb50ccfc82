"""
Optional OpenTelemetry tracing: off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; then spans of
every request, Redis command and outbound HTTP call go to that OTLP/HTTP collector, with no
code, destination, subject or key in any attribute.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``OTEL_EXPORTER_OTLP_ENDPOINT`` asks for tracing."""
    return bool(environ.get(ENDPOINT_VARIABLE, "").strip())


def start_tracing(app: Flask | None = None) -> bool:
    """
    Install tracing in this process (once), and trace ``app``'s requests; False, importing
    nothing of OpenTelemetry, when it is off.
    """
    if not tracing_enabled():
        return False
    from otp_service.tracing.setup import install, trace_app

    install()
    if app is not None:
        trace_app(app)
    return True


__all__ = ["ENDPOINT_VARIABLE", "start_tracing", "tracing_enabled"]
