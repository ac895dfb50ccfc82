"""
A recording stand-in for Twilio's REST API on the loopback, for the real ``twilio`` client.

It keeps every request (so tests read what a person would receive), answers like Twilio's
Messages API, answers a scripted Twilio error when told to, or forwards to an upstream (Prism)
so a request is both recorded and validated against Twilio's OpenAPI document.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import LOOPBACK

_FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept", "User-Agent")

#: The test account (the SID and service SID have the shapes Twilio's OpenAPI document requires).
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+15005550006"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the double received it."""

    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str

    def field(self, name: str) -> str | None:
        """The (first) value of one form field, or None."""
        values = self.form.get(name)
        return values[0] if values else None


def twilio_error(status: int, code: int, message: str = "Twilio says no") -> dict[str, Any]:
    """An error body in the shape Twilio's REST API sends."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def sign_callback(auth_token: str, url: str, params: dict[str, str]) -> str:
    """``X-Twilio-Signature`` as Twilio computes it: HMAC-SHA1 of the URL and sorted params."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _message(path: str, form: dict[str, list[str]]) -> dict[str, Any]:
    def first(name: str) -> str | None:
        return form.get(name, [None])[0]

    account_sid = path.split("/")[3] if path.count("/") >= 4 else None
    return {
        "sid": "SM" + secrets.token_hex(16),
        "account_sid": account_sid,
        "to": first("To"),
        "from": first("From"),
        "messaging_service_sid": first("MessagingServiceSid"),
        "body": first("Body"),
        "status": "accepted" if first("MessagingServiceSid") else "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        double = self.server.double
        form = parse_qs(raw.decode(), keep_blank_values=True)
        path = urlsplit(self.path).path
        double.record(RecordedRequest("POST", path, form, self.headers.get("Authorization", "")))
        to = (form.get("To") or [""])[0]
        if double.reply is not None and to.startswith(double.reply_to_prefix):
            self._answer(*double.reply)
        elif double.upstream is not None:
            self._answer(*self._forward(double.upstream, raw))
        else:
            self._answer(201, json.dumps(_message(path, form)).encode())

    def _forward(self, upstream: str, raw: bytes) -> tuple[int, bytes]:
        target = urlsplit(upstream)
        connection = http.client.HTTPConnection(
            target.hostname or LOOPBACK, target.port, timeout=30
        )
        try:
            headers = {
                name: self.headers[name] for name in _FORWARDED_HEADERS if name in self.headers
            }
            connection.request("POST", self.path, body=raw, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""


class _Server(ThreadingHTTPServer):
    double: TwilioDouble
    #: A gunicorn's threads all send at once when Redis comes back after an outage: with the
    #: default backlog of 5 the kernel drops their connections and Twilio looks unreachable.
    request_queue_size = 128


class TwilioDouble:
    """
    A loopback HTTP server speaking enough of Twilio's REST API for the real client.

    Args:
        upstream: forward each request there (e.g. Prism) after recording it.
    """

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.requests: list[RecordedRequest] = []
        self.reply: tuple[int, bytes] | None = None
        #: Only requests whose ``To`` starts with this get ``reply`` ('' : every request).
        self.reply_to_prefix = ""
        self._lock = threading.Lock()
        self._server = _Server((LOOPBACK, 0), _Handler)
        self._server.double = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL to give the client (``OTP_TWILIO_API_BASE``)."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def record(self, request: RecordedRequest) -> None:
        """Keep one request (called by the handler threads)."""
        with self._lock:
            self.requests.append(request)

    def fail_with(
        self, status: int, code: int, message: str = "Twilio says no", *, to_prefix: str = ""
    ) -> None:
        """Answer every request (to ``To`` starting with ``to_prefix``) with this Twilio error."""
        self.reply_to_prefix = to_prefix
        self.answer_with(status, json.dumps(twilio_error(status, code, message)).encode())

    def answer_with(self, status: int, body: bytes) -> None:
        """Answer every request from now on with this status and body."""
        self.reply = (status, body)

    def messages_to(self, to: str) -> list[RecordedRequest]:
        """The Messages API requests addressed to ``to``, oldest first."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.path.endswith("/Messages.json") and request.field("To") == to
            ]

    def __enter__(self) -> TwilioDouble:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
