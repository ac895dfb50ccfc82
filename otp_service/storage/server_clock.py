"""
ServerClock: the host's clock set to Redis's, so every app host reads one time.

The scripts decide expiry, cooldowns and lockouts with Redis's ``TIME`` themselves; this clock
keeps the engine's own reads (is the pending verification still live? when does the cooldown
end?) on that same time, whatever the host's clock says. It measures the offset between the
host's clock and ``TIME`` at most every ``refresh_ms`` (one ``TIME`` round trip), not per read.
"""

from __future__ import annotations

import threading
from typing import Protocol

from otp_service.core.errors import StoreUnavailable
from otp_service.core.models import Clock


class TimeSource(Protocol):
    """What tells the server's time (``RedisStore``)."""

    def server_time_ms(self) -> int:
        """The server's clock, in milliseconds since the epoch."""
        ...


class ServerClock:
    """``host``'s time plus its last measured offset to ``server``'s."""

    def __init__(self, server: TimeSource, host: Clock, refresh_ms: int = 10_000) -> None:
        self._server = server
        self._host = host
        self._refresh_ms = refresh_ms
        self._offset_ms = 0
        self._measured_at_ms: int | None = None
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The server's time now, as far as the last measurement tells."""
        host_now = self._host.now_ms()
        with self._lock:
            measured_at = self._measured_at_ms
            if measured_at is None or not 0 <= host_now - measured_at < self._refresh_ms:
                self._measure(host_now)
            return host_now + self._offset_ms

    def _measure(self, host_now: int) -> None:
        try:
            self._offset_ms = self._server.server_time_ms() - host_now
        except StoreUnavailable:
            return  # keep the last offset; the request's own store calls fail closed
        self._measured_at_ms = host_now
