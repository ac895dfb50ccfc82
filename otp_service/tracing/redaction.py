"""
RedactingExporter: wraps the OTLP exporter so that no span leaves the process with a
destination, a subject or a query string in its URL attributes, whoever set them and when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

#: Attributes that carry a path or a query (old and new HTTP semantic conventions).
URL_ATTRIBUTES: Final = ("http.target", "url.path", "url.query")
#: Attributes that carry a whole URL: an outbound call's, whose path may hold a receiver's token
#: (a webhook URL); only its scheme and host are kept.
FULL_URL_ATTRIBUTES: Final = ("http.url", "url.full")
#: What is cut from them: a phone number (with or without "+", or "%2B"), an email address.
_SECRETS: Final = re.compile(r"(%2[bB]|\+)?\d{6,}|[^/?&=]+(@|%40)[^/?&=]+")


def redact(value: str) -> str:
    """``value`` with its query string dropped and every number or address masked."""
    return _SECRETS.sub("***", value.split("?", 1)[0])


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, without credentials, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def redacted(span: ReadableSpan) -> ReadableSpan:
    """
    ``span``, its URL attributes masked and its events (exception messages, which may quote a
    request) dropped.
    """
    attributes = dict(span.attributes or {})
    paths = [name for name in URL_ATTRIBUTES if isinstance(attributes.get(name), str)]
    urls = [name for name in FULL_URL_ATTRIBUTES if isinstance(attributes.get(name), str)]
    if not (paths or urls or span.events):
        return span
    for name in paths:
        attributes[name] = redact(str(attributes[name]))
    for name in urls:
        attributes[name] = origin(str(attributes[name]))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=(),
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
