"""
RedactingExporter: wraps the OTLP exporter so that no span leaves the process with a
destination, a subject or a query string in its URL attributes, whoever set them and when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

#: Attributes that carry a URL, a path or a query (old and new HTTP semantic conventions).
URL_ATTRIBUTES: Final = ("http.target", "http.url", "url.full", "url.path", "url.query")
#: What is cut from them: a phone number (with or without "+", or "%2B"), an email address.
_SECRETS: Final = re.compile(r"(%2[bB]|\+)?\d{6,}|[^/?&=]+(@|%40)[^/?&=]+")


def redact(value: str) -> str:
    """``value`` with its query string dropped and every number or address masked."""
    return _SECRETS.sub("***", value.split("?", 1)[0])


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span``, its URL attributes masked (the same span when it has none)."""
    attributes = dict(span.attributes or {})
    found = [name for name in URL_ATTRIBUTES if isinstance(attributes.get(name), str)]
    if not found:
        return span
    for name in found:
        attributes[name] = redact(str(attributes[name]))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    """Exports through ``inner`` what ``redacted`` leaves of each span."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export the redacted spans."""
        return self._inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self._inner.force_flush(timeout_millis)
