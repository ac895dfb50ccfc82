"""
Load shedding: a request that waited in the server's queue longer than ``OTP_MAX_QUEUE_MS`` is
answered ``503 overloaded`` with ``Retry-After`` before any Redis or argon2 work.

Under more load than the workers can serve, gunicorn queues accepted connections until a thread
is free, and every request's latency grows until clients time out and retry, which adds load.
nginx stamps each request with its arrival time (``X-Request-Start: t=<seconds>``, overwriting any
client's); a request that waited too long is refused at once, so the queue drains and the requests
that are served are served in time. Without the header (no nginx in front) nothing is shed. The
health probes are never shed.
"""

from __future__ import annotations

import re
import time
from typing import Final

from flask import Flask, request

from otp_service.core.errors import Overloaded
from otp_service.web.context import services

HEADER: Final = "X-Request-Start"
NEVER_SHED: Final = frozenset({"/livez", "/readyz", "/metrics"})
_STAMP: Final = re.compile(r"t=([0-9]{9,11}(?:\.[0-9]{1,6})?)")


def waited_ms(stamp: str, now: float) -> float | None:
    """How long ago nginx's ``t=<seconds>`` stamp was taken, in ms; None if it is not one."""
    match = _STAMP.fullmatch(stamp.strip())
    return None if match is None else (now - float(match[1])) * 1000


def _shed_if_waited_too_long() -> None:
    limit_ms = services().settings.max_queue_ms
    stamp = request.headers.get(HEADER)
    if not limit_ms or stamp is None or request.path in NEVER_SHED:
        return
    waited = waited_ms(stamp, time.time())
    if waited is not None and waited > limit_ms:
        raise Overloaded(f"The request waited {waited / 1000:.1f} s in the server's queue.")


def register_load_shedding(app: Flask) -> None:
    """Shed requests that waited too long (after the request id and log hooks)."""
    app.before_request(_shed_if_waited_too_long)
