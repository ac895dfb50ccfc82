"""
gunicorn's logger without its access log: the app writes one canonical JSON line per request.

gunicorn formats an access line for every request before its logger drops it (``accesslog`` off
does not stop that while a ``logconfig_dict`` is set); the benchmark found 5-10 % of a worker's
CPU on a cheap request spent there.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger


class QuietAccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's ``Logger``, with ``access()`` a no-op."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Write nothing: the app's canonical request line replaces the access log."""
