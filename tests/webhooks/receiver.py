"""
A webhook receiver on loopback: it answers with the statuses it is told (then 200), can hold a
request unanswered, and verifies every message with the ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Received:
    """One request as the receiver got it, verified."""

    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]


@dataclass
class Receiver:
    """What the receiver answers, and what it got."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    #: While set, requests are held unanswered until it is cleared (or the receiver stops).
    hold: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, headers: dict[str, str], body: bytes) -> int:
        try:
            payload = Webhook(SECRET).verify(body, headers)
        except Exception as error:  # any refusal is recorded
            with self.lock:
                self.refused.append(str(error))
            return 400
        with self.lock:
            self.received.append(Received(headers, body, payload))
            return self.statuses.pop(0) if self.statuses else 200

    def types(self) -> list[str]:
        """The ``type`` of each message received, in order."""
        with self.lock:
            return [item.payload["type"] for item in self.received]

    def wait_for(self, predicate: Any, timeout_seconds: float = 10.0) -> bool:
        """Poll until ``predicate(self)`` holds; whether it did in time."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return bool(predicate(self))


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.take(headers, body)
            if receiver.hold.is_set():
                receiver.released.wait(30)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver on a free loopback port, stopped after."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def endpoints_json(url: str, client: str = "acme", events: list[str] | None = None) -> str:
    """``OTP_WEBHOOKS`` with one endpoint."""
    from otp_service.webhooks import EVENT_TYPES

    entry = {"client": client, "url": url, "secret": SECRET, "events": events or list(EVENT_TYPES)}
    return json.dumps([entry])
