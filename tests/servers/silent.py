"""
A TCP server that accepts connections and never says a word: for read timeouts.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from tests.servers import LOOPBACK


class SilentServer:
    """
    Accepts every connection and holds it open, unanswered.

    Args:
        hold_seconds: then it hangs up, so a client without a timeout fails the test (by taking
            too long) instead of hanging it.
    """

    def __init__(self, hold_seconds: float = 10.0) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self._hold_seconds = hold_seconds
        self._held: list[tuple[float, socket.socket]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)
        self.port: int = self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            self._hang_up(older_than=time.monotonic() - self._hold_seconds)
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append((time.monotonic(), connection))

    def _hang_up(self, older_than: float) -> None:
        for accepted_at, connection in list(self._held):
            if accepted_at <= older_than:
                connection.close()
                self._held.remove((accepted_at, connection))

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._hang_up(older_than=float("inf"))
        self._listener.close()
