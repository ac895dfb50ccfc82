"""
AuditStream: audit records appended to a capped Redis stream (``OTP_AUDIT_STREAM``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import redis

from otp_service.storage.script_store import guard

AUDIT_STREAM_KEY: Final = "{prefix}:audit"  # STREAM, MAXLEN ~ OTP_AUDIT_STREAM_MAXLEN


class AuditStream:
    """The audit stream of one key prefix, trimmed to about ``max_length`` records."""

    def __init__(self, client: redis.Redis, prefix: str, max_length: int) -> None:
        self._client = client
        self._key = AUDIT_STREAM_KEY.format(prefix=prefix)
        self._max_length = max_length

    def append(self, fields: Mapping[str, str]) -> None:
        """Append one record (approximate trimming, O(1))."""
        with guard():
            self._client.xadd(
                self._key,
                dict(fields),  # type: ignore[arg-type]
                maxlen=self._max_length,
                approximate=True,
            )
