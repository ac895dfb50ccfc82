"""
Test helpers shared by every test module: API keys, a fake clock, a capturing sender, an API driver.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from otp_service.core.errors import DeliveryFailed
from otp_service.core.models import Channel, OutboundMessage, Receipt, Scope, key_name_key

PEPPER = b"test-pepper-0123456789-abcdefghijklmnop"
NAME_KEY = key_name_key(PEPPER)
KEYS = {
    "acme": "acme-key-0123456789abcdef0123456789abcdef",
    "globex": "globex-key-0123456789abcdef0123456789abcd",
    "starter": "starter-key-0123456789abcdef0123456789ab",
    "checker": "checker-key-0123456789abcdef0123456789ab",
}
SCOPES = {
    "acme": list(Scope),
    "globex": list(Scope),
    "starter": [Scope.START],
    "checker": [Scope.CHECK],
}
PHONE = "+14155550100"
EMAIL = "alice@example.com"


def key_sha256(key: str) -> str:
    """The SHA-256 hex of an API key, as ``OTP_API_KEYS`` stores it."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_keys_json() -> list[dict[str, Any]]:
    """The ``OTP_API_KEYS`` document of the test clients."""
    return [
        {"name": name, "key_sha256": key_sha256(key), "scopes": [s.value for s in SCOPES[name]]}
        for name, key in KEYS.items()
    ]


def problem_of(response: Any, status: int, slug: str) -> dict[str, Any]:
    """The problem+json body of ``response``, asserting its status and problem type."""
    assert (status, "application/problem+json") == (response.status_code, response.mimetype), (
        response.get_data(as_text=True)
    )
    body: dict[str, Any] = response.get_json()
    assert f"/problems/{slug}" == body["type"]
    return body


def auth(client: str = "acme") -> dict[str, str]:
    """The Authorization header of a test client."""
    return {"Authorization": f"Bearer {KEYS[client]}"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start_ms: int = 1_800_000_000_000) -> None:
        self.ms = start_ms

    def now_ms(self) -> int:
        """The current fake time."""
        return self.ms

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.ms += int(seconds * 1000)


@dataclass
class CapturingSender:
    """A real ``Sender`` that keeps what it is given; it can be told to fail."""

    provider: str = "capture"
    sent: list[OutboundMessage] = field(default_factory=list)
    failure: DeliveryFailed | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutboundMessage) -> Receipt:
        """Keep ``message``, or raise the configured failure."""
        if self.failure is not None:
            raise self.failure
        with self._lock:
            self.sent.append(message)
        return Receipt(self.provider, f"msg-{len(self.sent)}", "sent")

    def last_code(self, to: str) -> str:
        """The code in the newest message to ``to``."""
        for message in reversed(self.sent):
            if message.to == to:
                return code_in(message.text)
        raise AssertionError(f"nothing was sent to {to}")


def code_in(text: str) -> str:
    """The first run of digits in a message text (the code leads every shipped template)."""
    import re

    match = re.search(r"\b(\d{4,10})\b", text)
    if match is None:  # a voice script says the code digit by digit: "1, 2, 3, 4, 5, 6"
        match = re.search(r"\b(\d(?:, \d){3,9})\b", text)
    assert match is not None, text
    return match.group(1).replace(", ", "")


@dataclass
class Api:
    """Drives the HTTP API through Flask's test client."""

    http: FlaskClient
    sender: CapturingSender

    def start(
        self,
        to: str = PHONE,
        channel: Channel | str = Channel.SMS,
        client: str = "acme",
        **extra: Any,
    ) -> Any:
        """POST /v1/verifications."""
        body = {"to": to, "channel": str(channel), **extra}
        return self.http.post("/v1/verifications", json=body, headers=auth(client))

    def check(self, verification_id: str, code: str, client: str = "acme") -> Any:
        """POST /v1/verifications/{id}/check."""
        return self.http.post(
            f"/v1/verifications/{verification_id}/check", json={"code": code}, headers=auth(client)
        )

    def started(self, to: str = PHONE, channel: Channel | str = Channel.SMS) -> tuple[str, str]:
        """Start a verification that must succeed; its id and the code that was sent."""
        response = self.start(to, channel)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"], self.sender.last_code(to)
